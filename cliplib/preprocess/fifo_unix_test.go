//go:build unix

package preprocess

import (
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestDecodeFileRefusesSpecialFiles: a named pipe (or device) in an image's place is an error,
// not a read that blocks forever.
func TestDecodeFileRefusesSpecialFiles(t *testing.T) {
	p := filepath.Join(t.TempDir(), "pipe.png")
	if err := syscall.Mkfifo(p, 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	done := make(chan error, 1)
	go func() { _, _, err := DecodeFile(p); done <- err }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "not a regular file") || !strings.Contains(err.Error(), p) {
			t.Fatalf("error %v, want one naming %s as not a regular file", err, p)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("DecodeFile blocks on a named pipe")
	}
}
