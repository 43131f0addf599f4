package explore

import (
	"context"
	"fmt"

	"github.com/clipkit/clipkit/cliplib"
	"github.com/clipkit/clipkit/nb/analysis"
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
		z, err := s.Model.ZeroShot(st.Classes, st.Templates)
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
