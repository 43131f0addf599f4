//go:build !unix

package main

import (
	"os"
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

// processAlive reports whether a process with that pid exists.
func processAlive(pid int) bool {
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	return p.Signal(syscall.Signal(0)) == nil
}
