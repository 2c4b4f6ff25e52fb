package e2e

import (
	"os/exec"
	"syscall"
)

// killWithParent has the kernel kill a child process if the test binary
// dies without running its cleanups (a panic, a -timeout).
func killWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
