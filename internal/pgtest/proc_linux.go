package pgtest

import "syscall"

// procAttr runs a process as cred (nil: as this one) and sends it death
// when the test binary dies (0: nothing). Go sets the parent-death signal
// after dropping privileges, which would otherwise clear it.
func procAttr(cred *syscall.Credential, death syscall.Signal) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Credential: cred, Pdeathsig: death}
}
