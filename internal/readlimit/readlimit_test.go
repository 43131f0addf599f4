//go:build unix

package readlimit

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestReadFileRefusesSpecialAndHugeFiles(t *testing.T) {
	dir := t.TempDir()
	small := filepath.Join(dir, "small.txt")
	os.WriteFile(small, []byte("hello"), 0o644)
	fifo := filepath.Join(dir, "pipe")
	fifoErr := syscall.Mkfifo(fifo, 0o644)
	for _, tc := range []struct {
		name, path string
		max        int64
		want       string // "" for success
	}{
		{"small", small, 10, ""},
		{"over the limit", small, 4, "over the 4-byte limit"},
		{"directory", dir, 10, "not a regular file"},
		{"missing", filepath.Join(dir, "nope"), 10, "no such file"},
		{"named pipe", fifo, 10, "not a regular file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.path == fifo && fifoErr != nil {
				t.Skipf("mkfifo: %v", fifoErr)
			}
			done := make(chan error, 1)
			go func() { _, err := ReadFile(tc.path, tc.max); done <- err }()
			select {
			case err := <-done:
				if tc.want == "" {
					if err != nil {
						t.Fatal(err)
					}
					return
				}
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("error %v, want %q", err, tc.want)
				}
				if tc.name == "over the limit" && !errors.Is(err, ErrTooLarge) {
					t.Errorf("error %v does not wrap ErrTooLarge", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("ReadFile blocks")
			}
		})
	}
}
