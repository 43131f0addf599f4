//go:build !unix

package main

import (
	"os/exec"
	"syscall"
)

// newProcessGroup is a no-op where process groups are not available.
func newProcessGroup() *syscall.SysProcAttr { return nil }

// killProcessGroup kills cmd only.
func killProcessGroup(cmd *exec.Cmd) {
	if cmd.Process != nil {
		_ = cmd.Process.Kill()
	}
}
