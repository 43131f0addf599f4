package eval

import (
	"fmt"
	"slices"

	"github.com/clipkit/clipkit/cliplib"
)

// rankOf is the 0-based rank of column j in row: how many columns score higher, ties broken by
// column index (an earlier column ranks first), so results do not depend on a sort's stability.
func rankOf(row []float32, j int) int {
	s := row[j]
	r := 0
	for c, v := range row {
		if v > s || (v == s && c < j) {
			r++
		}
	}
	return r
}

func checkScores(scores [][]float32, labels []int) (int, error) {
	if len(scores) != len(labels) {
		return 0, fmt.Errorf("eval: %d score rows for %d labels", len(scores), len(labels))
	}
	if len(scores) == 0 {
		return 0, fmt.Errorf("eval: no samples")
	}
	nc := len(scores[0])
	for i, row := range scores {
		if len(row) != nc {
			return 0, fmt.Errorf("eval: score row %d has %d classes, row 0 has %d", i, len(row), nc)
		}
		if labels[i] < 0 || labels[i] >= nc {
			return 0, fmt.Errorf("eval: sample %d has label %d, outside [0, %d)", i, labels[i], nc)
		}
	}
	return nc, nil
}

// TopKAccuracy is the fraction of rows whose label is among the k highest scores (ties broken by
// class index). scores is [samples][classes].
func TopKAccuracy(scores [][]float32, labels []int, k int) (float64, error) {
	if _, err := checkScores(scores, labels); err != nil {
		return 0, err
	}
	if k < 1 {
		return 0, fmt.Errorf("eval: top-k needs k >= 1, got %d", k)
	}
	hit := 0
	for i, row := range scores {
		if rankOf(row, labels[i]) < k {
			hit++
		}
	}
	return float64(hit) / float64(len(scores)), nil
}

// MeanPerClassRecall is the top-1 recall of each class that occurs in labels, averaged over those
// classes (scikit-learn's balanced_accuracy_score, what clip_benchmark and the CLIP paper report as
// "mean per class" for Pets, Caltech-101, Flowers and FGVC Aircraft).
func MeanPerClassRecall(scores [][]float32, labels []int) (float64, error) {
	nc, err := checkScores(scores, labels)
	if err != nil {
		return 0, err
	}
	total := make([]int, nc)
	hit := make([]int, nc)
	for i, row := range scores {
		total[labels[i]]++
		if cliplib.Argmax(row) == labels[i] {
			hit[labels[i]]++
		}
	}
	sum, classes := 0.0, 0
	for c := range nc {
		if total[c] > 0 {
			sum += float64(hit[c]) / float64(total[c])
			classes++
		}
	}
	return sum / float64(classes), nil
}

// RetrievalRecall holds recall@k for both directions of a retrieval benchmark, keyed by k.
type RetrievalRecall struct {
	// ImageToText[k]: fraction of images with at least one of their captions among the k texts
	// most similar to the image ("text retrieval").
	ImageToText map[int]float64
	// TextToImage[k]: fraction of captions whose image is among the k images most similar to the
	// caption ("image retrieval").
	TextToImage map[int]float64
}

// Recall computes retrieval recall@k. sim is [images][texts] similarity; textImage[t] is the
// image caption t belongs to. Ties are broken by index, as in TopKAccuracy.
func Recall(sim [][]float32, textImage []int, ks []int) (RetrievalRecall, error) {
	nImg := len(sim)
	if nImg == 0 {
		return RetrievalRecall{}, fmt.Errorf("eval: retrieval without images")
	}
	nTxt := len(textImage)
	for i, row := range sim {
		if len(row) != nTxt {
			return RetrievalRecall{}, fmt.Errorf("eval: similarity row %d has %d texts, want %d", i, len(row), nTxt)
		}
	}
	captions := make([][]int, nImg)
	for t, im := range textImage {
		if im < 0 || im >= nImg {
			return RetrievalRecall{}, fmt.Errorf("eval: caption %d belongs to image %d, outside [0, %d)", t, im, nImg)
		}
		captions[im] = append(captions[im], t)
	}
	for i, c := range captions {
		if len(c) == 0 {
			return RetrievalRecall{}, fmt.Errorf("eval: image %d has no caption", i)
		}
	}
	for _, k := range ks {
		if k < 1 {
			return RetrievalRecall{}, fmt.Errorf("eval: recall@k needs k >= 1, got %d", k)
		}
	}
	r := RetrievalRecall{ImageToText: map[int]float64{}, TextToImage: map[int]float64{}}
	// Image -> text: the best rank among the image's captions.
	best := make([]int, nImg)
	for i, row := range sim {
		best[i] = nTxt
		for _, t := range captions[i] {
			best[i] = min(best[i], rankOf(row, t))
		}
	}
	// Text -> image: the rank of the caption's image in the caption's column.
	col := make([]float32, nImg)
	tRank := make([]int, nTxt)
	for t := range nTxt {
		for i := range nImg {
			col[i] = sim[i][t]
		}
		tRank[t] = rankOf(col, textImage[t])
	}
	for _, k := range slices.Compact(slices.Sorted(slices.Values(ks))) {
		n := 0
		for _, b := range best {
			if b < k {
				n++
			}
		}
		r.ImageToText[k] = float64(n) / float64(nImg)
		n = 0
		for _, b := range tRank {
			if b < k {
				n++
			}
		}
		r.TextToImage[k] = float64(n) / float64(nTxt)
	}
	return r, nil
}
