package testenv

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// daemon is a server process (nginx, Caddy) that a test started and
// stops: it writes a pid file and listens on one address.
type daemon struct {
	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

var errDaemonExited = errors.New("exited")

// start runs cmd in dir, its output in dir/stderr.log, and waits until the
// pid file holds its pid and addr accepts connections: the pid file proves
// the listener is ours, not a server that won the port. It returns
// errDaemonExited when the process ended first.
func (d *daemon) start(cmd *exec.Cmd, dir, pidFile, addr string, timeout time.Duration) error {
	logf, err := os.OpenFile(filepath.Join(dir, "stderr.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = logf, logf
	redisSysProcAttr(cmd)
	if err := cmd.Start(); err != nil {
		logf.Close()
		return err
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		logf.Close()
		close(done)
	}()
	d.mu.Lock()
	d.cmd, d.done = cmd, done
	d.mu.Unlock()
	want := []byte(strconv.Itoa(cmd.Process.Pid))
	deadline := time.Now().Add(timeout)
	for {
		select {
		case <-done:
			return errDaemonExited
		default:
		}
		if pid, err := os.ReadFile(pidFile); err == nil && bytes.Equal(bytes.TrimSpace(pid), want) {
			if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
				c.Close()
				return nil
			}
		}
		if time.Now().After(deadline) {
			d.stop(syscall.SIGTERM)
			return fmt.Errorf("not listening on %s within %v", addr, timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// stop sends sig (a graceful stop), then SIGKILL after five seconds.
func (d *daemon) stop(sig syscall.Signal) {
	d.mu.Lock()
	cmd, done := d.cmd, d.done
	d.mu.Unlock()
	if cmd == nil {
		return
	}
	select {
	case <-done:
		return
	default:
	}
	_ = cmd.Process.Signal(sig)
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}

// tailLogs returns the end of the named files in dir, for failure messages.
func tailLogs(dir string, files ...string) string {
	var out []byte
	for _, f := range files {
		b, _ := os.ReadFile(filepath.Join(dir, f))
		out = append(out, b...)
	}
	if len(out) > 4000 {
		out = out[len(out)-4000:]
	}
	return strings.TrimSpace(string(out))
}
