package imagesearch

import (
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/clipkit/clipkit/cliplib"
	"github.com/clipkit/clipkit/cliplib/batcher"
)

// testBackend: see package batcher's tests (simplego's parallel op scheduler races by itself).
const testBackend = "go:ops_sequential"

// tinyOptions turns every optimisation on (Options.Optimized), with caches under dir.
func tinyOptions(dir string) cliplib.Options {
	return cliplib.Options{Backend: testBackend, RandomWeights: true, CacheDir: dir,
		Batch: batcher.Options{MaxBatch: 8, MaxWait: 5 * time.Millisecond}}.Optimized()
}

func load(t *testing.T, arch string, opt cliplib.Options) *cliplib.Model {
	t.Helper()
	m, err := cliplib.Load(arch, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// writeImages writes n distinct small PNG images (gradients of different colours and angles).
func writeImages(t *testing.T, dir string, n int) []string { return writeImagesFrom(t, dir, 0, n) }

// writeImagesFrom writes images number first ... first+n-1 of the writeImages sequence.
func writeImagesFrom(t *testing.T, dir string, first, n int) []string {
	t.Helper()
	var paths []string
	for i := first; i < first+n; i++ {
		img := image.NewRGBA(image.Rect(0, 0, 48+8*i, 40))
		for y := range 40 {
			for x := range 48 + 8*i {
				v := uint8((x*(i+1) + y*(7-i%7)) * 3)
				img.Set(x, y, color.RGBA{v, uint8(40 * i), 255 - v, 255})
			}
		}
		p := filepath.Join(dir, fmt.Sprintf("img%02d.png", i))
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := png.Encode(f, img); err != nil {
			t.Fatal(err)
		}
		f.Close()
		paths = append(paths, p)
	}
	return paths
}
