package main_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sessiond-bin")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "sessiond")
	out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build sessiond: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// proc is a running `sessiond serve`.
type proc struct {
	t      *testing.T
	cmd    *exec.Cmd
	url    string
	stdout *syncBuffer
	stderr *syncBuffer
	done   chan error
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// cliEnv is the environment every command runs with: a cheap password hash
// keeps the suite fast; nothing else is set.
func cliEnv(extra ...string) []string {
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	return append(env, extra...)
}

func serve(t *testing.T, data string, args ...string) *proc {
	t.Helper()
	addr := freeAddr(t)
	cmd := exec.Command(binary, append([]string{"serve", "--data", data, "--addr", addr}, args...)...)
	cmd.Env = cliEnv()
	p := &proc{t: t, cmd: cmd, url: "http://" + addr, stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan error, 1)}
	pr, pw := io.Pipe()
	cmd.Stdout = io.MultiWriter(p.stdout, pw)
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- cmd.Wait(); pw.Close() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-p.done
		}
	})
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "listening on") {
				close(ready)
				break
			}
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	select {
	case <-ready:
	case err := <-p.done:
		t.Fatalf("sessiond exited: %v\nstdout: %s\nstderr: %s", err, p.stdout, p.stderr)
	case <-time.After(30 * time.Second):
		t.Fatalf("sessiond did not start\nstderr: %s", p.stderr)
	}
	// The listener is up once the banner is printed; wait for /healthz.
	for i := 0; ; i++ {
		res, err := http.Get(p.url + "/healthz")
		if err == nil {
			res.Body.Close()
			break
		}
		if i > 100 {
			t.Fatalf("healthz: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return p
}

func (p *proc) kill9() {
	p.t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		p.t.Fatal(err)
	}
	<-p.done
}

func run(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = cliEnv()
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		return stdout.String() + stderr.String(), err
	}
	return stdout.String(), nil
}

type browser struct {
	t    *testing.T
	base string
	hc   *http.Client
	csrf string
}

func newBrowser(t *testing.T, base string) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, base: base, hc: &http.Client{Jar: jar, Timeout: 30 * time.Second}}
}

func (b *browser) do(method, path string, body any) (int, map[string]any) {
	b.t.Helper()
	var rd io.Reader
	if body != nil {
		j, _ := json.Marshal(body)
		rd = bytes.NewReader(j)
	}
	req, _ := http.NewRequest(method, b.base+path, rd)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if b.csrf != "" {
		req.Header.Set("X-CSRF-Token", b.csrf)
	}
	res, err := b.hc.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(res.Body).Decode(&m)
	return res.StatusCode, m
}

func (b *browser) login(email, password string) {
	b.t.Helper()
	code, m := b.do("POST", "/v1/login", map[string]string{"email": email, "password": password})
	if code != 200 {
		b.t.Fatalf("login %s: %d %v", email, code, m)
	}
	b.csrf = m["csrf_token"].(string)
}

func (b *browser) whoami() int {
	b.t.Helper()
	code, _ := b.do("GET", "/v1/whoami", nil)
	return code
}

// rebase points the browser, cookies and all, at another server URL.
func (b *browser) rebase(base string) {
	old := b.base
	b.base = base
	u1, _ := http.NewRequest("GET", old, nil)
	u2, _ := http.NewRequest("GET", base, nil)
	b.hc.Jar.SetCookies(u2.URL, b.hc.Jar.Cookies(u1.URL))
}

var demoRE = regexp.MustCompile(`demo admin (\S+), one-time password: (\S+)`)

func TestServeDev_PrintsDemoAccount(t *testing.T) {
	t.Parallel()
	p := serve(t, t.TempDir(), "--dev")
	m := demoRE.FindStringSubmatch(p.stdout.String())
	if m == nil {
		t.Fatalf("no demo account in output:\n%s", p.stdout)
	}
	b := newBrowser(t, p.url)
	b.login(m[1], m[2])
	if code := b.whoami(); code != 200 {
		t.Fatalf("whoami: %d", code)
	}
	if strings.Contains(p.stderr.String(), m[2]) {
		t.Fatal("the demo password appears in the logs")
	}
}

func TestDurability_KillDashNine(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	if out, err := run(t, "a long enough pass\n", "user", "add", "--data", data, "--email", "a@example.com", "--password-stdin"); err != nil {
		t.Fatalf("user add: %v\n%s", err, out)
	}
	p := serve(t, data)
	kept, revoked := newBrowser(t, p.url), newBrowser(t, p.url)
	kept.login("a@example.com", "a long enough pass")
	revoked.login("a@example.com", "a long enough pass")
	if code, _ := revoked.do("POST", "/v1/logout", nil); code != 204 {
		t.Fatalf("logout: %d", code)
	}
	// Acknowledged: now crash without any chance to flush.
	p.kill9()

	p2 := serve(t, data)
	kept.rebase(p2.url)
	revoked.rebase(p2.url)
	if code := kept.whoami(); code != 200 {
		t.Fatalf("session acknowledged before kill -9 lost: whoami %d", code)
	}
	if code := revoked.whoami(); code != 401 {
		t.Fatalf("revocation acknowledged before kill -9 lost: whoami %d", code)
	}
}

func TestTwoProcesses_CLIWhileServerRuns(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	p := serve(t, data)
	// The CLI opens the same data directory while the server holds it.
	if out, err := run(t, "a long enough pass\n", "user", "add", "--data", data, "--email", "b@example.com", "--role", "dev", "--password-stdin"); err != nil {
		t.Fatalf("user add while serving: %v\n%s", err, out)
	}
	b := newBrowser(t, p.url)
	b.login("b@example.com", "a long enough pass")
	out, err := run(t, "", "session", "list", "--data", data, "--email", "b@example.com")
	if err != nil || strings.Count(out, "\n") != 2 {
		t.Fatalf("session list: %v\n%s", err, out)
	}
	if out, err := run(t, "", "session", "revoke", "--data", data, "--email", "b@example.com", "--all"); err != nil {
		t.Fatalf("session revoke: %v\n%s", err, out)
	}
	if code := b.whoami(); code != 401 {
		t.Fatalf("session revoked by the CLI still valid on the server: %d", code)
	}
	if out, err := run(t, "a long enough pass\n", "user", "add", "--data", data, "--email", "B@example.com", "--password-stdin"); err == nil {
		t.Fatalf("duplicate user add succeeded:\n%s", out)
	}
}

func TestGracefulShutdown_SIGTERM(t *testing.T) {
	t.Parallel()
	p := serve(t, t.TempDir())
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, p.stderr)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no exit after SIGTERM")
	}
}

func TestConfigErrors_NameTheKey(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "sessiond.yaml")
	if err := os.WriteFile(cfg, []byte("session:\n  idle_timeut: 1h\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := run(t, "", "serve", "--config", cfg, "--data", dir)
	if err == nil || !strings.Contains(out, "session.idle_timeut") {
		t.Fatalf("unknown key: err=%v\n%s", err, out)
	}
	cmd := exec.Command(binary, "serve", "--data", dir)
	cmd.Env = cliEnv("SESSIOND_TOKEN_ACCESS_TTL=forever")
	b, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(b), "token.access_ttl") {
		t.Fatalf("bad env value: err=%v\n%s", err, b)
	}
}

func TestVersion(t *testing.T) {
	t.Parallel()
	out, err := run(t, "", "version")
	if err != nil || !strings.HasPrefix(out, "sessiond ") {
		t.Fatalf("version: %v %q", err, out)
	}
}

func TestKeysCLI_ListAndRotate(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	out, err := run(t, "", "keys", "list", "--data", data)
	if err != nil || strings.Count(out, "signing") != 1 || strings.Count(out, "\n") != 2 {
		t.Fatalf("keys list: %v\n%s", err, out)
	}
	out, err = run(t, "", "keys", "rotate", "--data", data)
	if err != nil || !strings.HasPrefix(out, "new key ") {
		t.Fatalf("keys rotate: %v\n%s", err, out)
	}
	kid := strings.Fields(out)[2]
	kid = strings.TrimSuffix(kid, ":")
	out, err = run(t, "", "keys", "list", "--data", data)
	if err != nil || !strings.Contains(out, kid) || !strings.Contains(out, "next") || !strings.Contains(out, "signing") {
		t.Fatalf("keys list after rotate: %v\n%s", err, out)
	}
	// The server publishes both keys.
	p := serve(t, data)
	res, err := http.Get(p.url + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var set struct{ Keys []map[string]any }
	_ = json.NewDecoder(res.Body).Decode(&set)
	if len(set.Keys) != 2 {
		t.Fatalf("JWKS has %d keys, want 2", len(set.Keys))
	}
}
