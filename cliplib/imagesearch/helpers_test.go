package imagesearch

import (
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
