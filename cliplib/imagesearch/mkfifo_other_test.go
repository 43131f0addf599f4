//go:build !unix

package imagesearch

import "errors"

// mkfifo is unavailable here; the FIFO case is skipped.
func mkfifo(string) error { return errors.New("no named pipes on this platform") }
