// Package cliplib is the facade of clipkit: load a CLIP or MobileCLIP model by registry name or
// from a checkpoint path, encode images and texts into a joint embedding space, compare them, and
// classify images zero-shot. Notebooks and the clipx command use only this package and a few
// helpers (plots, search).
//
//	m, err := cliplib.Load("ViT-B/32", cliplib.Options{})
//	defer m.Close()
//	imgs, err := m.EncodeImageFiles("cat.jpg", "dog.png")      // [2][512], L2-normalised
//	txts, err := m.EncodeTexts([]string{"a cat", "a dog"})     // [2][512]
//	logits := cliplib.Scale(cliplib.Similarity(imgs, txts), m.LogitScale())
//
// Everything below the facade lives in sub-packages, one per concern: tokenizer, preprocess,
// checkpoint (file formats and name layouts), model (configs, registry) with one package per tower
// family, encoder (backend, batching, precision), cache, search and plots.
package cliplib

import (
	"crypto/sha256"
	"fmt"
	"image"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/clipkit/clipkit/cliplib/cache"
	"github.com/clipkit/clipkit/cliplib/encoder"
	"github.com/clipkit/clipkit/cliplib/model"
	"github.com/clipkit/clipkit/cliplib/preprocess"
	"github.com/clipkit/clipkit/cliplib/tokenizer"
	"github.com/clipkit/clipkit/weights"
)

// Options configure Load. The zero value loads trained weights (fetching them into the cache if
// needed), runs on $GOMLX_BACKEND, else the fastest backend installed (backend.Choose), in float32.
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
	// Encoder tunes batching (buckets); see encoder.Options. Backend and Precision above win.
	Encoder encoder.Options
}

// LoadTimes splits the time Load took. Graph compilation is not part of it: each graph compiles
// on its first use (or encoder.PreCompile*), and the model identity is hashed on its first use.
type LoadTimes struct {
	// Read covers finding, downloading if needed, and reading the checkpoint (or drawing random
	// weights), with its configuration.
	Read time.Duration
	// Place covers validating the weights against the architecture and placing them on the
	// backend (including backend start-up and any layout change).
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

// Model is a loaded model: tokenizer, image preprocessing and the two towers on a backend. It is
// safe for concurrent use.
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

	idOnce sync.Once
	id     cache.Identity

	mu         sync.Mutex
	textCache  TextCache
	imageCache *cache.TextCache
}

// Identity returns a hash of everything that determines the model's outputs (architecture,
// precision and weights): text caches and embedding stores are keyed by it. It reads every weight,
// so it is computed on the first call (not at load) and remembered. Should the weights be
// unreadable (a closed model), the identity is one no cache or index can match.
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

// UseTextCache attaches a persistent text-embedding cache kept in dir (one file per model
// identity, shared by every process using the same model; default dir: $CLIPKIT_CACHE/textcache).
// Cached embeddings are reused by EncodeTexts, ZeroShot, ...; call SaveTextCache to persist new
// ones. It returns the cache for its statistics.
func (m *Model) UseTextCache(dir string, opt cache.Options) (*cache.TextCache, error) {
	if dir == "" {
		dir = filepath.Join(weights.DefaultCacheDir(), "textcache")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	opt.Path = filepath.Join(dir, m.Identity().String()+".textcache")
	c := cache.New(m.Identity(), m.Config.EmbedDim, opt)
	m.SetTextCache(c)
	return c, nil
}

// SaveTextCache persists the attached text cache, if it is a *cache.TextCache with a file.
func (m *Model) SaveTextCache() error {
	m.mu.Lock()
	c, ok := m.textCache.(*cache.TextCache)
	m.mu.Unlock()
	if !ok {
		return nil
	}
	return c.Save()
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

// Encoder exposes the underlying encoder (backend, precision, buckets).
func (m *Model) Encoder() *encoder.Encoder { return m.enc }

// Tokenizer returns the model's tokenizer.
func (m *Model) Tokenizer() *tokenizer.Tokenizer { return m.tok }

// Close releases the backend resources.
func (m *Model) Close() {
	if m.enc != nil {
		m.enc.Close()
	}
}

// EncodeTexts tokenizes and encodes texts, returning one L2-normalised embedding [E] per text, in
// order. Texts longer than the context are truncated (the end token kept), as open_clip does.
// When a text cache is attached (SetTextCache), cached embeddings are reused.
func (m *Model) EncodeTexts(texts []string) ([][]float32, error) {
	ids := m.tok.TokenizeBatch(texts)
	return m.EncodeTokens(ids)
}

// EncodeTokens encodes token-id sequences (each ContextLength long) into L2-normalised embeddings,
// going through the text cache when one is attached.
func (m *Model) EncodeTokens(ids [][]int32) ([][]float32, error) {
	m.mu.Lock()
	cache := m.textCache
	m.mu.Unlock()
	if cache == nil {
		return m.enc.EncodeTokens(ids)
	}
	out := make([][]float32, len(ids))
	var missIdx []int
	var missIDs [][]int32
	for i, row := range ids {
		if v, ok := cache.Get(row); ok {
			out[i] = v
		} else {
			missIdx = append(missIdx, i)
			missIDs = append(missIDs, row)
		}
	}
	if len(missIDs) > 0 {
		embs, err := m.enc.EncodeTokens(missIDs)
		if err != nil {
			return nil, err
		}
		for j, i := range missIdx {
			out[i] = embs[j]
			cache.Put(missIDs[j], embs[j])
		}
	}
	return out, nil
}

// TextCache is what Model needs of a text-embedding cache (see package cache): lookups by exact
// token ids for this model.
type TextCache interface {
	Get(ids []int32) ([]float32, bool)
	Put(ids []int32, embedding []float32)
}

// SetTextCache attaches a text-embedding cache (nil detaches it). The cache must be specific to
// this model's weights and configuration.
func (m *Model) SetTextCache(c TextCache) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.textCache = c
}

// PreprocessImages turns images into the model's input tensor: a flat [N, 3, R, R] float32
// slice, decoded colour handled as PIL's convert("RGB") does, resized, centre-cropped and
// normalised exactly as the reference pipeline of the model's weights.
func (m *Model) PreprocessImages(imgs []image.Image) ([]float32, error) {
	return preprocess.Batch(imgs, m.Preprocess)
}

// EncodeImages preprocesses and encodes images, returning one L2-normalised embedding [E] per
// image, in order.
func (m *Model) EncodeImages(imgs []image.Image) ([][]float32, error) {
	if len(imgs) == 0 {
		return nil, nil
	}
	pixels, err := m.PreprocessImages(imgs)
	if err != nil {
		return nil, err
	}
	return m.enc.EncodeImages(pixels, len(imgs))
}

// EncodeImageFiles decodes (PNG, JPEG, GIF, WebP, BMP, TIFF) and encodes image files. With an
// image cache attached (UseImageCache), files whose content was encoded before are not decoded
// or encoded again.
func (m *Model) EncodeImageFiles(paths ...string) ([][]float32, error) {
	m.mu.Lock()
	ic := m.imageCache
	m.mu.Unlock()
	out := make([][]float32, len(paths))
	keys := make([]string, len(paths))
	var todo []int
	for i, p := range paths {
		if ic != nil {
			data, err := preprocess.ReadFileLimited(p, preprocess.DefaultLimits) // regular files, bounded
			if err != nil {
				return nil, err
			}
			sum := sha256.Sum256(data)
			keys[i] = string(sum[:])
			if v, ok := ic.GetKey(keys[i]); ok {
				out[i] = v
				continue
			}
		}
		todo = append(todo, i)
	}
	if len(todo) == 0 {
		return out, nil
	}
	todoPaths := make([]string, len(todo))
	for j, i := range todo {
		todoPaths[j] = paths[i]
	}
	imgs, err := DecodeImageFiles(todoPaths...)
	if err != nil {
		return nil, err
	}
	embs, err := m.EncodeImages(imgs)
	if err != nil {
		return nil, err
	}
	for j, i := range todo {
		out[i] = embs[j]
		if ic != nil {
			ic.PutKey(keys[i], embs[j])
		}
	}
	return out, nil
}

// UseImageCache attaches a persistent cache of image embeddings keyed by the SHA-256 of each
// file's content, kept in dir (default $CLIPKIT_CACHE/imagecache), one file per model identity
// (which covers weights, architecture, preprocessing and precision). Call SaveImageCache to
// persist it; notebooks use it so that a re-run or the next cell does not recompute embeddings.
func (m *Model) UseImageCache(dir string, opt cache.Options) (*cache.TextCache, error) {
	if dir == "" {
		dir = filepath.Join(weights.DefaultCacheDir(), "imagecache")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	if opt.MaxBytes == 0 {
		opt.MaxBytes = 256 << 20
	}
	opt.Path = filepath.Join(dir, m.Identity().String()+".imagecache")
	c := cache.New(m.Identity(), m.Config.EmbedDim, opt)
	m.mu.Lock()
	m.imageCache = c
	m.mu.Unlock()
	return c, nil
}

// SaveImageCache persists the attached image cache, if any.
func (m *Model) SaveImageCache() error {
	m.mu.Lock()
	c := m.imageCache
	m.mu.Unlock()
	if c == nil {
		return nil
	}
	return c.Save()
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
