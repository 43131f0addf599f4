//go:build unix

package main

import (
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestNamedPipesInPlaceOfInputFilesDoNotHang: every file a command reads — image, checkpoint,
// vocabulary, index, captions, config — may be a named pipe that nobody writes; each command must
// fail with an error instead of blocking forever.
func TestNamedPipesInPlaceOfInputFilesDoNotHang(t *testing.T) {
	t.Setenv("CLIPKIT_CACHE", t.TempDir())
	t.Setenv("GOMLX_BACKEND", "go")
	dir := t.TempDir()
	fifo := func(name string) string {
		p := filepath.Join(dir, name)
		if err := syscall.Mkfifo(p, 0o644); err != nil {
			t.Skipf("mkfifo: %v", err)
		}
		return p
	}
	img, ckpt, vocab, idx := fifo("photo.png"), fifo("model.safetensors"), fifo("vocab.txt.gz"), fifo("photos.idx")
	capDir := t.TempDir()
	writePNG(t, filepath.Join(capDir, "a.png"))
	if err := syscall.Mkfifo(filepath.Join(capDir, "captions.csv"), 0o644); err != nil {
		t.Skip(err)
	}
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"embed --image", []string{"embed", "--weights", "tiny-vit", "--random-weights", "--image", img}},
		{"embed --weights", []string{"embed", "--weights", ckpt, "--text", "x"}},
		{"tokenize --vocab", []string{"tokenize", "--vocab", vocab}},
		{"search query --index", []string{"search", "query", "--index", idx, "--text", "x"}},
		{"data info captions", []string{"data", "info", capDir}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			done := make(chan int, 1)
			go func() { code, _ := runCapture(t, "", tc.args...); done <- code }()
			select {
			case code := <-done:
				if code == 0 {
					t.Fatal("exit 0 with a named pipe as input")
				}
			case <-time.After(20 * time.Second):
				t.Fatal("hangs on a named pipe")
			}
		})
	}
}
