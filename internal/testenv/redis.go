package testenv

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Redis is a throwaway redis-server on a loopback port, started by
// StartRedis. Its methods may be called from the test goroutine only.
type Redis struct {
	// Addr is "127.0.0.1:PORT".
	Addr string
	// URL is "redis://127.0.0.1:PORT".
	URL string
	// Dir is the server's working directory (RDB and AOF files live here).
	Dir string

	args []string // everything after the binary, fixed at first start

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
	log  *os.File
}

// redisStartTimeout bounds how long one redis-server may take to answer PING
// (loading a large AOF after Restart included).
const redisStartTimeout = 20 * time.Second

// redisSkipOrFail skips the test with a loud message, or fails it when
// CI=true (CI must never pass by skipping).
func redisSkipOrFail(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := "testenv: " + fmt.Sprintf(format, args...)
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s (CI=true: a missing server fails)", msg)
	}
	fmt.Fprintf(os.Stderr, "\n!!! SKIPPING %s: %s\n\n", t.Name(), msg)
	t.Skipf("SKIPPED: %s", msg)
}

// redisBin returns the path of a Redis binary (redis-server, redis-cli), or
// skips or fails the test when it is not installed.
func redisBin(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		redisSkipOrFail(t, "%s not installed (apt-get install redis-server redis-tools): %v", name, err)
	}
	return p
}

// redisFreePort returns a loopback TCP port that was free a moment ago. The
// caller must cope with losing it to a race (StartRedis retries).
func redisFreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testenv: free port: %v", err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return port
}

// StartRedis starts a redis-server on a free 127.0.0.1 port with its own
// temporary directory, without persistence (--save "" --appendonly no), and
// waits until it answers PING. args are extra redis-server options that
// override those defaults, e.g. "--appendonly", "yes", "--appendfsync",
// "always". The server is killed and its directory removed in t.Cleanup.
// When redis-server is not installed the test is skipped (failed with
// CI=true).
func StartRedis(t testing.TB, args ...string) *Redis {
	t.Helper()
	return startRedis(t, func() []string { return args })
}

// startRedis starts a server whose extra options extra() returns; it is
// called again for every attempt, so that it may pick fresh ports.
func startRedis(t testing.TB, extra func() []string) *Redis {
	t.Helper()
	bin := redisBin(t, "redis-server")
	dir := t.TempDir()
	var lastErr error
	for range 8 {
		port := redisFreePort(t)
		r := &Redis{
			Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
			Dir:  dir,
		}
		r.URL = "redis://" + r.Addr
		r.args = append([]string{
			"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", dir,
			"--save", "", "--appendonly", "no", "--daemonize", "no", "--logfile", "",
			"--loglevel", "warning", "--protected-mode", "no",
		}, extra()...)
		err := r.start(bin)
		if err == nil {
			t.Cleanup(func() { r.stop() })
			return r
		}
		lastErr = err
		if !errors.Is(err, errRedisExited) {
			break
		}
		// Most likely the port was taken between redisFreePort and bind:
		// try another one.
	}
	t.Fatalf("testenv: start redis-server: %v", lastErr)
	return nil
}

var errRedisExited = errors.New("redis-server exited")

// start runs the server with r.args and waits until it answers PING as the
// process it started (not some other server that won the port).
func (r *Redis) start(bin string) error {
	logf, err := os.OpenFile(filepath.Join(r.Dir, "redis.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	cmd := exec.Command(bin, r.args...)
	cmd.Dir = r.Dir
	cmd.Stdout, cmd.Stderr = logf, logf
	redisSysProcAttr(cmd)
	if err := cmd.Start(); err != nil {
		logf.Close()
		return err
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	r.mu.Lock()
	r.cmd, r.done, r.log = cmd, done, logf
	r.mu.Unlock()

	deadline := time.Now().Add(redisStartTimeout)
	want := "process_id:" + strconv.Itoa(cmd.Process.Pid)
	for {
		select {
		case <-done:
			r.closeLog()
			return fmt.Errorf("%w on %s: %s", errRedisExited, r.Addr, r.logTail())
		default:
		}
		if info, err := redisDo(r.Addr, time.Second, "INFO", "server"); err == nil && strings.Contains(info, want) {
			// INFO answers while the dataset is still loading; PING does not.
			if pong, err := redisDo(r.Addr, time.Second, "PING"); err == nil && pong == "PONG" {
				return nil
			}
		}
		if time.Now().After(deadline) {
			r.stop()
			return fmt.Errorf("redis-server on %s did not answer PING within %v: %s", r.Addr, redisStartTimeout, r.logTail())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (r *Redis) closeLog() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.log != nil {
		r.log.Close()
		r.log = nil
	}
}

// logTail returns the end of the server's log, for error messages.
func (r *Redis) logTail() string {
	b, _ := os.ReadFile(filepath.Join(r.Dir, "redis.log"))
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return strings.TrimSpace(string(b))
}

// stop kills the process (if running) and waits for it to exit.
func (r *Redis) stop() {
	r.mu.Lock()
	cmd, done := r.cmd, r.done
	r.mu.Unlock()
	if cmd == nil {
		return
	}
	select {
	case <-done:
	default:
		_ = cmd.Process.Kill()
		<-done
	}
	r.closeLog()
}

// Kill sends SIGKILL to the server (kill -9: no shutdown, no final save)
// and waits until it has exited.
func (r *Redis) Kill(t testing.TB) {
	t.Helper()
	r.mu.Lock()
	cmd := r.cmd
	r.mu.Unlock()
	if cmd == nil {
		t.Fatalf("testenv: kill redis-server %s: not started", r.Addr)
	}
	r.stop()
}

// Running reports whether the server process is alive.
func (r *Redis) Running() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd == nil {
		return false
	}
	select {
	case <-r.done:
		return false
	default:
		return true
	}
}

// Restart starts the server again (after Kill) on the same port, with the
// same options and directory, so that persisted data (AOF, RDB) is loaded
// again; it returns once the server answers PING. A server that is still
// running is killed first.
func (r *Redis) Restart(t testing.TB) {
	t.Helper()
	r.stop()
	bin := redisBin(t, "redis-server")
	var err error
	for range 50 { // the port may linger for a moment after the kill
		if err = r.start(bin); err == nil {
			return
		}
		if !errors.Is(err, errRedisExited) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("testenv: restart redis-server: %v", err)
}

// Do sends one command to the server and returns its reply as a string
// (simple string, bulk string or integer). A Redis error reply is returned
// as an error. It is meant for test setup and inspection (INFO, CONFIG SET,
// DEBUG), not for load.
func (r *Redis) Do(t testing.TB, args ...string) string {
	t.Helper()
	s, err := redisDo(r.Addr, 5*time.Second, args...)
	if err != nil {
		t.Fatalf("testenv: redis %s %v: %v", r.Addr, args, err)
	}
	return s
}

// redisDo is a minimal RESP client: one connection, one command, one
// non-array reply.
func redisDo(addr string, timeout time.Duration, args ...string) (string, error) {
	conn, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(timeout))
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := conn.Write([]byte(b.String())); err != nil {
		return "", err
	}
	rd := bufio.NewReader(conn)
	line, err := rd.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimSuffix(line, "\r\n")
	if line == "" {
		return "", errors.New("empty reply")
	}
	switch line[0] {
	case '+', ':':
		return line[1:], nil
	case '-':
		return "", errors.New(line[1:])
	case '$':
		n, err := strconv.Atoi(line[1:])
		if err != nil {
			return "", fmt.Errorf("bad bulk length %q", line)
		}
		if n < 0 {
			return "", nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(rd, buf); err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	}
	return "", fmt.Errorf("unsupported reply %q", line)
}

// Signal sends sig to the server process (SIGSTOP pauses it, SIGCONT
// resumes it).
func (r *Redis) Signal(sig os.Signal) error {
	r.mu.Lock()
	cmd := r.cmd
	r.mu.Unlock()
	if cmd == nil || !r.Running() {
		return fmt.Errorf("testenv: signal redis-server %s: not running", r.Addr)
	}
	return cmd.Process.Signal(sig)
}
