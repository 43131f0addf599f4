package eval

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/clipkit/clipkit/cliplib"
	"github.com/clipkit/clipkit/data"
	"github.com/clipkit/clipkit/internal/atomicfile"
)

// Encoder is what the evaluations need of a model. FromModel adapts a *cliplib.Model; tests use
// encoders whose embeddings are known, so that metrics can be checked by hand.
type Encoder interface {
	// Preprocess turns decoded images into one flat input batch.
	Preprocess(imgs []image.Image) ([]float32, error)
	// EncodePixels encodes a batch made by Preprocess into n L2-normalised embeddings.
	EncodePixels(pixels []float32, n int) ([][]float32, error)
	// EncodeTexts encodes texts into L2-normalised embeddings.
	EncodeTexts(texts []string) ([][]float32, error)
	// ID identifies everything that determines the embeddings (weights, architecture,
	// preprocessing, precision): the embedding cache is keyed by it.
	ID() string
}

type modelEncoder struct{ m *cliplib.Model }

// FromModel adapts a loaded model. Its ID is the model's Identity, which hashes every weight once.
func FromModel(m *cliplib.Model) Encoder { return modelEncoder{m} }

func (e modelEncoder) Preprocess(imgs []image.Image) ([]float32, error) {
	return e.m.PreprocessImages(imgs)
}
func (e modelEncoder) EncodePixels(p []float32, n int) ([][]float32, error) {
	return e.m.Encoder().EncodeImages(p, n)
}
func (e modelEncoder) EncodeTexts(t []string) ([][]float32, error) { return e.m.EncodeTexts(t) }
func (e modelEncoder) ID() string                                  { return e.m.Identity().String() }

// StreamOptions tune EncodeDataset.
type StreamOptions struct {
	// Batch is the number of images per encoder call (default 32).
	Batch int
	// Workers decode and preprocess batches in parallel with encoding (default: the number of CPUs
	// less one, at least 1).
	Workers int
	// Progress, when set, is called after each encoded batch with the images done so far.
	Progress func(done, total int)
}

// Timing tells where EncodeDataset spent its time.
type Timing struct {
	// Wall is the whole run, from the first decode to the last embedding.
	Wall time.Duration
	// Encode is the time spent inside the encoder (EncodePixels), summed over batches.
	Encode time.Duration
	// Cached is true when the embeddings were read from the cache.
	Cached bool
}

type batchOut struct {
	start  int
	pixels []float32
	n      int
	labels []int
	err    error
}

// EncodeDataset encodes the images idx of ds (all when idx is nil), in order, streaming: Workers
// goroutines decode and preprocess whole batches while the encoder works on earlier ones, and at
// most 2·Workers preprocessed batches wait in memory. It returns the embeddings and the labels.
func EncodeDataset(ctx context.Context, enc Encoder, ds data.Dataset, idx []int, opt StreamOptions) ([][]float32, []int, Timing, error) {
	if idx == nil {
		idx = make([]int, ds.Len())
		for i := range idx {
			idx[i] = i
		}
	}
	if opt.Batch <= 0 {
		opt.Batch = 32
	}
	if opt.Workers <= 0 {
		opt.Workers = max(1, runtime.NumCPU()-1)
	}
	start := time.Now()
	nBatches := (len(idx) + opt.Batch - 1) / opt.Batch
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	jobs := make(chan int)
	// Each batch gets its own channel so that the encoder takes them in order while workers run ahead.
	slots := make([]chan batchOut, nBatches)
	for i := range slots {
		slots[i] = make(chan batchOut, 1)
	}
	sem := make(chan struct{}, 2*opt.Workers) // bounds preprocessed batches in flight
	var wg sync.WaitGroup
	for range opt.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range jobs {
				lo, hi := b*opt.Batch, min((b+1)*opt.Batch, len(idx))
				out := batchOut{start: lo, n: hi - lo}
				imgs := make([]image.Image, 0, hi-lo)
				for _, i := range idx[lo:hi] {
					img, l, err := ds.Item(i)
					if err != nil {
						out.err = fmt.Errorf("item %d: %w", i, err)
						break
					}
					imgs = append(imgs, img)
					out.labels = append(out.labels, l)
				}
				if out.err == nil {
					out.pixels, out.err = enc.Preprocess(imgs)
				}
				slots[b] <- out
			}
		}()
	}
	go func() {
		defer close(jobs)
		for b := range nBatches {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			select {
			case jobs <- b:
			case <-ctx.Done():
				return
			}
		}
	}()
	embs := make([][]float32, 0, len(idx))
	labels := make([]int, 0, len(idx))
	var tm Timing
	var err error
	for b := range nBatches {
		var out batchOut
		select {
		case out = <-slots[b]:
		case <-ctx.Done():
			err = ctx.Err()
		}
		if err != nil {
			break
		}
		<-sem
		if out.err != nil {
			err = out.err
			break
		}
		t0 := time.Now()
		e, encErr := enc.EncodePixels(out.pixels, out.n)
		tm.Encode += time.Since(t0)
		if encErr != nil {
			err = encErr
			break
		}
		if len(e) != out.n {
			err = fmt.Errorf("eval: encoder returned %d embeddings for %d images", len(e), out.n)
			break
		}
		embs = append(embs, e...)
		labels = append(labels, out.labels...)
		if opt.Progress != nil {
			opt.Progress(len(embs), len(idx))
		}
	}
	cancel()
	// Drain: workers may be blocked on nothing (slots are buffered), so they finish their batch.
	wg.Wait()
	if err != nil {
		return nil, nil, tm, err
	}
	tm.Wall = time.Since(start)
	return embs, labels, tm, nil
}

// Cache keeps embeddings on disk, one file per (encoder, data set, selection): a second metric on
// the same images reads them instead of encoding again.
type Cache struct {
	// Dir holds the files ("" disables caching).
	Dir string
}

// Key is the file name stem for the given parts (encoder ID, data set description, ...).
func Key(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%d:%s;", len(p), p)
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}

const cacheMagic = "CLIPKEMB\x01"

// maxCacheRows bounds what Load accepts from a file header.
const maxCacheRows, maxCacheDim = 1 << 26, 1 << 14

// Load returns the embeddings and labels stored under key, or ok=false when there are none. A
// damaged file is an error naming it.
func (c Cache) Load(key string) (embs [][]float32, labels []int, ok bool, err error) {
	if c.Dir == "" {
		return nil, nil, false, nil
	}
	path := filepath.Join(c.Dir, key+".emb")
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil, false, nil
	}
	if err != nil {
		return nil, nil, false, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		return nil, nil, false, fmt.Errorf("embedding cache %s: not a regular file", path)
	}
	r := bufio.NewReader(f)
	magic := make([]byte, len(cacheMagic))
	var hdr [2]uint32
	if _, err := io.ReadFull(r, magic); err != nil || string(magic) != cacheMagic {
		return nil, nil, false, fmt.Errorf("embedding cache %s: not an embedding file (delete it)", path)
	}
	if err := binary.Read(r, binary.LittleEndian, &hdr); err != nil {
		return nil, nil, false, fmt.Errorf("embedding cache %s: %w", path, err)
	}
	n, d := int64(hdr[0]), int64(hdr[1])
	want := int64(len(cacheMagic)) + 8 + n*d*4 + n*4
	if n > maxCacheRows || d > maxCacheDim || st.Size() != want {
		return nil, nil, false, fmt.Errorf("embedding cache %s: %d bytes, want %d for %d×%d (truncated or damaged: delete it)", path, st.Size(), want, n, d)
	}
	flat := make([]float32, n*d)
	if err := binary.Read(r, binary.LittleEndian, flat); err != nil {
		return nil, nil, false, fmt.Errorf("embedding cache %s: %w", path, err)
	}
	lab := make([]int32, n)
	if err := binary.Read(r, binary.LittleEndian, lab); err != nil {
		return nil, nil, false, fmt.Errorf("embedding cache %s: %w", path, err)
	}
	embs = make([][]float32, n)
	labels = make([]int, n)
	for i := range embs {
		embs[i] = flat[int64(i)*d : int64(i+1)*d : int64(i+1)*d]
		labels[i] = int(lab[i])
		for _, v := range embs[i] {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return nil, nil, false, fmt.Errorf("embedding cache %s: row %d is not finite (delete it)", path, i)
			}
		}
	}
	return embs, labels, true, nil
}

// Store writes embeddings and labels under key, atomically.
func (c Cache) Store(key string, embs [][]float32, labels []int) error {
	if c.Dir == "" {
		return nil
	}
	if len(embs) != len(labels) || len(embs) == 0 {
		return fmt.Errorf("embedding cache: %d embeddings for %d labels", len(embs), len(labels))
	}
	d := len(embs[0])
	if err := os.MkdirAll(c.Dir, 0o755); err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(c.Dir, key+".emb"), 0o644, func(w io.Writer) error {
		bw := bufio.NewWriter(w)
		bw.WriteString(cacheMagic)
		binary.Write(bw, binary.LittleEndian, [2]uint32{uint32(len(embs)), uint32(d)})
		for i, e := range embs {
			if len(e) != d {
				return fmt.Errorf("embedding cache: row %d has %d values, row 0 has %d", i, len(e), d)
			}
			binary.Write(bw, binary.LittleEndian, e)
		}
		lab := make([]int32, len(labels))
		for i, l := range labels {
			lab[i] = int32(l)
		}
		binary.Write(bw, binary.LittleEndian, lab)
		return bw.Flush()
	})
}

// CachedImages is EncodeDataset through the cache: key names the selection (see Key).
func CachedImages(ctx context.Context, c Cache, key string, enc Encoder, ds data.Dataset, idx []int, opt StreamOptions) ([][]float32, []int, Timing, error) {
	if embs, labels, ok, err := c.Load(key); err != nil {
		return nil, nil, Timing{}, err
	} else if ok {
		want := ds.Len()
		if idx != nil {
			want = len(idx)
		}
		if len(embs) == want {
			return embs, labels, Timing{Cached: true}, nil
		}
	}
	embs, labels, tm, err := EncodeDataset(ctx, enc, ds, idx, opt)
	if err != nil {
		return nil, nil, tm, err
	}
	return embs, labels, tm, c.Store(key, embs, labels)
}

// CachedTexts encodes texts through the cache (labels unused), in batches of batch texts.
func CachedTexts(c Cache, key string, enc Encoder, texts []string, batch int) ([][]float32, bool, error) {
	if embs, _, ok, err := c.Load(key); err != nil {
		return nil, false, err
	} else if ok && len(embs) == len(texts) {
		return embs, true, nil
	}
	if batch <= 0 {
		batch = 256
	}
	var embs [][]float32
	for lo := 0; lo < len(texts); lo += batch {
		e, err := enc.EncodeTexts(texts[lo:min(lo+batch, len(texts))])
		if err != nil {
			return nil, false, err
		}
		embs = append(embs, e...)
	}
	return embs, false, c.Store(key, embs, make([]int, len(embs)))
}
