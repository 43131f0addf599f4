package bench

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/clipkit/clipkit/cliplib"
	"github.com/clipkit/clipkit/cliplib/batcher"
	"github.com/clipkit/clipkit/cliplib/cache"
)

// ZipfWorkload returns n indices in [0, distinct) drawn from a Zipf distribution with exponent s
// (> 1; a few indices are drawn far more often than the rest), from a PCG generator seeded with
// seed1, seed2: a skewed query workload.
func ZipfWorkload(n, distinct int, s float64, seed1, seed2 uint64) ([]int, error) {
	if n < 0 || distinct < 2 || !(s > 1) {
		return nil, fmt.Errorf("bench.ZipfWorkload: n=%d distinct=%d s=%v: want n >= 0, at least 2 distinct items and s > 1", n, distinct, s)
	}
	zipf := rand.NewZipf(rand.New(rand.NewPCG(seed1, seed2)), s, 1, uint64(distinct-1))
	out := make([]int, n)
	for i := range out {
		out[i] = int(zipf.Uint64())
	}
	return out, nil
}

// CacheHitRates replays workload (indices into keys and embs: token ids and their embeddings)
// against in-memory LRU text caches bounded to each of fractions (0 < f <= 1) of the bytes that
// all entries take (at least one entry), filling a cache on each miss, and returns each cache's
// hit rate.
func CacheHitRates(keys [][]int32, embs [][]float32, workload []int, fractions []float64) ([]float64, error) {
	if len(keys) == 0 || len(keys) != len(embs) {
		return nil, fmt.Errorf("bench.CacheHitRates: %d keys and %d embeddings, want the same positive number", len(keys), len(embs))
	}
	for _, i := range workload {
		if i < 0 || i >= len(keys) {
			return nil, fmt.Errorf("bench.CacheHitRates: workload index %d outside the %d keys", i, len(keys))
		}
	}
	var id cache.Identity
	dim := len(embs[0])
	full := cache.New(id, dim, cache.Options{})
	for i := range keys {
		full.Put(keys[i], embs[i])
	}
	perEntry := full.Stats().Bytes / int64(len(keys))
	rates := make([]float64, len(fractions))
	for k, f := range fractions {
		if !(f > 0 && f <= 1) {
			return nil, fmt.Errorf("bench.CacheHitRates: fraction %v, want 0 < f <= 1", f)
		}
		c := cache.New(id, dim, cache.Options{MaxBytes: max(perEntry, int64(f*float64(len(keys)))*perEntry)})
		for _, i := range workload {
			if _, ok := c.Get(keys[i]); !ok {
				c.Put(keys[i], embs[i])
			}
		}
		rates[k] = c.Stats().HitRate()
	}
	return rates, nil
}

// CacheFileCheck is how text-cache files that must not be trusted are treated.
type CacheFileCheck struct {
	// Corrupt is the warning for a copy of the file with one byte flipped, CorruptHits the
	// lookups that copy still served (0: nothing of it was used).
	Corrupt     string
	CorruptHits int64
	// Foreign is the warning for the intact file opened by a cache of another model identity.
	Foreign string
}

// CheckCacheFile damages a copy of the text-cache file path (written for identity id, embeddings
// of dimension dim) in a temporary folder and looks keys up through it, then opens the intact
// file for another identity.
func CheckCacheFile(path string, id cache.Identity, dim int, keys [][]int32) (CacheFileCheck, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return CacheFileCheck{}, fmt.Errorf("bench.CheckCacheFile: %w", err)
	}
	if len(data) == 0 {
		return CacheFileCheck{}, fmt.Errorf("bench.CheckCacheFile: %s is empty", path)
	}
	tmp, err := os.MkdirTemp("", "textcache")
	if err != nil {
		return CacheFileCheck{}, err
	}
	defer os.RemoveAll(tmp)
	data[len(data)/2] ^= 0x40
	bad := filepath.Join(tmp, "damaged.textcache")
	if err := os.WriteFile(bad, data, 0o644); err != nil {
		return CacheFileCheck{}, err
	}
	var out CacheFileCheck
	c := cache.New(id, dim, cache.Options{Path: bad, Warn: func(msg string) { out.Corrupt = msg }})
	for _, k := range keys {
		if _, ok := c.Get(k); ok {
			out.CorruptHits++
		}
	}
	other := id
	other[0] ^= 1
	cache.New(other, dim, cache.Options{Path: path, Warn: func(msg string) { out.Foreign = msg }})
	return out, nil
}

// ReversedWords returns text with its words in reverse order: the same token count as text (so it
// compiles the same text-length graphs) but other token ids (so it fills no cache entry for text).
func ReversedWords(text string) string {
	w := strings.Fields(text)
	for a, z := 0, len(w)-1; a < z; a, z = a+1, z-1 {
		w[a], w[z] = w[z], w[a]
	}
	return strings.Join(w, " ")
}

// RepeatedTexts times workload on m, one text per call as a service receives them
// (RepeatedQueries), after an untimed warm-up that encodes each of warmup with its words reversed
// (ReversedWords: compiles the graphs without filling cache entries). hitRate is the share of the
// workload's lookups the model's text cache answered (0 without a text cache).
func RepeatedTexts(m *cliplib.Model, workload, warmup []string) (rep RepeatReport, hitRate float64, err error) {
	for _, q := range warmup {
		if _, err := m.EncodeTexts([]string{ReversedWords(q)}); err != nil {
			return RepeatReport{}, 0, err
		}
	}
	h0 := m.Stats().TextCache
	rep, err = RepeatedQueries(workload, func(q string) error { _, err := m.EncodeTexts([]string{q}); return err })
	if err != nil {
		return RepeatReport{}, 0, err
	}
	st := m.Stats().TextCache
	hits, total := st.Hits-h0.Hits, (st.Hits-h0.Hits)+(st.Misses-h0.Misses)
	if total == 0 {
		return rep, 0, nil
	}
	return rep, float64(hits) / float64(total), nil
}

// BatcherCheck compares embeddings of requests sent through a batcher with one-at-a-time
// encoding.
type BatcherCheck struct {
	Checked             int     // requests per tower
	ImageDiff, TextDiff float64 // largest absolute difference, batched against one at a time
	// ImageBatches and TextBatches are the batches the batcher formed.
	ImageBatches, TextBatches int64
}

// CheckBatcher loads modelName with random weights, encodes n synthetic images and n prompts one
// at a time, then sends them through a batcher (MaxBatch n) from 2n goroutines and compares.
func CheckBatcher(modelName string, n int) (BatcherCheck, error) {
	if n < 1 {
		return BatcherCheck{}, fmt.Errorf("bench.CheckBatcher: n=%d, want at least 1", n)
	}
	m, err := cliplib.Load(modelName, cliplib.Options{RandomWeights: true})
	if err != nil {
		return BatcherCheck{}, err
	}
	defer m.Close()
	enc := m.Encoder()
	r := m.Config.Vision.ImageSize
	imgs, texts := make([][]float32, n), make([]string, n)
	for i := range n {
		imgs[i] = make([]float32, 3*r*r)
		for j := range imgs[i] {
			imgs[i][j] = float32(math.Sin(float64(j)*0.003+float64(i))) * 1.5
		}
		texts[i] = fmt.Sprintf("a photo of %d cats on a mat.", i)
	}
	ids := m.Tokenizer().TokenizeBatch(texts)
	wantI, wantT := make([][]float32, n), make([][]float32, n)
	for i := range n {
		a, err := enc.EncodeImages(imgs[i], 1)
		if err != nil {
			return BatcherCheck{}, err
		}
		b, err := enc.EncodeTokens(ids[i : i+1])
		if err != nil {
			return BatcherCheck{}, err
		}
		wantI[i], wantT[i] = a[0], b[0]
	}
	be, err := batcher.NewEncoder(enc, batcher.Options{MaxBatch: n, MaxWait: 100 * time.Millisecond})
	if err != nil {
		return BatcherCheck{}, err
	}
	defer be.Close()
	gotI, gotT := make([][]float32, n), make([][]float32, n)
	errs := make([]error, 2*n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(2)
		go func() { defer wg.Done(); gotI[i], errs[2*i] = be.EncodeImage(context.Background(), imgs[i]) }()
		go func() { defer wg.Done(); gotT[i], errs[2*i+1] = be.EncodeTokens(context.Background(), ids[i]) }()
	}
	wg.Wait()
	out := BatcherCheck{Checked: n, ImageBatches: be.ImageStats().Batches, TextBatches: be.TextStats().Batches}
	for i := range n {
		if errs[2*i] != nil || errs[2*i+1] != nil {
			return BatcherCheck{}, fmt.Errorf("request %d: %v %v", i, errs[2*i], errs[2*i+1])
		}
		for j := range gotI[i] {
			out.ImageDiff = math.Max(out.ImageDiff, math.Abs(float64(gotI[i][j]-wantI[i][j])))
		}
		for j := range gotT[i] {
			out.TextDiff = math.Max(out.TextDiff, math.Abs(float64(gotT[i][j]-wantT[i][j])))
		}
	}
	return out, nil
}

// TextRun is one timed pass of prompts through a model, with its text cache's counters.
type TextRun struct {
	Model, Backend, Precision string
	Random                    bool   // the model ran on random weights
	Identity                  string // the model's identity (cache.Identity.String), which names its cache file
	Prompts                   int
	Seconds                   float64
	Stats                     cache.Stats // the text cache's counters after the pass
	// Embeddings are the prompts' embeddings (callers drop them before saving where not needed).
	Embeddings [][]float32 `json:",omitempty"`
	// FileBytes (the size of the saved cache file) and MaxAbsDiff (the largest difference from
	// embeddings computed another way) are for the caller to fill in; TimeTexts leaves them 0.
	FileBytes  int64   `json:",omitempty"`
	MaxAbsDiff float64 `json:",omitempty"`
}

// TimeTexts encodes prompts on m in one call and times it.
func TimeTexts(m *cliplib.Model, prompts []string) (TextRun, error) {
	start := time.Now()
	embs, err := m.EncodeTexts(prompts)
	took := time.Since(start)
	if err != nil {
		return TextRun{}, err
	}
	st := m.Stats()
	return TextRun{Model: m.Label(), Backend: st.Backend, Precision: m.Precision(), Random: m.RandomWeights(),
		Identity: m.Identity().String(), Prompts: len(prompts), Seconds: took.Seconds(), Stats: st.TextCache, Embeddings: embs}, nil
}

// TextCacheComparison is one workload of text queries timed without a text cache and through an
// empty one.
type TextCacheComparison struct {
	NoCache, WithCache RepeatReport
	// HitRate is the share of the workload's lookups the cache answered.
	HitRate float64
}

// CompareTextCache loads name with opt twice, first with the text cache off and then with an
// empty text cache in dir (emptied first), and times workload on each (RepeatedTexts, warming up
// with warmup).
func CompareTextCache(name string, opt cliplib.Options, dir string, workload, warmup []string) (TextCacheComparison, error) {
	var out TextCacheComparison
	for _, on := range []bool{false, true} {
		if err := os.RemoveAll(dir); err != nil {
			return TextCacheComparison{}, err
		}
		o := opt
		o.TextCache, o.CacheDir = on, dir
		m, err := cliplib.Load(name, o)
		if err != nil {
			return TextCacheComparison{}, err
		}
		rep, hit, err := RepeatedTexts(m, workload, warmup)
		m.Close()
		if err != nil {
			return TextCacheComparison{}, err
		}
		if on {
			out.WithCache, out.HitRate = rep, hit
		} else {
			out.NoCache = rep
		}
	}
	return out, nil
}
