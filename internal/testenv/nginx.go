package testenv

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Nginx is a throwaway nginx on a loopback port, started by StartNginx.
type Nginx struct {
	// Addr is "127.0.0.1:PORT", where the configuration listens.
	Addr string
	// URL is "http://127.0.0.1:PORT".
	URL string
	// Dir holds nginx.conf, the logs and the temporary files.
	Dir string

	d daemon
}

// NginxConfig is what StartNginx runs.
type NginxConfig struct {
	// HTTP returns the body of the http { } block (upstreams, servers,
	// ...) for the address nginx must listen on, e.g. "127.0.0.1:41234".
	// StartNginx adds the temporary paths, logs and pid file itself.
	HTTP func(listen string) string
	// Workers, when positive, runs a master process with that many worker
	// processes (for benchmarks). Zero, the default, runs one process
	// (master_process off), which the kernel kills with the test binary.
	Workers int
	// AccessLog writes access.log in Dir; off by default.
	AccessLog bool
}

// nginxStartTimeout bounds how long nginx may take to start listening.
const nginxStartTimeout = 15 * time.Second

// nginxBin returns the path of the nginx binary (Debian installs it in
// /usr/sbin, which a non-root PATH may lack), or skips or fails the test.
func nginxBin(t testing.TB) string {
	t.Helper()
	if p, err := exec.LookPath("nginx"); err == nil {
		return p
	}
	for _, p := range []string{"/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/local/nginx/sbin/nginx"} {
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p
		}
	}
	redisSkipOrFail(t, "nginx not installed (apt-get install nginx): SKIPPING")
	return ""
}

// StartNginx writes an nginx.conf around cfg.HTTP in a temporary
// directory, starts nginx on a free 127.0.0.1 port and waits until it
// accepts connections. The configuration is checked first (nginx -t); a
// bad one fails the test with nginx's message. nginx is stopped in
// t.Cleanup. When nginx is not installed the test is skipped (failed with
// CI=true). The http_auth_request module must be built in (it is in
// Debian's and the official packages).
func StartNginx(t testing.TB, cfg NginxConfig) *Nginx {
	t.Helper()
	bin := nginxBin(t)
	dir := t.TempDir()
	var lastErr error
	for range 8 {
		port := redisFreePort(t)
		n := &Nginx{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), Dir: dir}
		n.URL = "http://" + n.Addr
		conf := filepath.Join(dir, "nginx.conf")
		if err := os.WriteFile(conf, []byte(n.config(cfg)), 0o600); err != nil {
			t.Fatalf("testenv: write nginx.conf: %v", err)
		}
		if out, err := exec.Command(bin, "-t", "-q", "-p", dir, "-e", filepath.Join(dir, "error.log"), "-c", conf).CombinedOutput(); err != nil {
			t.Fatalf("testenv: nginx -t: %v\n%s\n--- nginx.conf ---\n%s", err, out, n.config(cfg))
		}
		err := n.start(bin, conf)
		if err == nil {
			t.Cleanup(n.stop)
			return n
		}
		lastErr = err
		if !errors.Is(err, errNginxExited) {
			break
		}
		// Most likely the port was taken between redisFreePort and bind.
	}
	t.Fatalf("testenv: start nginx: %v", lastErr)
	return nil
}

func (n *Nginx) config(cfg NginxConfig) string {
	var b strings.Builder
	b.WriteString("daemon off;\n")
	if cfg.Workers > 0 {
		fmt.Fprintf(&b, "master_process on;\nworker_processes %d;\n", cfg.Workers)
	} else {
		b.WriteString("master_process off;\n")
	}
	if os.Geteuid() == 0 {
		// As root, workers would switch to "nobody", who cannot use the
		// test's private directory.
		b.WriteString("user root;\n")
	}
	fmt.Fprintf(&b, "pid %s;\nerror_log %s warn;\n", filepath.Join(n.Dir, "nginx.pid"), filepath.Join(n.Dir, "error.log"))
	b.WriteString("events { worker_connections 4096; }\nhttp {\n")
	if cfg.AccessLog {
		fmt.Fprintf(&b, "  access_log %s;\n", filepath.Join(n.Dir, "access.log"))
	} else {
		b.WriteString("  access_log off;\n")
	}
	for _, tmp := range []string{"client_body", "proxy", "fastcgi", "uwsgi", "scgi"} {
		fmt.Fprintf(&b, "  %s_temp_path %s;\n", tmp, filepath.Join(n.Dir, tmp))
	}
	b.WriteString(cfg.HTTP(n.Addr))
	b.WriteString("\n}\n")
	return b.String()
}

var errNginxExited = errors.New("nginx exited")

func (n *Nginx) start(bin, conf string) error {
	err := n.d.start(exec.Command(bin, "-p", n.Dir, "-e", filepath.Join(n.Dir, "error.log"), "-c", conf),
		n.Dir, filepath.Join(n.Dir, "nginx.pid"), n.Addr, nginxStartTimeout)
	if errors.Is(err, errDaemonExited) {
		return fmt.Errorf("%w on %s: %s", errNginxExited, n.Addr, n.ErrorLog())
	}
	if err != nil {
		return fmt.Errorf("nginx: %w: %s", err, n.ErrorLog())
	}
	return nil
}

// ErrorLog returns the end of nginx's error log, for failure messages.
func (n *Nginx) ErrorLog() string { return tailLogs(n.Dir, "error.log", "stderr.log") }

// stop ends nginx: SIGQUIT (graceful), then SIGKILL after five seconds.
func (n *Nginx) stop() { n.d.stop(syscall.SIGQUIT) }
