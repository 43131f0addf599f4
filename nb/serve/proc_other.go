//go:build !unix

package serve

import (
	"os"
	"syscall"
)

func detached() *syscall.SysProcAttr { return nil }

// pidAlive reports whether a process with this pid exists (best effort off Unix).
func pidAlive(pid int) bool {
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	return p.Signal(syscall.Signal(0)) == nil
}

func terminate(pid int) {
	if p, err := os.FindProcess(pid); err == nil {
		_ = p.Kill()
	}
}

func terminateGroup(pid int) { terminate(pid) }
