//go:build unix

package imagesearch

import "syscall"

// mkfifo makes a named pipe at p (opening one for reading blocks until a writer appears).
func mkfifo(p string) error { return syscall.Mkfifo(p, 0o644) }
