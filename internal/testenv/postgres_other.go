//go:build !linux

package testenv

import "syscall"

// pgSysProcAttr: switching users is supported on Linux only; elsewhere
// StartPostgres must run as a non-root user (c is then nil).
func pgSysProcAttr(c *pgCredential) *syscall.SysProcAttr {
	if c != nil {
		panic("testenv: StartPostgres as root is supported on Linux only; run the tests as a non-root user")
	}
	return nil
}
