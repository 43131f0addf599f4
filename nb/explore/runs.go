package explore

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/clipkit/clipkit/cliplib"
	"github.com/clipkit/clipkit/cliplib/eval"
	"github.com/clipkit/clipkit/cliplib/model"
	"github.com/clipkit/clipkit/nb/analysis"
	"github.com/clipkit/clipkit/weights"
)

// Warning is the Markdown a notebook shows wherever results appear when ds is a stand-in for the
// dataset named dataset (e.g. "CIFAR-10"): a loud "NOT <dataset>" and ds.Note; "" for real data.
func (ds *Labelled) Warning(dataset string) string {
	if ds.Real {
		return ""
	}
	return "> **⚠ NOT " + dataset + ".** " + ds.Note + "\n\n"
}

// Sample picks a stratified sample of ds (analysis.Stratified): up to realPerClass items per class
// of the real data, standInPerClass of a stand-in, smokePerClass in smoke mode, or $CLIP_PER_CLASS
// (PerClass). It returns the item indices and the number per class asked for.
func (ds *Labelled) Sample(realPerClass, standInPerClass, smokePerClass int) ([]int, int, error) {
	full := realPerClass
	if !ds.Real {
		full = standInPerClass
	}
	per, err := PerClass(full, smokePerClass)
	if err != nil {
		return nil, 0, err
	}
	return analysis.Stratified(ds.Labels, len(ds.Classes()), per), per, nil
}

// ZeroShotRun is one zero-shot classification of a sample, with one set of prompt templates.
type ZeroShotRun struct {
	Templates int     // number of templates (prompts per class)
	Pred      []int   // predicted class per image
	Acc       float64 // top-1 accuracy
	CM        [][]int // confusion matrix, rows: true class
	PerClass  []float64
}

// ZeroShotRuns embeds the items idx of ds (cached, EncodeDataset with a progress bar labelled
// label) and classifies them zero-shot once per template set (cliplib templates such as
// PhotoTemplate or CIFARTemplates, class names from ds). It returns the true labels and one run
// per template set, in order.
func (s *Session) ZeroShotRuns(label string, ds *Labelled, idx []int, templateSets ...[]string) ([]int, []ZeroShotRun, error) {
	imgs, truth, err := s.EncodeDataset(label, ds, idx)
	if err != nil {
		return nil, nil, err
	}
	classes := ds.Classes()
	var zs []*cliplib.ZeroShotClassifier
	for _, t := range templateSets {
		z, err := s.ZeroShot(classes, t)
		if err != nil {
			return nil, nil, err
		}
		zs = append(zs, z)
	}
	if err := s.Save(); err != nil {
		return nil, nil, err
	}
	runs := make([]ZeroShotRun, len(zs))
	for i, z := range zs {
		if runs[i], err = newZeroShotRun(z, imgs, truth, len(classes), len(templateSets[i])); err != nil {
			return nil, nil, err
		}
	}
	return truth, runs, nil
}

// EncodeWords returns the text embeddings of words, each put into the first of templates (e.g.
// cliplib.PhotoTemplate: "a photo of a {}."), and saves the text cache.
func (s *Session) EncodeWords(templates []string, words []string) ([][]float32, error) {
	if len(templates) == 0 {
		return nil, fmt.Errorf("explore.EncodeWords: no template")
	}
	prompts := make([]string, len(words))
	for i, w := range words {
		prompts[i] = cliplib.Prompts(templates[:1], w)[0]
	}
	embs, err := s.EncodeTexts(prompts)
	if err != nil {
		return nil, err
	}
	return embs, s.Save()
}

// EvalResultsDir is where `clipx eval` saves results by default (its --results flag).
func EvalResultsDir() string { return filepath.Join(weights.DefaultCacheDir(), "eval", "results") }

// EvalZeroShot runs the zero-shot evaluation benchmark (eval.Lookup: "mnist", "cifar10", ...) on
// its test split with the session's model: every item, or smokeN evenly spread ones in smoke mode,
// embeddings cached under $CLIPKIT_CACHE/eval/embeddings (a re-run encodes nothing). The result's
// description names the model (eval.Describe). It needs the model in this process (OpenLocal):
// the evaluation preprocesses in parallel with encoding and keys its cache by the model's
// weights, which the server does not expose.
func (s *Session) EvalZeroShot(benchmark string, smokeN int) (*eval.Result, error) {
	m, err := s.Local()
	if err != nil {
		return nil, fmt.Errorf("EvalZeroShot: %w", err)
	}
	b, err := eval.Lookup(benchmark)
	if err != nil {
		return nil, err
	}
	d, err := eval.Open(context.Background(), b, "test", eval.DataOptions{})
	if err != nil {
		return nil, err
	}
	n := 0
	if s.Smoke {
		n = smokeN
	}
	r, err := eval.ZeroShot(context.Background(), eval.FromModel(m), b, d, eval.RunOptions{N: n,
		Cache: eval.Cache{Dir: filepath.Join(weights.DefaultCacheDir(), "eval", "embeddings")}})
	if err != nil {
		return nil, err
	}
	eval.Describe(r, m)
	return r, nil
}

// EnvModels lists the models a multi-model notebook measures: comma-separated names, "all" for
// every registered architecture.
const EnvModels = "CLIP_MODELS"

// ModelList returns the models a multi-model notebook measures: $CLIP_MODELS when set (see
// EnvModels), else defaults.
func ModelList(defaults []string) []string {
	env := os.Getenv(EnvModels)
	if strings.TrimSpace(env) == "" {
		return defaults
	}
	var out []string
	for _, m := range strings.Split(env, ",") {
		if m = strings.TrimSpace(m); m == "all" {
			out = append(out, model.Names()...)
		} else if m != "" {
			out = append(out, m)
		}
	}
	return out
}

// PublishedModels lists every published architecture, plus the given test configurations (as a
// yardstick), in registry order.
func PublishedModels(plusTests ...string) []string {
	var out []string
	for _, n := range model.Names() {
		if !model.IsTestConfig(n) || contains(plusTests, n) {
			out = append(out, n)
		}
	}
	return out
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// ClassPrompts lists every class put into every template (cliplib.Prompts), class by class: the
// texts a zero-shot classifier for classes encodes.
func ClassPrompts(classes, templates []string) []string {
	var out []string
	for _, c := range classes {
		out = append(out, cliplib.Prompts(templates, c)...)
	}
	return out
}
