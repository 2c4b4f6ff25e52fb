//go:build !linux

package e2e

import "os/exec"

func killWithParent(cmd *exec.Cmd) {}
