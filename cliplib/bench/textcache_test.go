package bench

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/clipkit/clipkit/cliplib"
	"github.com/clipkit/clipkit/cliplib/cache"
)

func TestZipfWorkload(t *testing.T) {
	w, err := ZipfWorkload(2000, 10, 1.1, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	counts := make([]int, 10)
	for _, i := range w {
		counts[i]++
	}
	if len(w) != 2000 || counts[0] <= counts[9] {
		t.Errorf("not skewed towards 0: counts %v", counts)
	}
	again, _ := ZipfWorkload(2000, 10, 1.1, 1, 2)
	for i := range w {
		if w[i] != again[i] {
			t.Fatal("same seeds, different workloads")
		}
	}
	for _, bad := range []struct {
		n, distinct int
		s           float64
	}{{-1, 10, 1.1}, {5, 1, 1.1}, {5, 10, 1}} {
		if _, err := ZipfWorkload(bad.n, bad.distinct, bad.s, 1, 2); err == nil {
			t.Errorf("ZipfWorkload(%+v): no error", bad)
		}
	}
}

func textCacheData() ([][]int32, [][]float32) {
	var keys [][]int32
	var embs [][]float32
	for i := range 8 {
		keys = append(keys, []int32{49406, int32(100 + i), 49407})
		embs = append(embs, []float32{float32(i), 1, 2, 3})
	}
	return keys, embs
}

func TestCacheHitRates(t *testing.T) {
	keys, embs := textCacheData()
	tests := []struct {
		name      string
		workload  []int
		fractions []float64
		want      []float64
	}{
		// Everything fits: only first sightings miss.
		{"fits", []int{0, 1, 0, 1, 2, 0}, []float64{1}, []float64{0.5}},
		// One entry: only an immediate repeat hits.
		{"one entry", []int{0, 0, 1, 0, 0}, []float64{0.125}, []float64{0.4}},
		{"tiny fraction still holds one", []int{3, 3}, []float64{0.01}, []float64{0.5}},
	}
	for _, tt := range tests {
		got, err := CacheHitRates(keys, embs, tt.workload, tt.fractions)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		for i := range got {
			if got[i] != tt.want[i] {
				t.Errorf("%s: hit rates %v, want %v", tt.name, got, tt.want)
			}
		}
	}
	if _, err := CacheHitRates(keys, embs[:2], []int{0}, []float64{1}); err == nil {
		t.Error("keys and embeddings differ in number: no error")
	}
	if _, err := CacheHitRates(keys, embs, []int{8}, []float64{1}); err == nil {
		t.Error("workload index outside: no error")
	}
	if _, err := CacheHitRates(keys, embs, []int{0}, []float64{0}); err == nil {
		t.Error("fraction 0: no error")
	}
}

func TestCheckCacheFile(t *testing.T) {
	keys, embs := textCacheData()
	var id cache.Identity
	id[3] = 7
	path := filepath.Join(t.TempDir(), "x.textcache")
	c := cache.New(id, 4, cache.Options{Path: path})
	for i := range keys {
		c.Put(keys[i], embs[i])
	}
	if err := c.Save(); err != nil {
		t.Fatal(err)
	}
	got, err := CheckCacheFile(path, id, 4, keys)
	if err != nil {
		t.Fatal(err)
	}
	if got.Corrupt == "" || got.CorruptHits != 0 || got.Foreign == "" {
		t.Errorf("CheckCacheFile = %+v: want both files rejected and nothing served", got)
	}
	// The intact file still serves its own identity.
	ok := cache.New(id, 4, cache.Options{Path: path})
	if _, hit := ok.Get(keys[0]); !hit {
		t.Error("the intact file was changed")
	}
	if _, err := CheckCacheFile(filepath.Join(t.TempDir(), "none"), id, 4, keys); err == nil {
		t.Error("missing file: no error")
	}
}

func TestReversedWords(t *testing.T) {
	tests := []struct{ in, want string }{
		{"a photo of a cat.", "cat. a of photo a"},
		{"one", "one"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := ReversedWords(tt.in); got != tt.want {
			t.Errorf("ReversedWords(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestRepeatedTextsAndCheckBatcher(t *testing.T) {
	t.Setenv("GOMLX_BACKEND", "go")
	m, err := cliplib.Load("tiny-vit", cliplib.Options{RandomWeights: true, TextCache: true, MemoryOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	work := []string{"a cat", "a dog", "a cat", "a cat"}
	rep, hit, err := RepeatedTexts(m, work, []string{"a cat", "a dog"})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Queries != 4 || rep.Distinct != 2 || hit != 0.5 {
		t.Errorf("RepeatedTexts: %+v, hit rate %v; want 4 queries, 2 distinct, hit rate 0.5 (warm-up filled nothing)", rep, hit)
	}
	chk, err := CheckBatcher("tiny-vit", 3)
	if err != nil {
		t.Fatal(err)
	}
	if chk.Checked != 3 || chk.ImageBatches < 1 || chk.TextBatches < 1 || chk.ImageDiff > 1e-4 || chk.TextDiff > 1e-4 {
		t.Errorf("CheckBatcher = %+v", chk)
	}
	if _, err := CheckBatcher("tiny-vit", 0); err == nil || !strings.Contains(err.Error(), "n=0") {
		t.Errorf("n=0: %v", err)
	}
}

func TestTimeTextsAndCompareTextCache(t *testing.T) {
	t.Setenv("GOMLX_BACKEND", "go")
	dir := t.TempDir()
	opt := cliplib.Options{RandomWeights: true}
	m, err := cliplib.Load("tiny-vit", cliplib.Options{RandomWeights: true, TextCache: true, CacheDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	run, err := TimeTexts(m, []string{"a cat", "a dog", "a cat"})
	m.Close()
	if err != nil {
		t.Fatal(err)
	}
	if run.Prompts != 3 || len(run.Embeddings) != 3 || !run.Random || run.Identity != m.Identity().String() || run.Seconds <= 0 ||
		run.Stats.Misses+run.Stats.Hits == 0 {
		t.Errorf("TimeTexts = %+v", run)
	}
	cmp, err := CompareTextCache("tiny-vit", opt, filepath.Join(dir, "repeat"), []string{"a cat", "a dog", "a cat", "a cat"}, []string{"a cat", "a dog"})
	if err != nil {
		t.Fatal(err)
	}
	if cmp.NoCache.Queries != 4 || cmp.WithCache.Queries != 4 || cmp.HitRate != 0.5 {
		t.Errorf("CompareTextCache = %+v, want 4 queries each and hit rate 0.5", cmp)
	}
}
