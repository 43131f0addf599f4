// Package explore is what the exploration notebooks (notebooks/01-09) share: which model they run
// on (CLIP_MODEL, default ViT-B/32, tiny-vit in smoke mode) and on which backend, a banner that
// says so (and says loudly when the weights are random), embedding of image files and dataset
// items in batches with a progress bar and an on-disk cache, the datasets the notebooks use (with
// an explicit fallback when CIFAR-10 cannot be fetched), and parameter counts per tower.
//
// Each GoNB cell is a new process: a cell that needs the model calls Open, which loads it again
// (seconds for ViT-B/32) with cliplib's persistent text and image caches on (cliplib.Options
// TextCache and ImageCache), so embeddings computed by an earlier cell or an earlier run are read
// back instead of recomputed. Close saves the caches. A Session is a thin notebook view of one
// *cliplib.Model: it adds the banner, progress bars and datasets, no inference of its own.
package explore

import (
	"fmt"
	"image"
	"os"
	"strconv"
	"strings"

	"github.com/clipkit/clipkit/cliplib"
	"github.com/clipkit/clipkit/cliplib/backend"
	"github.com/clipkit/clipkit/nb/notebook"
)

// Environment variables read by this package (besides CLIP_SMOKE, see package notebook, and
// GOMLX_BACKEND, see package backend).
const (
	// EnvModel names the model: a registry name (`clipx models`) or a checkpoint path.
	EnvModel = "CLIP_MODEL"
	// EnvPrecision is the compute precision: f32 (default), bf16 or f16.
	EnvPrecision = "CLIP_PRECISION"
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

// Session is a loaded model (text and image caches on) with what notebooks show about it.
type Session struct {
	// Model is the loaded model.
	Model *cliplib.Model
	// Backend describes the GoMLX backend the model runs on (backend.Describe).
	Backend string
	// Smoke is true in smoke mode.
	Smoke bool
}

// Open loads ModelName() on the backend of $GOMLX_BACKEND (default simplego) in the precision of
// $CLIP_PRECISION, falling back to deterministic random weights when the trained ones cannot be
// fetched (Model.RandomWeights then says so), with persistent text and image embedding caches
// under $CLIPKIT_CACHE (default ~/.cache/clipkit).
func Open() (*Session, error) {
	return OpenModel(ModelName())
}

// Options are the load options of OpenModel: $CLIP_PRECISION, random weights when the trained
// ones cannot be fetched, persistent text and image caches (quiet about ignored cache files).
func Options() cliplib.Options {
	return cliplib.Options{Precision: os.Getenv(EnvPrecision), FallbackToRandom: true, TextCache: true, ImageCache: true,
		Warn: func(string) {}}
}

// OpenModel is Open for a given model name or checkpoint path.
func OpenModel(name string) (*Session, error) {
	m, err := cliplib.Load(name, Options())
	if err != nil {
		return nil, fmt.Errorf("loading model %q (set %s to another name, see `clipx models`): %w", name, EnvModel, err)
	}
	return &Session{Model: m, Backend: backend.DescribeChoice(m.Encoder().Backend(), m.Encoder().BackendChoice()), Smoke: notebook.Smoke()}, nil
}

// Close saves the caches and releases the model.
func (s *Session) Close() error {
	if err := s.Model.Close(); err != nil {
		return fmt.Errorf("saving the embedding caches: %w", err)
	}
	return nil
}

// Save writes the text and image caches to disk (those that gained entries).
func (s *Session) Save() error {
	if err := s.Model.Save(); err != nil {
		return fmt.Errorf("saving the embedding caches: %w", err)
	}
	return nil
}

// Random reports whether the model runs on random weights.
func (s *Session) Random() bool { return s.Model.RandomWeights() }

// Weights describes where the weights came from, e.g. "trained weights from ~/.cache/... (torchscript)"
// or "RANDOM weights (seed 2021): <reason>".
func (s *Session) Weights() string {
	src := s.Model.Source
	if src.Random {
		return fmt.Sprintf("RANDOM weights (seed %d): %s", cliplib.RandomSeed, src.Reason)
	}
	return fmt.Sprintf("trained weights from %s (%s, %s layout)", src.Path, src.Format, src.Layout)
}

// Banner returns Markdown describing the run: model, weights, backend, precision, smoke mode, and
// a prominent warning when the weights are random. Notebooks show it at the top.
func (s *Session) Banner() string {
	var b strings.Builder
	if s.Random() {
		fmt.Fprintf(&b, "> **⚠ RANDOM WEIGHTS — everything this model computes here (embeddings, probabilities, accuracies, "+
			"rankings) is meaningless.** The trained weights of `%s` could not be loaded (%s), so the model runs on "+
			"deterministic random weights. The code paths are real (and so are timings and memory); the results say "+
			"nothing about CLIP. Run where the weights can be downloaded (or are in the cache) for real results.\n\n",
			s.Model.Name, s.Model.Source.Reason)
	}
	fmt.Fprintf(&b, "| | |\n|---|---|\n")
	fmt.Fprintf(&b, "| model | `%s` (from `%s`; default %s, smoke mode %s) |\n", s.Model.Name, EnvModel, DefaultModel, SmokeModel)
	fmt.Fprintf(&b, "| weights | %s |\n", mdEscape(s.Weights()))
	fmt.Fprintf(&b, "| backend | %s (`%s`=%q) |\n", mdEscape(s.Backend), backend.EnvVar, os.Getenv(backend.EnvVar))
	fmt.Fprintf(&b, "| precision | %s |\n", s.Model.Encoder().Precision())
	fmt.Fprintf(&b, "| embedding size | %d |\n", s.Model.EmbedDim())
	fmt.Fprintf(&b, "| smoke mode | %v (`%s`) |\n", s.Smoke, notebook.EnvSmoke)
	return b.String()
}

// Caveat returns the sentence a conclusion must carry about the weights: with random weights, that
// the numbers are meaningless; otherwise which weights produced them.
func (s *Session) Caveat() string {
	if s.Random() {
		return fmt.Sprintf("**These numbers come from random weights (%s could not load its trained weights), so they are "+
			"meaningless: they only show that the pipeline runs.** Re-run with trained weights to answer the question.", s.Model.Name)
	}
	return fmt.Sprintf("These numbers come from %s with %s.", s.Model.Name, mdEscape(s.Weights()))
}

// Print writes a plain-text summary of the run (model, weights, backend) to standard output, for
// cell outputs and logs.
func (s *Session) Print() {
	fmt.Printf("model:   %s\nweights: %s\nbackend: %s\nsmoke:   %v\n", s.Model.Label(), s.Weights(), s.Backend, s.Smoke)
}

func mdEscape(s string) string {
	return strings.NewReplacer("|", `\|`, "*", `\*`, "_", `\_`, "`", "'").Replace(s)
}

// EncodeFiles returns the embeddings of image files (in order), encoding BatchSize at a time
// with a progress bar labelled label; files encoded before (by content) come from the image cache,
// which is saved afterwards.
func (s *Session) EncodeFiles(label string, files []string) ([][]float32, error) {
	out := make([][]float32, 0, len(files))
	p := notebook.NewProgress(label, len(files))
	defer p.Done()
	for start := 0; start < len(files); start += BatchSize {
		batch := files[start:min(start+BatchSize, len(files))]
		embs, err := s.Model.EncodeImageFiles(batch...)
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
// images' pixels (Model.EncodeImagesCached, keyed by cliplib.PixelKey and the model's identity),
// so a re-run or a later cell reads them back.
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
		out, err := s.Model.EncodeImagesCached(batch)
		if err != nil {
			return nil, nil, err
		}
		embs = append(embs, out...)
		p.Add(len(batch))
	}
	return embs, labels, s.Save()
}
