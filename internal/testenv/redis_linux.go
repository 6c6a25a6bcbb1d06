package testenv

import (
	"os/exec"
	"syscall"
)

// redisSysProcAttr makes the kernel kill redis-server when the test binary
// dies without running its cleanups (a panic, a timeout, kill -9), so that
// no server outlives `go test`.
func redisSysProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
