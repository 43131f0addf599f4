//go:build !unix

package optimized

import "errors"

// mkfifo is unavailable here; the FIFO case is skipped.
func mkfifo(string) error { return errors.New("no named pipes on this platform") }
