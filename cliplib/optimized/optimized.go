// Package optimized is the model facade with every inference optimisation of clipkit in one type,
// configured by one Options struct:
//
//   - a persistent text-embedding cache keyed by model identity and exact token ids (repeated
//     prompts and class lists cost nothing; shared between notebook runs and processes);
//   - a persistent image-embedding cache keyed by file content (EncodeImageFiles);
//   - request batching: single texts or images from many goroutines are grouped into batches
//     (package batcher), identical prompts of one batch are encoded once;
//   - reduced precision (bf16 on every backend, f16 on XLA) chosen at load time;
//   - text length bucketing of causal text towers (package encoder; on by default, exact).
//
// Model has the same encode and classify methods as cliplib.Model, so classification
// (cliplib.NewZeroShot) and image search (IndexImages, SearchText, ...) use it directly:
//
//	m, err := optimized.Load("ViT-B/32", optimized.Options{Model: cliplib.Options{Precision: "bf16"}})
//	defer m.Close() // saves the caches
//	z, err := m.ZeroShot([]string{"cat", "dog"}, cliplib.CIFARTemplates)
//	preds, err := m.ClassifyFiles(z, 1, "cat.jpg")
package optimized

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"image"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/clipkit/clipkit/cliplib"
	"github.com/clipkit/clipkit/cliplib/batcher"
	"github.com/clipkit/clipkit/cliplib/cache"
	"github.com/clipkit/clipkit/cliplib/preprocess"
	"github.com/clipkit/clipkit/internal/atomicfile"
	"github.com/clipkit/clipkit/weights"
)

// Options configure an optimized Model. The zero value turns every optimisation on except
// reduced precision: persistent text and image caches under $CLIPKIT_CACHE, batching with
// batcher's defaults (MaxBatch 32, MaxWait 2 ms), float32, text length bucketing.
type Options struct {
	// Model are the load options: backend, precision ("f32", "bf16", "f16"; f16 needs XLA),
	// random weights, ... (ignored by Wrap). Model.Encoder.FullTextLength turns text length
	// bucketing off.
	Model cliplib.Options
	// NoTextCache and NoImageCache turn the caches off.
	NoTextCache, NoImageCache bool
	// CacheDir is the directory of the persistent caches (files <identity>.textcache and
	// .imagecache under CacheDir/textcache and CacheDir/imagecache, the same files the plain facade
	// uses). Default: $CLIPKIT_CACHE (see weights.DefaultCacheDir).
	CacheDir string
	// MemoryOnly keeps the caches in memory: nothing is read from or written to disk.
	MemoryOnly bool
	// TextCacheBytes and ImageCacheBytes bound the caches' memory (defaults 64 MiB and 256 MiB).
	TextCacheBytes, ImageCacheBytes int64
	// NoBatching sends every call straight to the encoder instead of through the batchers.
	NoBatching bool
	// Batch configures the batchers (MaxBatch, MaxWait, QueueSize).
	Batch batcher.Options
	// Warn receives warnings (ignored cache files, failed saves); default standard error.
	Warn func(msg string)
}

// Model is a cliplib.Model with caches, batching and a precision. It is safe for concurrent use.
type Model struct {
	base  *cliplib.Model
	owned bool
	opt   Options

	backendName string // kept so that Stats works after Close

	text  *cache.TextCache // nil when off
	image *cache.TextCache // nil when off
	// textDirty and imageDirty record new entries since the last Save (Save skips clean caches).
	textDirty, imageDirty atomic.Bool
	batch                 *batcher.Encoder // nil when off

	mu     sync.Mutex
	closed bool
}

// Load loads a model (see cliplib.Load) with opt.Model and wraps it; Close closes the model too.
func Load(nameOrPath string, opt Options) (*Model, error) {
	base, err := cliplib.Load(nameOrPath, opt.Model)
	if err != nil {
		return nil, err
	}
	m, err := wrap(base, opt, true)
	if err != nil {
		base.Close()
		return nil, err
	}
	return m, nil
}

// Wrap adds the optimisations to an already loaded model (whose backend and precision are kept;
// opt.Model is ignored). Close does not close base.
func Wrap(base *cliplib.Model, opt Options) (*Model, error) {
	if base == nil {
		return nil, errors.New("optimized.Wrap: nil model")
	}
	return wrap(base, opt, false)
}

func wrap(base *cliplib.Model, opt Options, owned bool) (*Model, error) {
	if opt.Warn == nil {
		opt.Warn = func(msg string) { fmt.Fprintln(os.Stderr, "clipkit optimized:", msg) }
	}
	if opt.TextCacheBytes <= 0 {
		opt.TextCacheBytes = 64 << 20
	}
	if opt.ImageCacheBytes <= 0 {
		opt.ImageCacheBytes = 256 << 20
	}
	if opt.CacheDir == "" {
		opt.CacheDir = weights.DefaultCacheDir()
	}
	m := &Model{base: base, owned: owned, opt: opt, backendName: base.Encoder().BackendChoice().String()}
	var err error
	if !opt.NoTextCache {
		if m.text, err = m.openCache("textcache", ".textcache", opt.TextCacheBytes); err != nil {
			return nil, err
		}
	}
	if !opt.NoImageCache {
		if m.image, err = m.openCache("imagecache", ".imagecache", opt.ImageCacheBytes); err != nil {
			return nil, err
		}
	}
	if !opt.NoBatching {
		if m.batch, err = batcher.NewEncoder(base.Encoder(), opt.Batch); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// openCache returns a cache for this model's identity: in memory, or backed by
// CacheDir/sub/<identity><ext> (loaded now when valid; a foreign or corrupt file is ignored with a
// warning by package cache).
func (m *Model) openCache(sub, ext string, maxBytes int64) (*cache.TextCache, error) {
	co := cache.Options{MaxBytes: maxBytes, Warn: m.opt.Warn}
	if !m.opt.MemoryOnly {
		dir := filepath.Join(m.opt.CacheDir, sub)
		p := filepath.Join(dir, m.base.Identity().String()+ext)
		err := os.MkdirAll(dir, 0o755)
		if err == nil {
			err = atomicfile.CheckWritable(p)
		}
		if err != nil {
			// A cache is an optimisation: a read-only or broken cache directory must not fail the run.
			m.opt.Warn(fmt.Sprintf("the %s directory cannot be written (%v); caching in memory only for this run", sub, err))
			return cache.New(m.base.Identity(), m.base.EmbedDim(), co), nil
		}
		co.Path = p
	}
	return cache.New(m.base.Identity(), m.base.EmbedDim(), co), nil
}

// Base returns the wrapped model.
func (m *Model) Base() *cliplib.Model { return m.base }

// Name returns the model's registry name or path.
func (m *Model) Name() string { return m.base.Name }

// Label is the model's name, marked "[RANDOM WEIGHTS]" when applicable.
func (m *Model) Label() string { return m.base.Label() }

// Identity returns the hash of architecture, precision and weights (see cliplib.Model.Identity).
func (m *Model) Identity() cache.Identity { return m.base.Identity() }

// EmbedDim returns the embedding dimension E.
func (m *Model) EmbedDim() int { return m.base.EmbedDim() }

// LogitScale returns exp(logit_scale).
func (m *Model) LogitScale() float32 { return m.base.LogitScale() }

// Precision returns the compute precision ("f32", "bf16" or "f16").
func (m *Model) Precision() string { return string(m.base.Encoder().Precision()) }

// Options returns the options in effect (defaults filled in).
func (m *Model) Options() Options { return m.opt }

// EncodeTexts returns one L2-normalised embedding [E] per text, in order (see EncodeTextsContext).
func (m *Model) EncodeTexts(texts []string) ([][]float32, error) {
	return m.EncodeTextsContext(context.Background(), texts)
}

// EncodeText encodes one text; concurrent calls are batched together.
func (m *Model) EncodeText(ctx context.Context, text string) ([]float32, error) {
	out, err := m.EncodeTextsContext(ctx, []string{text})
	if err != nil {
		return nil, err
	}
	return out[0], nil
}

// EncodeTextsContext tokenizes texts, serves the cached ones from the text cache, and encodes the
// others once each (through the batcher, so that concurrent callers share batches), caching them.
func (m *Model) EncodeTextsContext(ctx context.Context, texts []string) ([][]float32, error) {
	if err := m.check(); err != nil {
		return nil, err
	}
	ids := m.base.Tokenizer().TokenizeBatch(texts)
	out := make([][]float32, len(ids))
	var missIdx []int
	for i, row := range ids {
		if m.text != nil {
			if v, ok := m.text.Get(row); ok {
				out[i] = v
				continue
			}
		}
		missIdx = append(missIdx, i)
	}
	if len(missIdx) == 0 {
		return out, nil
	}
	miss := make([][]int32, len(missIdx))
	for j, i := range missIdx {
		miss[j] = ids[i]
	}
	var embs [][]float32
	var err error
	if m.batch != nil {
		embs, err = m.batch.EncodeTokenBatch(ctx, miss)
	} else {
		embs, err = m.base.Encoder().EncodeTokens(miss)
	}
	if err != nil {
		return nil, err
	}
	for j, i := range missIdx {
		out[i] = embs[j]
		if m.text != nil {
			m.text.Put(ids[i], embs[j])
			m.textDirty.Store(true)
		}
	}
	return out, nil
}

// EncodeImages preprocesses images (in parallel) and encodes them; results in order.
func (m *Model) EncodeImages(imgs []image.Image) ([][]float32, error) {
	return m.EncodeImagesContext(context.Background(), imgs)
}

// EncodeImage encodes one image; concurrent calls are batched together.
func (m *Model) EncodeImage(ctx context.Context, img image.Image) ([]float32, error) {
	out, err := m.EncodeImagesContext(ctx, []image.Image{img})
	if err != nil {
		return nil, err
	}
	return out[0], nil
}

// EncodeImagesContext is EncodeImages with a context (cancellation while queued for a batch).
func (m *Model) EncodeImagesContext(ctx context.Context, imgs []image.Image) ([][]float32, error) {
	if err := m.check(); err != nil {
		return nil, err
	}
	if len(imgs) == 0 {
		return nil, nil
	}
	pixels, err := m.base.PreprocessImages(imgs)
	if err != nil {
		return nil, err
	}
	return m.encodePixels(ctx, pixels, len(imgs))
}

func (m *Model) encodePixels(ctx context.Context, pixels []float32, n int) ([][]float32, error) {
	if m.batch != nil {
		return m.batch.EncodeImages(ctx, pixels, n)
	}
	return m.base.Encoder().EncodeImages(pixels, n)
}

// EncodeImageFiles encodes image files (PNG, JPEG, GIF, WebP, BMP, TIFF), in order. Files whose
// content was encoded before by this model (in this process or, with a persistent cache, any
// earlier one) are neither decoded nor encoded again.
func (m *Model) EncodeImageFiles(paths ...string) ([][]float32, error) {
	return m.EncodeImageFilesContext(context.Background(), paths...)
}

// EncodeImageFilesContext is EncodeImageFiles with a context.
func (m *Model) EncodeImageFilesContext(ctx context.Context, paths ...string) ([][]float32, error) {
	if err := m.check(); err != nil {
		return nil, err
	}
	out := make([][]float32, len(paths))
	keys := make([]string, len(paths))
	var todo []int
	for i, p := range paths {
		if m.image != nil {
			data, err := preprocess.ReadFileLimited(p, preprocess.DefaultLimits) // regular files, bounded
			if err != nil {
				return nil, err
			}
			sum := sha256.Sum256(data)
			keys[i] = string(sum[:])
			if v, ok := m.image.GetKey(keys[i]); ok {
				out[i] = v
				continue
			}
		}
		todo = append(todo, i)
	}
	if len(todo) == 0 {
		return out, nil
	}
	// Decode and preprocess in parallel (decoding a photo costs about as much as preprocessing it).
	per := 3 * m.base.Preprocess.Size * m.base.Preprocess.Size
	pixels := make([]float32, len(todo)*per)
	errs := make([]error, len(todo))
	var wg sync.WaitGroup
	next := make(chan int)
	for range min(runtime.GOMAXPROCS(0), len(todo)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range next {
				img, _, err := preprocess.DecodeFile(paths[todo[j]])
				if err == nil {
					err = preprocess.ApplyInto(pixels[j*per:(j+1)*per], img, m.base.Preprocess)
				}
				if err != nil {
					errs[j] = fmt.Errorf("%s: %w", paths[todo[j]], err)
				}
			}
		}()
	}
	for j := range todo {
		next <- j
	}
	close(next)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	embs, err := m.encodePixels(ctx, pixels, len(todo))
	if err != nil {
		return nil, err
	}
	for j, i := range todo {
		out[i] = embs[j]
		if m.image != nil {
			m.image.PutKey(keys[i], embs[j])
			m.imageDirty.Store(true)
		}
	}
	return out, nil
}

// ZeroShot builds a prompt-ensembled zero-shot classifier (see cliplib.NewZeroShot); class
// prompts come from the text cache when seen before.
func (m *Model) ZeroShot(classes []string, templates []string) (*cliplib.ZeroShotClassifier, error) {
	return cliplib.NewZeroShot(m, classes, templates)
}

// ClassifyFiles returns the k most probable classes of z for each image file.
func (m *Model) ClassifyFiles(z *cliplib.ZeroShotClassifier, k int, paths ...string) ([][]cliplib.Prediction, error) {
	embs, err := m.EncodeImageFiles(paths...)
	if err != nil {
		return nil, err
	}
	return z.TopK(embs, k), nil
}

// Stats are the counters of the optimisations.
type Stats struct {
	// Precision and Backend describe the compute.
	Precision, Backend string
	// TextBucketing is true when causal text towers are cut to length buckets.
	TextBucketing bool
	// TextCache and ImageCache are the caches' counters (zero when off).
	TextCache, ImageCache cache.Stats
	// TextBatches and ImageBatches are the batchers' counters (zero when off).
	TextBatches, ImageBatches batcher.Stats
	// Deduplicated counts text requests served by an identical request of the same batch.
	Deduplicated int64
}

// Stats returns a snapshot of the counters (also after Close).
func (m *Model) Stats() Stats {
	s := Stats{Precision: m.Precision(), Backend: m.backendName, TextBucketing: m.TextBucketing()}
	if m.text != nil {
		s.TextCache = m.text.Stats()
	}
	if m.image != nil {
		s.ImageCache = m.image.Stats()
	}
	if m.batch != nil {
		s.TextBatches, s.ImageBatches = m.batch.TextStats(), m.batch.ImageStats()
		s.Deduplicated = m.batch.Deduplicated()
	}
	return s
}

// TextBucketing reports whether texts run only up to their length bucket (causal text towers,
// unless Options.Model.Encoder.FullTextLength is set).
func (m *Model) TextBucketing() bool {
	short := make([]int32, m.base.Config.Text.ContextLength)
	short[0], short[1] = 1, 2 // the end-of-text token (largest id) at position 1
	return m.base.Encoder().TextLength([][]int32{short}) < len(short)
}

// TextCache returns the text cache (nil when off), e.g. for its statistics.
func (m *Model) TextCache() *cache.TextCache { return m.text }

// ImageCache returns the image cache (nil when off).
func (m *Model) ImageCache() *cache.TextCache { return m.image }

// Save persists the caches that gained entries since they were loaded or last saved (no-op for
// disabled caches and those kept in memory: MemoryOnly, or a directory that cannot be written).
func (m *Model) Save() error {
	var errs []error
	for _, c := range []struct {
		cache *cache.TextCache
		dirty *atomic.Bool
	}{{m.text, &m.textDirty}, {m.image, &m.imageDirty}} {
		if c.cache != nil && c.cache.Path() != "" && c.dirty.Swap(false) {
			if err := c.cache.Save(); err != nil {
				c.dirty.Store(true)
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// Close stops the batchers (finishing queued requests), saves the caches and, when the model was
// loaded by Load, closes it. Later calls fail with an error; Close itself is idempotent.
func (m *Model) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	m.mu.Unlock()
	if m.batch != nil {
		m.batch.Close()
	}
	err := m.Save()
	if m.owned {
		m.base.Close()
	}
	return err
}

func (m *Model) check() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return fmt.Errorf("optimized model %s is closed", m.base.Name)
	}
	return nil
}
