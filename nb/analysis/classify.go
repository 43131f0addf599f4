// Package analysis holds the measurements the exploration notebooks make on embeddings and
// classifier outputs: accuracy, confusion matrices and per-class accuracy, top-k and retrieval
// ranks, softmax entropy and temperature sweeps, class similarity statistics and 2-D projections
// (PCA). Everything works on plain slices ([N][E] embeddings, [N][K] scores), so it is independent
// of the model and the backend, and bad input (mismatched lengths, labels out of range, empty sets)
// is reported as an error naming what was wrong.
package analysis

import (
	"fmt"
	"math"
	"sort"

	"github.com/clipkit/clipkit/cliplib"
)

// Predictions returns cliplib.Argmax of each row of scores ([N][K] logits or probabilities): the
// predicted class per item.
func Predictions(scores [][]float32) []int {
	out := make([]int, len(scores))
	for i, row := range scores {
		out[i] = cliplib.Argmax(row)
	}
	return out
}

// Accuracy returns the fraction of items whose prediction equals the truth, in [0, 1].
func Accuracy(pred, truth []int) (float64, error) {
	if len(pred) != len(truth) {
		return 0, fmt.Errorf("analysis.Accuracy: %d predictions but %d labels", len(pred), len(truth))
	}
	if len(pred) == 0 {
		return 0, fmt.Errorf("analysis.Accuracy: no items")
	}
	hits := 0
	for i := range pred {
		if pred[i] == truth[i] {
			hits++
		}
	}
	return float64(hits) / float64(len(pred)), nil
}

// TopK returns the indices of the k largest values of row, largest first (stable: ties keep
// index order). k is clipped to len(row).
func TopK(row []float32, k int) []int {
	idx := make([]int, len(row))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return row[idx[a]] > row[idx[b]] })
	return idx[:max(0, min(k, len(idx)))]
}

// TopKAccuracy returns the fraction of items whose true class is among the k highest scores.
func TopKAccuracy(scores [][]float32, truth []int, k int) (float64, error) {
	if len(scores) != len(truth) {
		return 0, fmt.Errorf("analysis.TopKAccuracy: %d score rows but %d labels", len(scores), len(truth))
	}
	if len(scores) == 0 {
		return 0, fmt.Errorf("analysis.TopKAccuracy: no items")
	}
	if k < 1 {
		return 0, fmt.Errorf("analysis.TopKAccuracy: k=%d, want k >= 1", k)
	}
	hits := 0
	for i, row := range scores {
		if truth[i] < 0 || truth[i] >= len(row) {
			return 0, fmt.Errorf("analysis.TopKAccuracy: label %d of item %d is not a class index in [0, %d)", truth[i], i, len(row))
		}
		for _, j := range TopK(row, k) {
			if j == truth[i] {
				hits++
				break
			}
		}
	}
	return float64(hits) / float64(len(scores)), nil
}

// ConfusionMatrix counts items by true class (row) and predicted class (column): cm[t][p] is the
// number of items of class t predicted as p, for numClasses classes.
func ConfusionMatrix(truth, pred []int, numClasses int) ([][]int, error) {
	if len(truth) != len(pred) {
		return nil, fmt.Errorf("analysis.ConfusionMatrix: %d labels but %d predictions", len(truth), len(pred))
	}
	if numClasses < 1 {
		return nil, fmt.Errorf("analysis.ConfusionMatrix: %d classes, want at least 1", numClasses)
	}
	cm := make([][]int, numClasses)
	for i := range cm {
		cm[i] = make([]int, numClasses)
	}
	for i := range truth {
		t, p := truth[i], pred[i]
		if t < 0 || t >= numClasses || p < 0 || p >= numClasses {
			return nil, fmt.Errorf("analysis.ConfusionMatrix: item %d has label %d and prediction %d, want both in [0, %d)", i, t, p, numClasses)
		}
		cm[t][p]++
	}
	return cm, nil
}

// PerClassAccuracy returns, for each class (row of a confusion matrix), the fraction of its items
// predicted correctly (its recall); NaN for a class with no items.
func PerClassAccuracy(cm [][]int) []float64 {
	out := make([]float64, len(cm))
	for c, row := range cm {
		n := 0
		for _, v := range row {
			n += v
		}
		if n == 0 || c >= len(row) {
			out[c] = math.NaN()
			continue
		}
		out[c] = float64(row[c]) / float64(n)
	}
	return out
}

// MeanIgnoringNaN returns the mean of the non-NaN values (NaN when there are none): e.g. the mean
// per-class accuracy over the classes that have items.
func MeanIgnoringNaN(xs []float64) float64 {
	s, n := 0.0, 0
	for _, x := range xs {
		if !math.IsNaN(x) {
			s += x
			n++
		}
	}
	if n == 0 {
		return math.NaN()
	}
	return s / float64(n)
}

// RowNormalize returns cm with each row divided by its sum (rows that sum to 0 stay 0): the
// confusion matrix as fractions of each true class.
func RowNormalize(cm [][]int) [][]float64 {
	out := make([][]float64, len(cm))
	for i, row := range cm {
		out[i] = make([]float64, len(row))
		n := 0
		for _, v := range row {
			n += v
		}
		if n == 0 {
			continue
		}
		for j, v := range row {
			out[i][j] = float64(v) / float64(n)
		}
	}
	return out
}

// Confusion is one off-diagonal cell of a confusion matrix: Count items of class True predicted
// as Pred.
type Confusion struct {
	True, Pred, Count int
}

// TopConfusions returns the n largest off-diagonal cells of cm (largest first; ties in row-major
// order), skipping zero cells.
func TopConfusions(cm [][]int, n int) []Confusion {
	var all []Confusion
	for t, row := range cm {
		for p, v := range row {
			if t != p && v > 0 {
				all = append(all, Confusion{True: t, Pred: p, Count: v})
			}
		}
	}
	sort.SliceStable(all, func(a, b int) bool { return all[a].Count > all[b].Count })
	return all[:min(max(n, 0), len(all))]
}

// Stratified picks up to perClass items of each class, in dataset order: the indices i (sorted)
// of the first perClass items with labels[i] == c for each c in [0, numClasses). Labels outside
// that range (e.g. -1 for unlabelled) are skipped.
func Stratified(labels []int, numClasses, perClass int) []int {
	taken := make([]int, max(numClasses, 0))
	var out []int
	for i, l := range labels {
		if l < 0 || l >= numClasses || taken[l] >= perClass {
			continue
		}
		taken[l]++
		out = append(out, i)
	}
	return out
}

// Order returns the indices of values sorted by decreasing value (stable; NaN last): e.g. prompt
// templates ranked by accuracy.
func Order(values []float64) []int {
	idx := make([]int, len(values))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool {
		va, vb := values[idx[a]], values[idx[b]]
		if math.IsNaN(vb) {
			return !math.IsNaN(va)
		}
		return va > vb
	})
	return idx
}

// SplitPerClass splits the items idx (indices into labels) in order: the first perClass of each
// class go to kept, the others to rest. An index outside labels is an error.
func SplitPerClass(labels, idx []int, perClass int) (kept, rest []int, err error) {
	seen := map[int]int{}
	for _, i := range idx {
		if i < 0 || i >= len(labels) {
			return nil, nil, fmt.Errorf("SplitPerClass: index %d outside the %d labels", i, len(labels))
		}
		if l := labels[i]; seen[l] < perClass {
			kept = append(kept, i)
			seen[l]++
		} else {
			rest = append(rest, i)
		}
	}
	return kept, rest, nil
}
