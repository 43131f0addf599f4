package imagesearch

import (
	"testing"
	"time"

	"github.com/clipkit/clipkit/cliplib"
	"github.com/clipkit/clipkit/cliplib/batcher"
	"github.com/clipkit/clipkit/cliplib/internal/testutil"
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
	return testutil.WriteImages(t, dir, first, n)
}
