// Package explore is what the exploration notebooks (notebooks/01-09) share: which model they run
// on (CLIP_MODEL, default ViT-B/32, tiny-vit in smoke mode) and on which backend, a banner that
// says so (and says loudly when the weights are random), embedding of image files and dataset
// items in batches with a progress bar and an on-disk cache, the datasets the notebooks use (with
// an explicit fallback when CIFAR-10 cannot be fetched), and parameter counts per tower.
//
// Each GoNB cell is a new process. A cell that needs the model calls Open, which attaches to the
// notebooks' model server (`clipx serve`, through nb/serve.AttachNotebook: the server the live
// widgets use too), starting it on first use: the first such cell pays the model load and
// compile (seconds for ViT-B/32), later cells pay neither, only HTTP calls. The server keeps
// cliplib's persistent text and image caches, so embeddings computed by an earlier cell or an
// earlier run are read back instead of recomputed. Cells that measure the model itself
// (benchmarks, precision reports, the eval suite) call OpenLocal instead, which loads the model
// in the cell's process, as every cell did before the server. When no server can be started
// (no clipx binary, no Go toolchain to build one), Open falls back to OpenLocal and says so in
// the cell. A Session is a thin notebook view of the model: it adds the banner, progress bars
// and datasets, no inference of its own.
package explore

import (
	"errors"
	"fmt"
	"image"
	"os"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/clipkit/clipkit/cliplib"
	"github.com/clipkit/clipkit/cliplib/backend"
	"github.com/clipkit/clipkit/cliplib/model"
	api "github.com/clipkit/clipkit/cliplib/serve"
	"github.com/clipkit/clipkit/cliplib/tokenizer"
	"github.com/clipkit/clipkit/nb/notebook"
	"github.com/clipkit/clipkit/nb/serve"
)

// Environment variables read by this package (besides CLIP_SMOKE, see package notebook, and
// GOMLX_BACKEND, see package backend).
const (
	// EnvModel names the model: a registry name (`clipx models`) or a checkpoint path.
	EnvModel = "CLIP_MODEL"
	// EnvPrecision is the compute precision: f32 (default), bf16 or f16.
	EnvPrecision = serve.EnvPrecision
	// EnvPerClass overrides the number of dataset items per class the notebooks sample.
	EnvPerClass = "CLIP_PER_CLASS"
)

// Models used when CLIP_MODEL is not set.
const (
	DefaultModel = "ViT-B/32"
	SmokeModel   = "tiny-vit"
)

// BatchSize is the number of images encoded per call by EncodeFiles and EncodeDataset (one of the
// encoder's default batch buckets).
const BatchSize = 16

// ModelName returns $CLIP_MODEL, else SmokeModel in smoke mode, else DefaultModel.
func ModelName() string {
	if m := strings.TrimSpace(os.Getenv(EnvModel)); m != "" {
		return m
	}
	return notebook.Pick(DefaultModel, SmokeModel)
}

// PerClass returns how many items per class a notebook samples: $CLIP_PER_CLASS when set to a
// positive integer, else full (or smoke in smoke mode).
func PerClass(full, smoke int) (int, error) {
	if s := strings.TrimSpace(os.Getenv(EnvPerClass)); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return 0, fmt.Errorf("%s=%q: want a positive whole number", EnvPerClass, s)
		}
		return n, nil
	}
	return notebook.Pick(full, smoke), nil
}

// Session is the notebooks' model, with what notebooks show about it: served by the shared
// model server (Open) or loaded in the cell's process (OpenLocal).
type Session struct {
	// Backend describes the GoMLX backend the model runs on (backend.DescribeChoice).
	Backend string
	// Smoke is true in smoke mode.
	Smoke bool

	srv   *serve.Client  // Open: the model server
	local *cliplib.Model // OpenLocal: the model in this process
	// info describes the model: the server's GET /v1/info, or api.InfoOf of the local model.
	info *serve.Info
	// randomReason is why the server runs random weights when Open fell back to them.
	randomReason string
}

// localLoads counts the models loaded in this process by OpenLocal (tests check that a
// server-backed cell loads none).
var localLoads atomic.Int64

// Open returns the notebooks' model, ModelName(), served by the shared model server
// (nb/serve.AttachNotebook: backend $GOMLX_BACKEND, precision $CLIP_PRECISION, random weights in
// smoke mode or, with a visible notice, when the trained weights cannot be fetched), which it
// starts on first use: only that first cell pays the load and compile. The server holds
// persistent text and image embedding caches under $CLIPKIT_CACHE (default ~/.cache/clipkit).
// When no server can be started, Open loads the model in this process (OpenLocal) and says so
// in the cell and on stderr.
func Open() (*Session, error) {
	return OpenModel(ModelName())
}

// OpenModel is Open for a given model name or checkpoint path.
func OpenModel(name string) (*Session, error) {
	prec := os.Getenv(EnvPrecision)
	c, reason, err := serve.AttachNotebook(name, prec)
	if se := (*serve.SettingError)(nil); errors.As(err, &se) {
		return nil, fmt.Errorf("explore.Open: %w", err) // a setting to fix, not a reason to load in process
	}
	if err != nil {
		s, lerr := OpenLocalModel(name)
		if lerr != nil {
			return nil, fmt.Errorf("%w\n(the model server could not be started either: %v)", lerr, err)
		}
		notebook.DisplayMarkdown(fmt.Sprintf("**The model server could not be started, so this cell loads %s itself** "+
			"(seconds of load and compile in every such cell): %s", name, mdEscape(serve.FirstLine(err.Error()))))
		fmt.Fprintf(os.Stderr, "explore.Open: no model server (%v); loaded %s in this process\n", err, name)
		return s, nil
	}
	info, err := c.Info()
	if err != nil {
		return nil, fmt.Errorf("explore.Open: asking the model server about its model: %w", err)
	}
	return &Session{Backend: info.BackendDescription, Smoke: notebook.Smoke(), srv: c, info: info, randomReason: reason}, nil
}

// Options are the load options of OpenLocalModel: $CLIP_PRECISION, random weights when the
// trained ones cannot be fetched, persistent text and image caches (quiet about ignored cache
// files).
func Options() cliplib.Options {
	return cliplib.Options{Precision: os.Getenv(EnvPrecision), FallbackToRandom: true, TextCache: true, ImageCache: true,
		Warn: func(string) {}}
}

// OpenLocal loads ModelName() in this process (Options: $GOMLX_BACKEND, $CLIP_PRECISION, random
// weights when the trained ones cannot be fetched, persistent caches): seconds of load and
// compile for ViT-B/32 in every cell that calls it. Only cells that measure the model itself
// (latency, memory, precision, the eval suite) need it; the others call Open.
func OpenLocal() (*Session, error) {
	return OpenLocalModel(ModelName())
}

// OpenLocalModel is OpenLocal for a given model name or checkpoint path.
func OpenLocalModel(name string) (*Session, error) {
	localLoads.Add(1)
	m, err := cliplib.Load(name, Options())
	if err != nil {
		return nil, fmt.Errorf("loading model %q (set %s to another name, see `clipx models`): %w", name, EnvModel, err)
	}
	info := api.InfoOf(m)
	return &Session{local: m, info: &info, Backend: info.BackendDescription, Smoke: notebook.Smoke()}, nil
}

// ErrNotLocal is returned by Local for a session served by the model server.
var ErrNotLocal = errors.New("this session's model runs in the model server, not in this process: call explore.OpenLocal() in cells that measure the model itself")

// Local returns the model loaded in this process (OpenLocal), or ErrNotLocal for a session of the
// model server (Open).
func (s *Session) Local() (*cliplib.Model, error) {
	if s.local == nil {
		return nil, ErrNotLocal
	}
	return s.local, nil
}

// Served reports whether the model runs in the shared model server (Open) rather than in this
// process (OpenLocal, or Open's fallback).
func (s *Session) Served() bool { return s.srv != nil }

// Server returns the client of the model server (nil for a local session): galleries, search and
// zero-shot over the server's API.
func (s *Session) Server() *serve.Client { return s.srv }

// Close saves the caches and releases a local model. A served session has nothing to release:
// the server keeps the model for later cells and saves its caches when it exits.
func (s *Session) Close() error {
	if s.local == nil {
		return nil
	}
	if err := s.local.Close(); err != nil {
		return fmt.Errorf("saving the embedding caches: %w", err)
	}
	return nil
}

// Save writes a local model's text and image caches to disk (those that gained entries); the
// server saves its own when it exits.
func (s *Session) Save() error {
	if s.local == nil {
		return nil
	}
	if err := s.local.Save(); err != nil {
		return fmt.Errorf("saving the embedding caches: %w", err)
	}
	return nil
}

// Name is the model's registry name or checkpoint path.
func (s *Session) Name() string { return s.info.Model }

// Label is the name, plus " [RANDOM WEIGHTS]" when the weights are random.
func (s *Session) Label() string { return s.info.Label }

// Config returns the model's architecture.
func (s *Session) Config() *model.Config { return s.info.Config }

// EmbedDim returns E, the size of every embedding.
func (s *Session) EmbedDim() int { return s.Config().EmbedDim }

// LogitScale returns exp(logit_scale): logits = LogitScale · cosine similarity; the learned
// temperature is its inverse.
func (s *Session) LogitScale() float32 { return s.info.LogitScale }

// Precision returns the compute precision ("f32", "bf16" or "f16").
func (s *Session) Precision() string { return s.info.Precision }

// NumParams returns the number of weights the encoder holds (counted on the loaded model).
func (s *Session) NumParams() int64 { return s.info.Params }

// Tokenizer returns the tokenizer of the model (CLIP's BPE, the same for every registry model;
// built in this process for a served session from the embedded vocabulary, tens of
// milliseconds: go test -bench LoadEmbedded ./cliplib/tokenizer).
func (s *Session) Tokenizer() (*tokenizer.Tokenizer, error) {
	if s.local != nil {
		return s.local.Tokenizer(), nil
	}
	return tokenizer.Default()
}

// source is where the weights came from.
func (s *Session) source() cliplib.Source {
	w := s.info.Weights
	src := cliplib.Source{Path: w.Path, Format: w.Format, Layout: w.Layout, Random: w.Random, Reason: w.Reason}
	if s.randomReason != "" {
		src.Reason = "the trained weights could not be loaded: " + s.randomReason
	}
	return src
}

// Random reports whether the model runs on random weights.
func (s *Session) Random() bool { return s.source().Random }

// Weights describes where the weights came from, e.g. "trained weights from ~/.cache/... (torchscript)"
// or "RANDOM weights (seed 2021): <reason>".
func (s *Session) Weights() string {
	src := s.source()
	if src.Random {
		return fmt.Sprintf("RANDOM weights (seed %d): %s", cliplib.RandomSeed, src.Reason)
	}
	return fmt.Sprintf("trained weights from %s (%s, %s layout)", src.Path, src.Format, src.Layout)
}

// Banner returns Markdown describing the run: model, weights, backend, precision, where the model
// runs, smoke mode, and a prominent warning when the weights are random. Notebooks show it at
// the top.
func (s *Session) Banner() string {
	var b strings.Builder
	if s.Random() {
		fmt.Fprintf(&b, "> **⚠ RANDOM WEIGHTS — everything this model computes here (embeddings, probabilities, accuracies, "+
			"rankings) is meaningless.** The trained weights of `%s` could not be loaded (%s), so the model runs on "+
			"deterministic random weights. The code paths are real (and so are timings and memory); the results say "+
			"nothing about CLIP. Run where the weights can be downloaded (or are in the cache) for real results.\n\n",
			s.Name(), s.source().Reason)
	}
	fmt.Fprintf(&b, "| | |\n|---|---|\n")
	fmt.Fprintf(&b, "| model | `%s` (from `%s`; default %s, smoke mode %s) |\n", s.Name(), EnvModel, DefaultModel, SmokeModel)
	fmt.Fprintf(&b, "| weights | %s |\n", mdEscape(s.Weights()))
	fmt.Fprintf(&b, "| backend | %s (`%s`=%q) |\n", mdEscape(s.Backend), backend.EnvVar, os.Getenv(backend.EnvVar))
	fmt.Fprintf(&b, "| precision | %s |\n", s.Precision())
	fmt.Fprintf(&b, "| embedding size | %d |\n", s.EmbedDim())
	fmt.Fprintf(&b, "| runs in | %s |\n", s.where())
	fmt.Fprintf(&b, "| smoke mode | %v (`%s`) |\n", s.Smoke, notebook.EnvSmoke)
	return b.String()
}

// where says where the model runs, for the banner.
func (s *Session) where() string {
	if s.srv != nil {
		return "the notebooks' model server (`clipx serve`, shared by the cells and live controls: loaded and compiled once)"
	}
	return "this cell's process (loaded and compiled by this cell)"
}

// Caveat returns the sentence a conclusion must carry about the weights: with random weights, that
// the numbers are meaningless; otherwise which weights produced them.
func (s *Session) Caveat() string {
	if s.Random() {
		return fmt.Sprintf("**These numbers come from random weights (%s could not load its trained weights), so they are "+
			"meaningless: they only show that the pipeline runs.** Re-run with trained weights to answer the question.", s.Name())
	}
	return fmt.Sprintf("These numbers come from %s with %s.", s.Name(), mdEscape(s.Weights()))
}

// Print writes a plain-text summary of the run (model, weights, backend) to standard output, for
// cell outputs and logs.
func (s *Session) Print() {
	fmt.Printf("model:   %s\nweights: %s\nbackend: %s\nsmoke:   %v\n", s.Label(), s.Weights(), s.Backend, s.Smoke)
}

func mdEscape(s string) string {
	return strings.NewReplacer("|", `\|`, "*", `\*`, "_", `\_`, "`", "'").Replace(s)
}

// EncodeTexts returns one L2-normalised embedding [E] per text, in order (through the text
// cache).
func (s *Session) EncodeTexts(texts []string) ([][]float32, error) {
	if s.local != nil {
		return s.local.EncodeTexts(texts)
	}
	if len(texts) == 0 {
		return [][]float32{}, nil // the server wants at least one text
	}
	return s.srv.EncodeTexts(texts)
}

// ZeroShot builds a classifier for classes from templates (cliplib.PhotoTemplate when none are
// given): cliplib.NewZeroShot over this session's text encoder and logit scale.
func (s *Session) ZeroShot(classes []string, templates []string) (*cliplib.ZeroShotClassifier, error) {
	return cliplib.NewZeroShot(s, classes, templates)
}

// EncodeFiles returns the embeddings of image files (in order), encoding BatchSize at a time
// with a progress bar labelled label; files encoded before (by content) come from the image cache.
func (s *Session) EncodeFiles(label string, files []string) ([][]float32, error) {
	out := make([][]float32, 0, len(files))
	p := notebook.NewProgress(label, len(files))
	defer p.Done()
	for start := 0; start < len(files); start += BatchSize {
		batch := files[start:min(start+BatchSize, len(files))]
		var embs [][]float32
		var err error
		if s.local != nil {
			embs, err = s.local.EncodeImageFiles(batch...)
		} else {
			embs, err = s.srv.EncodeImages(batch)
		}
		if err != nil {
			return nil, err
		}
		out = append(out, embs...)
		p.Add(len(batch))
	}
	return out, s.Save()
}

// Items is what EncodeDataset needs of a dataset: decoded images by index (data.Dataset has it).
type Items interface {
	Item(i int) (image.Image, int, error)
}

// EncodeDataset returns the embeddings of the dataset items idx (in that order) and their labels,
// encoding BatchSize at a time with a progress bar labelled label. Embeddings are cached by the
// images' pixels (Model.EncodeImagesCached, keyed by cliplib.PixelKey and the model's identity;
// a served session sends the images as lossless PNG to the server, which does the same), so a
// re-run or a later cell reads them back.
func (s *Session) EncodeDataset(label string, ds Items, idx []int) ([][]float32, []int, error) {
	embs := make([][]float32, 0, len(idx))
	labels := make([]int, len(idx))
	imgs := make([]image.Image, len(idx))
	for j, i := range idx {
		img, l, err := ds.Item(i)
		if err != nil {
			return nil, nil, fmt.Errorf("dataset item %d: %w", i, err)
		}
		imgs[j], labels[j] = img, l
	}
	p := notebook.NewProgress(label, len(idx))
	defer p.Done()
	for start := 0; start < len(imgs); start += BatchSize {
		batch := imgs[start:min(start+BatchSize, len(imgs))]
		var out [][]float32
		var err error
		if s.local != nil {
			out, err = s.local.EncodeImagesCached(batch)
		} else {
			out, err = s.srv.EncodeImageData(batch)
		}
		if err != nil {
			return nil, nil, err
		}
		embs = append(embs, out...)
		p.Add(len(batch))
	}
	return embs, labels, s.Save()
}
