//go:build unix

package main

import (
	"os/exec"
	"syscall"
)

// newProcessGroup puts a child in its own process group, so that killProcessGroup also ends the
// Jupyter server and browser it started.
func newProcessGroup() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

// killProcessGroup kills cmd's process group (started with newProcessGroup).
func killProcessGroup(cmd *exec.Cmd) {
	if cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
