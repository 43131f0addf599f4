package main

import (
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clipkit/clipkit/internal/atomicfile"
)

// TestSearchIndexChecksOutBeforeEncoding: an --out that cannot be written, or that another
// run is writing, fails at once with an error about --out, before any image is encoded
// (before, it was reported by the save after every image had been encoded).
func TestSearchIndexChecksOutBeforeEncoding(t *testing.T) {
	t.Setenv("CLIPKIT_CACHE", t.TempDir())
	t.Setenv("GOMLX_BACKEND", "go")
	images := t.TempDir()
	writePNG(t, filepath.Join(images, "a.png"))
	locked := filepath.Join(t.TempDir(), "busy.idx")
	unlock, err := atomicfile.Lock(locked, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	for _, tc := range []struct{ name, out, want string }{
		{"missing folder", filepath.Join(t.TempDir(), "no", "such", "dir", "x.idx"), "no such file"},
		{"a directory", t.TempDir(), "is a directory"},
		{"locked by another writer", locked, "another writer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			_, err := capture(t, &searchOut, func() error {
				return runSearch([]string{"index", "--model", "tiny-vit", "--random-weights", "--images", images, "--out", tc.out})
			})
			if err == nil || !strings.HasPrefix(err.Error(), "--out: ") || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want an --out error containing %q", err, tc.want)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("took %v: the check must come before encoding", d)
			}
		})
	}
}

func writePNG(t *testing.T, p string) {
	t.Helper()
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := png.Encode(f, image.NewGray(image.Rect(0, 0, 8, 8))); err != nil {
		t.Fatal(err)
	}
}
