//go:build !linux

package testenv

import "os/exec"

// redisSysProcAttr does nothing outside Linux: servers are stopped by
// t.Cleanup only.
func redisSysProcAttr(*exec.Cmd) {}
