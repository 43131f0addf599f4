package cliplib

import (
	"fmt"
	"sort"
	"strings"
)

// Templates of prompts from the CLIP paper's evaluation code ("{}" is replaced by the class name).
var (
	// PhotoTemplate is the single prompt "a photo of a {}.".
	PhotoTemplate = []string{"a photo of a {}."}
	// CIFARTemplates are the 18 prompts used for CIFAR-10 and CIFAR-100.
	CIFARTemplates = []string{
		"a photo of a {}.", "a blurry photo of a {}.", "a black and white photo of a {}.",
		"a low contrast photo of a {}.", "a high contrast photo of a {}.", "a bad photo of a {}.",
		"a good photo of a {}.", "a photo of a small {}.", "a photo of a big {}.", "a photo of the {}.",
		"a blurry photo of the {}.", "a black and white photo of the {}.", "a low contrast photo of the {}.",
		"a high contrast photo of the {}.", "a bad photo of the {}.", "a good photo of the {}.",
		"a photo of the small {}.", "a photo of the big {}.",
	}
	// MNISTTemplates is the paper's MNIST prompt.
	MNISTTemplates = []string{`a photo of the number: "{}".`}
	// ImageNetSubsetTemplates are the 7 prompts sequential forward selection found best for ImageNet.
	ImageNetSubsetTemplates = []string{
		"itap of a {}.", "a bad photo of the {}.", "a origami {}.", "a photo of the large {}.",
		"a {} in a video game.", "art of the {}.", "a photo of the small {}.",
	}
)

// Prompts expands templates for one class name.
func Prompts(templates []string, class string) []string {
	out := make([]string, len(templates))
	for i, t := range templates {
		if strings.Contains(t, "{}") {
			out[i] = strings.ReplaceAll(t, "{}", class)
		} else {
			out[i] = t + " " + class
		}
	}
	return out
}

// ZeroShotClassifier holds one L2-normalised text embedding per class, built by prompt ensembling
// as in the CLIP paper: each class's prompts are encoded and normalised, averaged, and the mean
// normalised again.
type ZeroShotClassifier struct {
	Classes    []string
	Templates  []string
	Weights    [][]float32 // [len(Classes)][E]
	LogitScale float32
}

// TextEncoder is what a zero-shot classifier needs of a model: texts to L2-normalised embeddings
// and the logit scale. *Model implements it (with Options.TextCache, repeated class lists are
// served by its text cache).
type TextEncoder interface {
	EncodeTexts(texts []string) ([][]float32, error)
	LogitScale() float32
}

// ZeroShot builds a classifier for classes from templates (PhotoTemplate when none are given).
func (m *Model) ZeroShot(classes []string, templates []string) (*ZeroShotClassifier, error) {
	return NewZeroShot(m, classes, templates)
}

// ClassifyFiles returns the k most probable classes of z for each image file ([len(paths)][k],
// best first), the files encoded by EncodeImageFiles (through the image cache when on).
func (m *Model) ClassifyFiles(z *ZeroShotClassifier, k int, paths ...string) ([][]Prediction, error) {
	embs, err := m.EncodeImageFiles(paths...)
	if err != nil {
		return nil, err
	}
	return z.TopK(embs, k), nil
}

// NewZeroShot builds a classifier for classes from templates (PhotoTemplate when none are given)
// with any text encoder.
func NewZeroShot(m TextEncoder, classes []string, templates []string) (*ZeroShotClassifier, error) {
	if len(classes) == 0 {
		return nil, fmt.Errorf("zero-shot: no classes given")
	}
	if len(templates) == 0 {
		templates = PhotoTemplate
	}
	prompts := make([]string, 0, len(classes)*len(templates))
	for _, c := range classes {
		if strings.TrimSpace(c) == "" {
			return nil, fmt.Errorf("zero-shot: empty class name in %q", classes)
		}
		prompts = append(prompts, Prompts(templates, c)...)
	}
	embs, err := m.EncodeTexts(prompts)
	if err != nil {
		return nil, err
	}
	z := &ZeroShotClassifier{Classes: classes, Templates: templates, LogitScale: m.LogitScale()}
	for i := range classes {
		z.Weights = append(z.Weights, MeanEmbedding(embs[i*len(templates):(i+1)*len(templates)]))
	}
	return z, nil
}

// MeanEmbedding returns the normalised mean of normalised embeddings (prompt ensembling).
func MeanEmbedding(embs [][]float32) []float32 {
	if len(embs) == 0 {
		return nil
	}
	mean := make([]float32, len(embs[0]))
	for _, e := range embs {
		n := Normalize(e)
		for j, v := range n {
			mean[j] += v
		}
	}
	return Normalize(mean)
}

// Logits returns LogitScale · cosine similarity of each image embedding with each class:
// [len(images)][len(Classes)].
func (z *ZeroShotClassifier) Logits(images [][]float32) [][]float32 {
	return Scale(Similarity(images, z.Weights), z.LogitScale)
}

// Probabilities returns the softmax over classes of Logits, one row per image.
func (z *ZeroShotClassifier) Probabilities(images [][]float32) [][]float32 {
	logits := z.Logits(images)
	for i := range logits {
		logits[i] = Softmax(logits[i])
	}
	return logits
}

// Prediction is a class with its probability.
type Prediction struct {
	Class       string
	Index       int
	Probability float32
}

// TopK returns, per image, the k most probable classes in decreasing order.
func (z *ZeroShotClassifier) TopK(images [][]float32, k int) [][]Prediction {
	probs := z.Probabilities(images)
	out := make([][]Prediction, len(probs))
	for i, p := range probs {
		preds := make([]Prediction, len(p))
		for j, v := range p {
			preds[j] = Prediction{Class: z.Classes[j], Index: j, Probability: v}
		}
		sort.SliceStable(preds, func(a, b int) bool { return preds[a].Probability > preds[b].Probability })
		out[i] = preds[:min(k, len(preds))]
	}
	return out
}
