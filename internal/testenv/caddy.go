package testenv

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// Caddy is a throwaway Caddy on a loopback port, started by StartCaddy.
type Caddy struct {
	// Addr is "127.0.0.1:PORT", where the configuration listens.
	Addr string
	// URL is "http://127.0.0.1:PORT".
	URL string
	// Dir holds the Caddyfile, Caddy's log and its data and config
	// directories.
	Dir string

	d daemon
}

// CaddyConfig is what StartCaddy runs.
type CaddyConfig struct {
	// Sites returns the Caddyfile's site blocks for the address Caddy must
	// listen on, e.g. "127.0.0.1:41234" (write it as http://ADDR).
	// StartCaddy adds the global options: no admin endpoint, no automatic
	// HTTPS.
	Sites func(listen string) string
}

// caddyStartTimeout bounds how long Caddy may take to start listening.
const caddyStartTimeout = 15 * time.Second

// StartCaddy writes a Caddyfile around cfg.Sites in a temporary directory,
// starts Caddy (`caddy run`) on a free 127.0.0.1 port and waits until it
// accepts connections. The Caddyfile is checked first (caddy validate); a
// bad one fails the test with Caddy's message. Caddy is stopped in
// t.Cleanup. When caddy is not installed (apt-get install caddy) the test
// is skipped (failed with CI=true).
func StartCaddy(t testing.TB, cfg CaddyConfig) *Caddy {
	t.Helper()
	bin, err := exec.LookPath("caddy")
	if err != nil {
		redisSkipOrFail(t, "caddy not installed (apt-get install caddy): SKIPPING")
		return nil
	}
	dir := t.TempDir()
	// Caddy keeps its state under XDG_DATA_HOME and XDG_CONFIG_HOME.
	env := append(os.Environ(), "HOME="+dir, "XDG_DATA_HOME="+filepath.Join(dir, "data"), "XDG_CONFIG_HOME="+filepath.Join(dir, "config"))
	var lastErr error
	for range 8 {
		c := &Caddy{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(redisFreePort(t))), Dir: dir}
		c.URL = "http://" + c.Addr
		conf := filepath.Join(dir, "Caddyfile")
		body := "{\n\tadmin off\n\tauto_https off\n}\n" + cfg.Sites(c.Addr)
		if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
			t.Fatalf("testenv: write Caddyfile: %v", err)
		}
		check := exec.Command(bin, "validate", "--config", conf, "--adapter", "caddyfile")
		check.Env = env
		if out, err := check.CombinedOutput(); err != nil {
			t.Fatalf("testenv: caddy validate: %v\n%s\n--- Caddyfile ---\n%s", err, out, body)
		}
		cmd := exec.Command(bin, "run", "--config", conf, "--adapter", "caddyfile", "--pidfile", filepath.Join(dir, "caddy.pid"))
		cmd.Env = env
		err := c.d.start(cmd, dir, filepath.Join(dir, "caddy.pid"), c.Addr, caddyStartTimeout)
		if err == nil {
			t.Cleanup(func() { c.d.stop(syscall.SIGTERM) })
			return c
		}
		lastErr = fmt.Errorf("%w: %s", err, c.Log())
		if !errors.Is(err, errDaemonExited) {
			break
		}
		// Most likely the port was taken between redisFreePort and bind.
	}
	t.Fatalf("testenv: start caddy: %v", lastErr)
	return nil
}

// Log returns the end of Caddy's log, for failure messages.
func (c *Caddy) Log() string { return tailLogs(c.Dir, "stderr.log") }
