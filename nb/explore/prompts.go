package explore

import (
	"context"
	"fmt"
	"image"

	"github.com/clipkit/clipkit/cliplib"
	"github.com/clipkit/clipkit/nb/analysis"
	"github.com/clipkit/clipkit/nb/notebook"
	"github.com/clipkit/clipkit/nb/widgets"
)

// PromptStrategy is one way of turning a dataset's classes into prompts.
type PromptStrategy struct {
	Name      string
	Classes   []string // one name per class, in label order
	Templates []string // "{}" is replaced by the class name; several templates are ensembled
}

// Digits and DigitWords name the ten MNIST classes 0-9 as digits and as English words.
var (
	Digits     = []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}
	DigitWords = []string{"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"}
)

// MNISTStrategies are the prompt strategies notebook 04 compares on MNIST; MNISTStrategies[MNISTPaper]
// is the CLIP paper's prompt set (cliplib.MNISTTemplates).
var MNISTStrategies = []PromptStrategy{
	{"bare digit: \"7\"", Digits, []string{"{}"}},
	{"photo of a digit: \"a photo of a 7.\"", Digits, cliplib.PhotoTemplate},
	{"paper: 'a photo of the number: \"7\".'", Digits, cliplib.MNISTTemplates},
	{"word: \"a photo of the number seven.\"", DigitWords, []string{"a photo of the number {}."}},
	{"handwritten: \"a handwritten digit 7.\"", Digits, []string{"a handwritten digit {}."}},
	{"ensemble of 5 digit prompts", Digits, []string{`a photo of the number: "{}".`, "a handwritten digit {}.",
		"a black and white photo of the digit {}.", "a blurry photo of the number {}.", "the digit {} written in white on black."}},
}

// MNISTPaper is the index of the CLIP paper's prompt in MNISTStrategies.
const MNISTPaper = 2

// MNISTSample loads the MNIST test split (MNIST) and picks its stratified sample for the notebooks:
// 50 images per digit, 2 in smoke mode, or $CLIP_PER_CLASS (PerClass). It returns the data and
// the item indices.
func MNISTSample(ctx context.Context) (*Labelled, []int, error) {
	ds, err := MNIST(ctx)
	if err != nil {
		return nil, nil, err
	}
	per, err := PerClass(50, 2)
	if err != nil {
		return nil, nil, err
	}
	return ds, analysis.Stratified(ds.Labels, 10, per), nil
}

// LabelsAt returns the labels of the items idx of ds, in order; an index outside ds is an error.
func (ds *Labelled) LabelsAt(idx []int) ([]int, error) {
	out := make([]int, len(idx))
	for i, j := range idx {
		if j < 0 || j >= len(ds.Labels) {
			return nil, fmt.Errorf("%s: item %d out of range [0, %d)", ds.Name, j, len(ds.Labels))
		}
		out[i] = ds.Labels[j]
	}
	return out, nil
}

// CompareStrategies embeds the items idx of ds (cached, EncodeDataset with a progress bar labelled
// label), classifies them zero-shot with every strategy (its class names and templates) and saves
// the text cache. It returns the true labels and one run per strategy, in order (Templates: the
// strategy's number of templates).
func (s *Session) CompareStrategies(label string, ds *Labelled, idx []int, strategies []PromptStrategy) ([]int, []ZeroShotRun, error) {
	imgs, truth, err := s.EncodeDataset(label, ds, idx)
	if err != nil {
		return nil, nil, err
	}
	runs := make([]ZeroShotRun, len(strategies))
	for i, st := range strategies {
		if len(st.Classes) != len(ds.Classes()) {
			return nil, nil, fmt.Errorf("strategy %q: %d class names for the %d classes of %s", st.Name, len(st.Classes), len(ds.Classes()), ds.Name)
		}
		z, err := s.ZeroShot(st.Classes, st.Templates)
		if err != nil {
			return nil, nil, fmt.Errorf("strategy %q: %w", st.Name, err)
		}
		if runs[i], err = newZeroShotRun(z, imgs, truth, len(st.Classes), len(st.Templates)); err != nil {
			return nil, nil, err
		}
	}
	if err := s.Save(); err != nil {
		return nil, nil, err
	}
	return truth, runs, nil
}

// newZeroShotRun classifies imgs with z and measures the predictions against truth.
func newZeroShotRun(z *cliplib.ZeroShotClassifier, imgs [][]float32, truth []int, numClasses, templates int) (ZeroShotRun, error) {
	r := ZeroShotRun{Templates: templates, Pred: analysis.Predictions(z.Logits(imgs))}
	var err error
	if r.Acc, err = analysis.Accuracy(r.Pred, truth); err != nil {
		return r, err
	}
	if r.CM, err = analysis.ConfusionMatrix(truth, r.Pred, numClasses); err != nil {
		return r, err
	}
	r.PerClass = analysis.PerClassAccuracy(r.CM)
	return r, nil
}

// Accuracies returns the top-1 accuracy of every run, in order.
func Accuracies(runs []ZeroShotRun) []float64 {
	out := make([]float64, len(runs))
	for i, r := range runs {
		out[i] = r.Acc
	}
	return out
}

// SampleFiles writes the images of the items idx of ds as PNG files (widgets.ImageFiles, named
// after ds.Name and len(idx); files already there are kept) so that the model server can read
// them, and returns their paths and labels, in the order of idx.
func (ds *Labelled) SampleFiles(idx []int) (files []string, labels []int, err error) {
	if labels, err = ds.LabelsAt(idx); err != nil {
		return nil, nil, err
	}
	files, err = widgets.ImageFiles(fmt.Sprintf("%s-%d", ds.Name, len(idx)), len(idx), func(i int) (image.Image, error) {
		img, _, err := ds.Item(idx[i])
		return img, err
	})
	if err != nil {
		return nil, nil, err
	}
	return files, labels, nil
}

// TemplateFamily is a named set of prompt templates, ensembled into one classifier.
type TemplateFamily struct {
	Name      string
	Templates []string // "{}" is replaced by the class name
}

// TemplateFamilies are the template families notebook 09 compares; TemplateFamilies[CIFARFamily]
// is the CLIP paper's 18-template CIFAR ensemble.
var TemplateFamilies = []TemplateFamily{
	{"bare class name", []string{"{}"}},
	{"\"a photo of a {}.\"", cliplib.PhotoTemplate},
	{"photo quality (blurry, bad, low contrast, good)", []string{"a blurry photo of a {}.", "a bad photo of a {}.",
		"a low contrast photo of a {}.", "a good photo of a {}."}},
	{"size (small, big)", []string{"a photo of a small {}.", "a photo of a big {}."}},
	{"renditions (drawing, painting, sketch, art)", []string{"a drawing of a {}.", "a painting of a {}.", "a sketch of a {}.", "art of the {}."}},
	{"contexts (itap, video game, origami)", []string{"itap of a {}.", "a {} in a video game.", "a origami {}."}},
	{"paper: 18 CIFAR templates", cliplib.CIFARTemplates},
	{"paper: 7 ImageNet templates", cliplib.ImageNetSubsetTemplates},
	{"paper: MNIST template", cliplib.MNISTTemplates},
}

// CIFARFamily is the index of the paper's 18-template CIFAR ensemble in TemplateFamilies.
const CIFARFamily = 6

// TemplateDataset returns CIFAR-10 when it is available for real, else the MNIST test split, with
// a Markdown note saying which and why ("" for CIFAR-10).
func TemplateDataset(ctx context.Context) (*Labelled, string, error) {
	c, err := CIFAR10(ctx)
	if err != nil {
		return nil, "", err
	}
	if c.Real {
		return c, "", nil
	}
	m, err := MNIST(ctx)
	if err != nil {
		return nil, "", err
	}
	return m, "CIFAR-10 is not used here: " + c.Why + ". This notebook therefore ranks the templates on the **MNIST** " +
		"test split (real handwritten digits), not on CIFAR-10.", nil
}

// PerClassSample is the stratified sample of ds the notebooks use: 50 items per class, 2 in smoke
// mode, or $CLIP_PER_CLASS (PerClass).
func (ds *Labelled) PerClassSample() ([]int, error) {
	per, err := PerClass(50, 2)
	if err != nil {
		return nil, err
	}
	return analysis.Stratified(ds.Labels, len(ds.Classes()), per), nil
}

// TemplateRanking holds zero-shot accuracies per template family and per single template.
type TemplateRanking struct {
	N         int       // images scored
	FamilyAcc []float64 // per family, in order
	Singles   []string  // every distinct template of the families, in order of first use
	SingleAcc []float64 // per single template
}

// RankTemplates embeds the items idx of ds (cached), scores every family (its templates
// ensembled) and every distinct single template by top-1 zero-shot accuracy on them, with a
// progress bar, and saves the text cache.
func (s *Session) RankTemplates(ds *Labelled, idx []int, families []TemplateFamily) (*TemplateRanking, error) {
	classes := ds.Classes()
	imgs, truth, err := s.EncodeDataset("Embedding test images", ds, idx)
	if err != nil {
		return nil, err
	}
	score := func(templates []string) (float64, error) {
		clf, err := s.ZeroShot(classes, templates)
		if err != nil {
			return 0, err
		}
		return analysis.Accuracy(analysis.Predictions(clf.Logits(imgs)), truth)
	}
	r := &TemplateRanking{N: len(idx)}
	singles := DistinctTemplates(families)
	p := notebook.NewProgress("Scoring templates", len(families))
	defer p.Done()
	done := map[string]bool{}
	for _, f := range families {
		acc, err := score(f.Templates)
		if err != nil {
			return nil, fmt.Errorf("family %q: %w", f.Name, err)
		}
		r.FamilyAcc = append(r.FamilyAcc, acc)
		for _, t := range f.Templates {
			if done[t] {
				continue
			}
			done[t] = true
			acc, err := score([]string{t})
			if err != nil {
				return nil, fmt.Errorf("template %q: %w", t, err)
			}
			r.SingleAcc = append(r.SingleAcc, acc)
		}
		p.Add(1)
	}
	r.Singles = singles
	if err := s.Save(); err != nil {
		return nil, err
	}
	return r, nil
}

// DistinctTemplates lists every template of families once, in order of first use.
func DistinctTemplates(families []TemplateFamily) []string {
	seen := map[string]bool{}
	var out []string
	for _, f := range families {
		for _, t := range f.Templates {
			if !seen[t] {
				seen[t] = true
				out = append(out, t)
			}
		}
	}
	return out
}
