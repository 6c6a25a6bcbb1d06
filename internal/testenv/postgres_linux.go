package testenv

import "syscall"

// pgSysProcAttr runs a PostgreSQL binary as c (when not nil), without our
// supplementary groups, and asks the kernel to shut the server down
// (SIGQUIT: immediate shutdown) should the test process die without its
// cleanup.
func pgSysProcAttr(c *pgCredential) *syscall.SysProcAttr {
	a := &syscall.SysProcAttr{Pdeathsig: syscall.SIGQUIT}
	if c != nil {
		a.Credential = &syscall.Credential{Uid: c.uid, Gid: c.gid, Groups: []uint32{}}
	}
	return a
}
