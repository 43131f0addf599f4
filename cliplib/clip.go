// Package cliplib is the facade of clipkit: load a CLIP or MobileCLIP model by registry name or
// from a checkpoint path, encode images and texts into a joint embedding space, compare them, and
// classify images zero-shot. Load is the only way in: the CLI, the notebooks (through nb/explore
// or directly), the benchmarks and image search (package imagesearch) all hold a *Model.
//
//	m, err := cliplib.Load("ViT-B/32", cliplib.Options{})
//	defer m.Close()
//	imgs, err := m.EncodeImageFiles("cat.jpg", "dog.png")      // [2][512], L2-normalised
//	txts, err := m.EncodeTexts([]string{"a cat", "a dog"})     // [2][512]
//	logits := cliplib.Scale(cliplib.Similarity(imgs, txts), m.LogitScale())
//
// The zero Options are the cheapest to start: no cache, no batching, float32, text length
// bucketing (exact). Inference optimisations are options of Load, each with one implementation
// here: persistent text and image embedding caches (Options.TextCache, Options.ImageCache),
// request batching (Options.Batching), reduced precision (Options.Precision). Options.Optimized
// turns every exact one on:
//
//	m, err := cliplib.Load("ViT-B/32", cliplib.Options{Precision: "bf16"}.Optimized())
//	defer m.Close() // saves the caches
//	z, err := m.ZeroShot([]string{"cat", "dog"}, cliplib.CIFARTemplates) // class prompts cached
//	preds, err := m.ClassifyFiles(z, 1, "cat.jpg")
//
// Everything below the facade lives in sub-packages, one per concern: tokenizer, preprocess,
// checkpoint (file formats and name layouts), model (configs, registry) with one package per tower
// family, encoder (backend, buckets, precision), batcher, cache, search (vector indexes and
// stores) and imagesearch (image folders indexed by a Model).
package cliplib

import (
	"crypto/sha256"
	"fmt"
	"image"
	"sync"
	"sync/atomic"
	"time"

	"github.com/clipkit/clipkit/cliplib/batcher"
	"github.com/clipkit/clipkit/cliplib/cache"
	"github.com/clipkit/clipkit/cliplib/encoder"
	"github.com/clipkit/clipkit/cliplib/model"
	"github.com/clipkit/clipkit/cliplib/preprocess"
	"github.com/clipkit/clipkit/cliplib/tokenizer"
)

// Options configure Load. The zero value loads trained weights (fetching them into the cache if
// needed), runs on $GOMLX_BACKEND, else the fastest backend installed (backend.Choose), in
// float32, with text length bucketing, and with no cache and no batching (so that Load does not
// hash the weights: Model.Identity is computed when first asked). Optimized turns the caches and
// batching on.
type Options struct {
	// Backend is a GoMLX backend configuration: "go" (simplego), "xla:cpu", "xla:cuda", ...
	// Empty means $GOMLX_BACKEND, else the fastest installed (xla:cuda, xla:cpu, go; see backend.Choose).
	Backend string
	// Precision is "f32" (default), "bf16" or "f16" (f16 needs an XLA backend).
	Precision string
	// Arch names the architecture of a checkpoint given by path when it cannot be read from a
	// config file next to it (otherwise it is inferred from the tensor shapes, as OpenAI's loader
	// does, with QuickGELU).
	Arch string
	// Offline forbids network access: weights must already be in the cache.
	Offline bool
	// RandomWeights skips trained weights and uses deterministic random ones (for tests, smoke
	// runs and timing). Results are meaningless and Model.RandomWeights reports it.
	RandomWeights bool
	// FallbackToRandom uses random weights when trained ones cannot be fetched (no network), and
	// records why in Model.Source.Reason. Without it, Load fails.
	FallbackToRandom bool
	// NoFold keeps ResNet BatchNorms and MobileCLIP train-time branches unfolded (for tests).
	NoFold bool
	// Encoder tunes the encoder: batch buckets, and FullTextLength turns text length bucketing
	// off; see encoder.Options. Backend and Precision above win.
	Encoder encoder.Options

	// TextCache turns on the text-embedding cache, keyed by model identity and exact token ids:
	// repeated prompts and class lists are encoded once (EncodeTexts, EncodeTokens, ZeroShot).
	TextCache bool
	// ImageCache turns on the image-embedding cache, keyed by model identity and the SHA-256 of a
	// file's content (EncodeImageFiles) or of decoded pixels (EncodeImagesCached).
	ImageCache bool
	// CacheDir is the directory of the persistent caches: files <identity>.textcache under
	// CacheDir/textcache and <identity>.imagecache under CacheDir/imagecache, shared by every
	// process using the same model. Default: $CLIPKIT_CACHE (see weights.DefaultCacheDir). A
	// directory that cannot be written makes the caches memory-only, with a warning.
	CacheDir string
	// MemoryOnly keeps the caches in memory: nothing is read from or written to disk.
	MemoryOnly bool
	// TextCacheBytes and ImageCacheBytes bound the caches' memory (defaults 64 MiB and 256 MiB);
	// least recently used entries are evicted beyond them.
	TextCacheBytes, ImageCacheBytes int64
	// Batching sends encode calls through one request batcher per tower (package batcher):
	// single texts or images from many goroutines are grouped into batches, and identical
	// prompts of one batch are encoded once.
	Batching bool
	// Batch configures the batchers (MaxBatch, MaxWait, QueueSize; zero fields take batcher's
	// defaults: 32 requests, 2 ms).
	Batch batcher.Options
	// Warn receives warnings (ignored cache files, a cache directory that cannot be written);
	// default standard error.
	Warn func(msg string)
}

// Optimized returns o with every inference optimisation that keeps results exact turned on:
// persistent text and image caches (under CacheDir, unless MemoryOnly) and request batching.
// Precision is left as o has it (reduced precision changes results). The caches are named by
// the model identity, so Load then hashes the weights.
func (o Options) Optimized() Options {
	o.TextCache, o.ImageCache, o.Batching = true, true, true
	return o
}

// Default cache bounds (Options.TextCacheBytes, Options.ImageCacheBytes).
const (
	DefaultTextCacheBytes  = 64 << 20
	DefaultImageCacheBytes = 256 << 20
)

// LoadTimes splits the time Load took. Graph compilation is not part of it: each graph compiles
// on its first use (or encoder.PreCompile*), and the model identity is hashed on its first use
// (at Load when a cache is on).
type LoadTimes struct {
	// Read covers finding, downloading if needed, and reading the checkpoint (or drawing random
	// weights), with its configuration.
	Read time.Duration
	// Place covers validating the weights against the architecture, starting the backend, and
	// opening the caches. Each tower's weights are converted to their precision and layout, and
	// placed on the backend, on that tower's first use, not here (encoder.New; the encoder's
	// WeightConversionTime says how long that has taken).
	Place time.Duration
}

// Source describes where a model's weights came from.
type Source struct {
	Path   string // file or directory the weights were read from ("" for random weights)
	Format string // checkpoint format ("safetensors", "torch-zip", "torchscript") or "random"
	Layout string // name layout of the file ("openai", "hf", "mobileclip", ...)
	Random bool   // weights are randomly initialised
	Reason string // why random weights were used, when they were
}

// Model is a loaded model: tokenizer, image preprocessing and the two towers on a backend, with
// the caches and batchers its Options asked for. It is safe for concurrent use. Close it.
type Model struct {
	// Name is the registry name or the path the model was loaded from.
	Name string
	// Config is the architecture.
	Config *model.Config
	// Source tells where the weights came from; Source.Random marks random weights.
	Source Source
	// Preprocess is the image preprocessing the weights expect (chosen by the registry / config).
	Preprocess preprocess.Config
	// LoadTimes tells where Load spent its time.
	LoadTimes LoadTimes

	tok *tokenizer.Tokenizer
	enc *encoder.Encoder
	opt Options

	backendName string // kept so that Stats works after Close

	idOnce sync.Once
	id     cache.Identity

	text, image *cache.TextCache // nil when off
	// textDirty and imageDirty record new entries since the last Save (Save skips clean caches).
	textDirty, imageDirty atomic.Bool
	batch                 *batcher.Encoder // nil when off

	mu     sync.Mutex
	closed bool
}

// Identity returns a hash of everything that determines the model's outputs (architecture,
// precision and weights): caches and embedding indexes are keyed by it. It reads every weight,
// so it is computed on the first call (at Load only when a cache is on) and remembered. Should
// the weights be unreadable (a closed model), the identity is one no cache or index can match.
func (m *Model) Identity() cache.Identity {
	m.idOnce.Do(func() {
		id, err := identity(m.Config, m.enc)
		if err != nil {
			h := sha256.Sum256([]byte(fmt.Sprintf("unreadable weights %p %d: %v", m, time.Now().UnixNano(), err)))
			id = h
		}
		m.id = id
	})
	return m.id
}

// RandomWeights reports whether the model runs on random weights (results are meaningless).
func (m *Model) RandomWeights() bool { return m.Source.Random }

// Label is a short description for printing: the name, plus "RANDOM WEIGHTS" when applicable.
func (m *Model) Label() string {
	if m.Source.Random {
		return m.Name + " [RANDOM WEIGHTS]"
	}
	return m.Name
}

// EmbedDim returns the dimension E of the joint embedding space.
func (m *Model) EmbedDim() int { return m.Config.EmbedDim }

// LogitScale returns exp(logit_scale): logits = LogitScale · cosine similarity.
func (m *Model) LogitScale() float32 { return m.enc.LogitScale() }

// Precision returns the compute precision ("f32", "bf16" or "f16").
func (m *Model) Precision() string { return string(m.enc.Precision()) }

// Options returns the options the model was loaded with, defaults filled in (Warn, CacheDir and
// the cache bounds).
func (m *Model) Options() Options { return m.opt }

// Encoder exposes the underlying encoder (backend, precision, buckets). Calls made on it directly
// bypass the caches and batchers.
func (m *Model) Encoder() *encoder.Encoder { return m.enc }

// Tokenizer returns the model's tokenizer.
func (m *Model) Tokenizer() *tokenizer.Tokenizer { return m.tok }

// TextBucketing reports whether texts run only up to their length bucket (causal text towers,
// unless Options.Encoder.FullTextLength is set).
func (m *Model) TextBucketing() bool {
	short := make([]int32, m.Config.Text.ContextLength)
	short[0], short[1] = 1, 2 // the end-of-text token (largest id) at position 1
	return m.enc.TextLength([][]int32{short}) < len(short)
}

// Close stops the batchers (finishing queued requests), saves the caches that changed, and
// releases the backend resources. Later encode calls fail with an error; Close itself is
// idempotent (a second call returns nil).
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
	if m.enc != nil {
		m.enc.Close()
	}
	return err
}

// check returns an error once the model is closed.
func (m *Model) check() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return fmt.Errorf("model %s is closed", m.Name)
	}
	return nil
}

// DecodeImageFiles decodes image files, failing with the first file that cannot be decoded.
func DecodeImageFiles(paths ...string) ([]image.Image, error) {
	imgs := make([]image.Image, len(paths))
	for i, p := range paths {
		img, _, err := preprocess.DecodeFile(p)
		if err != nil {
			return nil, err
		}
		imgs[i] = img
	}
	return imgs, nil
}

// preprocessFor maps a model's preprocessing description onto the preprocess package's config.
func preprocessFor(cfg *model.Config) (preprocess.Config, error) {
	p := cfg.PreprocessOrDefault()
	c := preprocess.Config{Size: cfg.Vision.ImageSize, Mean: p.Mean, Std: p.Std}
	switch p.Interpolation {
	case "bicubic":
		c.Interpolation = preprocess.Bicubic
	case "bilinear":
		c.Interpolation = preprocess.Bilinear
	default:
		return c, fmt.Errorf("model %q: unsupported interpolation %q", cfg.Name, p.Interpolation)
	}
	return c, nil
}
