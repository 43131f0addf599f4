package cliplib

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clipkit/clipkit/cliplib/batcher"
	"github.com/clipkit/clipkit/cliplib/cache"
	"github.com/clipkit/clipkit/cliplib/internal/testutil"
)

// testBackend: see package batcher's tests (simplego's parallel op scheduler races by itself).
const testBackend = "go:ops_sequential"

// tinyOptions turns every optimisation on (Options.Optimized), with caches under dir.
func tinyOptions(dir string) Options {
	return Options{Backend: testBackend, RandomWeights: true, CacheDir: dir,
		Batch: batcher.Options{MaxBatch: 8, MaxWait: 5 * time.Millisecond}}.Optimized()
}

func load(t *testing.T, arch string, opt Options) *Model {
	t.Helper()
	m, err := Load(arch, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// plain loads arch with zero Options: no cache, no batching.
func plain(t *testing.T, arch string) *Model {
	t.Helper()
	m, err := Load(arch, Options{Backend: testBackend, RandomWeights: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

var prompts = []string{"a photo of a cat.", "a photo of a dog.", "a diagram", "a photo of a cat.",
	"a very long caption of a photo of a small striped cat sitting on a red mat in the afternoon sun"}

func TestResultsEqualThePlainModel(t *testing.T) {
	dir := t.TempDir()
	files := testutil.WriteImages(t, t.TempDir(), 0, 5)
	ref := plain(t, "tiny-vit")
	wantT, err := ref.EncodeTexts(prompts)
	if err != nil {
		t.Fatal(err)
	}
	wantI, err := ref.EncodeImageFiles(files...)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		opt  func(*Options)
	}{
		{"all on", func(*Options) {}},
		{"no batching", func(o *Options) { o.Batching = false }},
		{"no caches", func(o *Options) { o.TextCache, o.ImageCache = false, false }},
		{"memory only", func(o *Options) { o.MemoryOnly = true }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opt := tinyOptions(dir)
			tc.opt(&opt)
			m := load(t, "tiny-vit", opt)
			for pass := range 2 { // the second pass is served by the caches
				gotT, err := m.EncodeTexts(prompts)
				if err != nil {
					t.Fatal(err)
				}
				gotI, err := m.EncodeImageFiles(files...)
				if err != nil {
					t.Fatal(err)
				}
				if d := math.Max(maxAbsDiff(gotT, wantT), maxAbsDiff(gotI, wantI)); d != 0 {
					t.Fatalf("pass %d: embeddings differ from the plain model's by %g", pass, d)
				}
			}
			imgs, err := DecodeImageFiles(files...)
			if err != nil {
				t.Fatal(err)
			}
			got, err := m.EncodeImages(imgs)
			if err != nil {
				t.Fatal(err)
			}
			if d := maxAbsDiff(got, wantI); d != 0 {
				t.Fatalf("EncodeImages differs by %g", d)
			}
		})
	}
}

func TestCachesPersistAcrossModelsAndCountHits(t *testing.T) {
	dir := t.TempDir()
	files := testutil.WriteImages(t, t.TempDir(), 0, 3)
	first := load(t, "tiny-vit", tinyOptions(dir))
	want, err := first.EncodeTexts(prompts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := first.EncodeImageFiles(files...); err != nil {
		t.Fatal(err)
	}
	// Lookups happen before encoding, so the prompt given twice misses twice; 4 distinct prompts
	// end up cached.
	if s := first.Stats().TextCache; s.Misses != 5 || s.Entries != 4 {
		t.Errorf("first model text cache %+v, want 5 misses and 4 entries", s)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	var warnings []string
	opt := tinyOptions(dir)
	opt.Warn = func(msg string) { warnings = append(warnings, msg) }
	second := load(t, "tiny-vit", opt)
	got, err := second.EncodeTexts(prompts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := second.EncodeImageFiles(files...); err != nil {
		t.Fatal(err)
	}
	st := second.Stats()
	if st.TextCache.Hits != 5 || st.TextCache.Misses != 0 || st.ImageCache.Hits != 3 || st.TextBatches.Batches != 0 || st.ImageBatches.Batches != 0 {
		t.Errorf("second model: %+v; want every text and image served from the saved caches without encoding", st)
	}
	if d := maxAbsDiff(got, want); d != 0 {
		t.Errorf("cached embeddings differ by %g", d)
	}
	if len(warnings) > 0 {
		t.Errorf("warnings: %q", warnings)
	}
	// A different precision is a different model: it must not see these vectors.
	bopt := tinyOptions(dir)
	bopt.Precision = "bf16"
	bf := load(t, "tiny-vit", bopt)
	if bf.Identity() == second.Identity() {
		t.Fatal("bf16 and f32 models share an identity")
	}
	if _, err := bf.EncodeTexts(prompts[:1]); err != nil {
		t.Fatal(err)
	}
	if s := bf.Stats().TextCache; s.Hits != 0 {
		t.Errorf("bf16 model hit the f32 cache: %+v", s)
	}
}

func TestCorruptCacheFileIsIgnoredWithAWarning(t *testing.T) {
	dir := t.TempDir()
	m := load(t, "tiny-vit", tinyOptions(dir))
	want, _ := m.EncodeTexts(prompts[:2])
	m.Close()
	p := filepath.Join(dir, "textcache", m.Identity().String()+".textcache")
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 0xff
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	var warnings []string
	opt := tinyOptions(dir)
	opt.Warn = func(msg string) { warnings = append(warnings, msg) }
	m2 := load(t, "tiny-vit", opt)
	got, err := m2.EncodeTexts(prompts[:2])
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "checksum") {
		t.Errorf("warnings %q, want one about the checksum", warnings)
	}
	if s := m2.Stats().TextCache; s.Hits != 0 || s.Misses != 2 {
		t.Errorf("stats %+v: the corrupt file must not serve anything", s)
	}
	if d := maxAbsDiff(got, want); d != 0 {
		t.Errorf("re-encoded embeddings differ by %g", d)
	}
}

func TestRepeatedZeroShotClassListIsServedByTheCache(t *testing.T) {
	m := load(t, "tiny-vit", tinyOptions(t.TempDir()))
	classes := []string{"cat", "dog", "airplane", "ship"}
	z1, err := m.ZeroShot(classes, CIFARTemplates[:4])
	if err != nil {
		t.Fatal(err)
	}
	before := m.Stats()
	z2, err := m.ZeroShot(classes, CIFARTemplates[:4])
	if err != nil {
		t.Fatal(err)
	}
	after := m.Stats()
	if after.TextCache.Hits-before.TextCache.Hits != 16 || after.TextBatches.Batches != before.TextBatches.Batches {
		t.Errorf("second ZeroShot: %d hits and %d batches, want 16 hits and none", after.TextCache.Hits-before.TextCache.Hits,
			after.TextBatches.Batches-before.TextBatches.Batches)
	}
	if d := maxAbsDiff(z1.Weights, z2.Weights); d != 0 {
		t.Errorf("classifier weights differ by %g", d)
	}
	ref, err := plain(t, "tiny-vit").ZeroShot(classes, CIFARTemplates[:4])
	if err != nil {
		t.Fatal(err)
	}
	if d := maxAbsDiff(z1.Weights, ref.Weights); d != 0 {
		t.Errorf("optimized classifier differs from the plain one by %g", d)
	}
	files := testutil.WriteImages(t, t.TempDir(), 0, 2)
	preds, err := m.ClassifyFiles(z1, 2, files...)
	if err != nil || len(preds) != 2 || len(preds[0]) != 2 {
		t.Fatalf("ClassifyFiles: %v, %v", preds, err)
	}
}

func TestConcurrentSingleRequestsAreBatchedAndDeduplicated(t *testing.T) {
	opt := tinyOptions(t.TempDir())
	opt.TextCache = false
	opt.Batch = batcher.Options{MaxBatch: 16, MaxWait: 50 * time.Millisecond}
	m := load(t, "tiny-vit", opt)
	want, err := plain(t, "tiny-vit").EncodeTexts(prompts)
	if err != nil {
		t.Fatal(err)
	}
	const n = 16
	got := make([][]float32, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i], errs[i] = m.EncodeText(context.Background(), prompts[i%len(prompts)])
		}()
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if d := maxAbsDiff([][]float32{got[i]}, [][]float32{want[i%len(prompts)]}); d != 0 {
			t.Fatalf("request %d differs by %g", i, d)
		}
	}
	st := m.Stats()
	if st.TextBatches.Items != n || st.TextBatches.Batches >= n || st.Deduplicated == 0 {
		t.Errorf("stats %+v: want %d items in fewer batches, duplicates encoded once", st.TextBatches, n)
	}
}

func TestPrecisionOptions(t *testing.T) {
	if _, err := Load("tiny-vit", Options{Backend: "go", RandomWeights: true, Precision: "f16", MemoryOnly: true}.Optimized()); err == nil ||
		!strings.Contains(err.Error(), "f16") {
		t.Errorf("f16 on simplego: %v, want a clear refusal", err)
	}
	opt := tinyOptions(t.TempDir())
	opt.Precision = "bf16"
	m := load(t, "tiny-vit", opt)
	if m.Precision() != "bf16" || m.Stats().Precision != "bf16" {
		t.Errorf("precision %q", m.Precision())
	}
	ref, _ := plain(t, "tiny-vit").EncodeTexts(prompts[:2])
	got, err := m.EncodeTexts(prompts[:2])
	if err != nil {
		t.Fatal(err)
	}
	if d := maxAbsDiff(got, ref); d == 0 || d > 0.1 {
		t.Errorf("bf16 vs f32 max difference %g: want small but not zero", d)
	}
}

func TestTextBucketingIsReported(t *testing.T) {
	m := load(t, "tiny-vit", tinyOptions(t.TempDir()))
	opt := tinyOptions(t.TempDir())
	opt.Encoder.FullTextLength = true
	full := load(t, "tiny-vit", opt)
	if !m.TextBucketing() || full.TextBucketing() {
		t.Errorf("TextBucketing: default %v, FullTextLength %v", m.TextBucketing(), full.TextBucketing())
	}
	a, _ := m.EncodeTexts(prompts)
	b, _ := full.EncodeTexts(prompts)
	if d := maxAbsDiff(a, b); d > 1e-6 {
		t.Errorf("bucketed vs full-length texts differ by %g", d)
	}
}

func TestClosedModelRefusesWork(t *testing.T) {
	m := load(t, "tiny-vit", tinyOptions(t.TempDir()))
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if st := m.Stats(); st.Backend == "" || st.Precision != "f32" {
		t.Errorf("Stats after Close: %+v", st)
	}
	if _, err := m.EncodeTexts([]string{"x"}); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("EncodeTexts after Close: %v", err)
	}
	if err := m.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestSaveWritesOnlyChangedCaches(t *testing.T) {
	dir := t.TempDir()
	m := load(t, "tiny-vit", tinyOptions(dir))
	textFile := filepath.Join(dir, "textcache", m.Identity().String()+".textcache")
	imageFile := filepath.Join(dir, "imagecache", m.Identity().String()+".imagecache")
	if err := m.Save(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(textFile); !os.IsNotExist(err) {
		t.Errorf("an empty, unchanged cache was written: %v", err)
	}
	if _, err := m.EncodeTexts(prompts[:1]); err != nil {
		t.Fatal(err)
	}
	if err := m.Save(); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(textFile)
	if err != nil {
		t.Fatalf("text cache not saved: %v", err)
	}
	if _, err := os.Stat(imageFile); !os.IsNotExist(err) {
		t.Errorf("the unchanged image cache was written: %v", err)
	}
	os.Chtimes(textFile, st.ModTime().Add(-time.Hour), st.ModTime().Add(-time.Hour))
	if _, err := m.EncodeTexts(prompts[:1]); err != nil { // a hit: nothing new
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if st2, _ := os.Stat(textFile); !st2.ModTime().Before(st.ModTime()) {
		t.Error("Close rewrote a cache that only served hits")
	}
}

// TestUnwritableCacheDirRunsUncachedWithAWarning: a cache directory that cannot be written (a
// file in its place, or read-only) makes the model cache in memory and say so, instead of
// failing the run.
func TestUnwritableCacheDirRunsUncachedWithAWarning(t *testing.T) {
	fileInTheWay := filepath.Join(t.TempDir(), "cache")
	os.WriteFile(fileInTheWay, []byte("x"), 0o644)
	readOnly := t.TempDir()
	os.Chmod(readOnly, 0o500)
	t.Cleanup(func() { os.Chmod(readOnly, 0o755) })
	for _, tc := range []struct{ name, dir string }{{"file in the way", fileInTheWay}, {"read-only", readOnly}} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "read-only" && os.Geteuid() == 0 {
				t.Skip("root writes read-only directories")
			}
			var warnings []string
			var mu sync.Mutex
			opt := tinyOptions(tc.dir)
			opt.Warn = func(s string) { mu.Lock(); warnings = append(warnings, s); mu.Unlock() }
			m := load(t, "tiny-vit", opt)
			if _, err := m.EncodeImageFiles(testutil.WriteImages(t, t.TempDir(), 0, 2)...); err != nil {
				t.Fatal(err)
			}
			if err := m.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(warnings) == 0 || !strings.Contains(strings.Join(warnings, "\n"), "in memory only") {
				t.Errorf("warnings %q, want one saying the cache is in memory only", warnings)
			}
		})
	}
}

// TestPixelKeyedImageCache: EncodeImagesCached serves decoded images seen before (by pixels) from
// the image cache, with the embeddings EncodeImages computes, and without a cache is EncodeImages.
func TestPixelKeyedImageCache(t *testing.T) {
	files := testutil.WriteImages(t, t.TempDir(), 0, 3)
	imgs, err := DecodeImageFiles(files...)
	if err != nil {
		t.Fatal(err)
	}
	want, err := plain(t, "tiny-vit").EncodeImagesCached(imgs)
	if err != nil {
		t.Fatal(err)
	}
	opt := tinyOptions(t.TempDir())
	opt.Batching = false
	m := load(t, "tiny-vit", opt)
	for pass := range 2 {
		got, err := m.EncodeImagesCached(imgs)
		if err != nil {
			t.Fatal(err)
		}
		if d := maxAbsDiff(got, want); d != 0 {
			t.Fatalf("pass %d differs by %g", pass, d)
		}
	}
	if s := m.Stats().ImageCache; s.Hits != 3 || s.Misses != 3 || s.Entries != 3 {
		t.Errorf("image cache %+v, want 3 misses then 3 hits", s)
	}
	if PixelKey(imgs[0]) == PixelKey(imgs[1]) {
		t.Error("two different images share a pixel key")
	}
}

// TestZeroOptionsStartCheap: the zero Options open no cache and no batcher and leave the identity
// (a hash of every weight) uncomputed; Optimized turns the caches and batching on, which names the
// cache files by the identity at Load.
func TestZeroOptionsStartCheap(t *testing.T) {
	for _, tc := range []struct {
		name string
		opt  Options
		on   bool
	}{
		{"zero", Options{Backend: testBackend, RandomWeights: true}, false},
		{"optimized", tinyOptions(t.TempDir()), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := load(t, "tiny-vit", tc.opt)
			if got := m.id != (cache.Identity{}); got != tc.on {
				t.Errorf("identity computed at Load: %v, want %v", got, tc.on)
			}
			if got := m.TextCache() != nil && m.ImageCache() != nil && m.batch != nil; got != tc.on {
				t.Errorf("caches and batcher on: %v, want %v", got, tc.on)
			}
			if o := m.Options(); o.TextCacheBytes != DefaultTextCacheBytes || o.ImageCacheBytes != DefaultImageCacheBytes ||
				o.CacheDir == "" || o.Warn == nil {
				t.Errorf("defaults not filled in: %+v", o)
			}
		})
	}
}
