//go:build unix

package serve

import (
	"errors"
	"syscall"
	"time"
)

// detached makes the server the leader of its own session and process group, so that the end of
// the GoNB cell program (or a signal to its group) does not take it down.
func detached() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setsid: true} }

// pidAlive reports whether a process with this pid exists.
func pidAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// terminate sends SIGTERM to the process, then SIGKILL if it is still there after 5 s.
func terminate(pid int) {
	_ = syscall.Kill(pid, syscall.SIGTERM)
	for i := 0; i < 50 && pidAlive(pid); i++ {
		time.Sleep(100 * time.Millisecond)
	}
	if pidAlive(pid) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}

// terminateGroup sends SIGTERM to a process group led by pid, then SIGKILL after 5 s.
func terminateGroup(pid int) {
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	for i := 0; i < 50 && pidAlive(pid); i++ {
		time.Sleep(100 * time.Millisecond)
	}
	if pidAlive(pid) {
		_ = syscall.Kill(-pid, syscall.SIGKILL)
	}
}
