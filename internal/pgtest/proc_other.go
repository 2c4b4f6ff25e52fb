//go:build !linux && !windows

package pgtest

import "syscall"

// procAttr runs a process as cred (nil: as this one). Only Linux has a
// parent-death signal: elsewhere a server outlives a test binary killed
// before Main stops it.
func procAttr(cred *syscall.Credential, _ syscall.Signal) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Credential: cred}
}
