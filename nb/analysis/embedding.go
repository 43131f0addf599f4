package analysis

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/stat"
)

// Projection is the result of PCA: each input row projected on the leading principal components.
type Projection struct {
	// Points holds one row of k coordinates per input row ([N][k]).
	Points [][]float64
	// Explained is the fraction of the total variance along each of the k components (descending).
	Explained []float64
}

// PCA projects the rows of x ([N][E] embeddings, N >= 2) onto their first k principal components
// (centred, not scaled), computed by gonum's SVD-based stat.PC. Each component's sign is fixed so
// that its largest-magnitude coefficient is positive, so the picture does not flip between runs.
// Rows are typically L2-normalised embeddings of images and texts together.
func PCA(x [][]float32, k int) (Projection, error) {
	n := len(x)
	if n < 2 {
		return Projection{}, fmt.Errorf("analysis.PCA: %d rows, need at least 2", n)
	}
	d := len(x[0])
	if d == 0 {
		return Projection{}, fmt.Errorf("analysis.PCA: rows of length 0")
	}
	if k < 1 || k > min(n, d) {
		return Projection{}, fmt.Errorf("analysis.PCA: k=%d components, want 1 <= k <= min(rows %d, dims %d)", k, n, d)
	}
	a := mat.NewDense(n, d, nil)
	for i, row := range x {
		if len(row) != d {
			return Projection{}, fmt.Errorf("analysis.PCA: row %d has %d values, want %d", i, len(row), d)
		}
		for j, v := range row {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return Projection{}, fmt.Errorf("analysis.PCA: row %d has a non-finite value at %d", i, j)
			}
			a.Set(i, j, float64(v))
		}
	}
	var pc stat.PC
	if !pc.PrincipalComponents(a, nil) {
		return Projection{}, fmt.Errorf("analysis.PCA: the SVD of the %d×%d data did not converge", n, d)
	}
	var vecs mat.Dense
	pc.VectorsTo(&vecs)
	vars := pc.VarsTo(nil)
	total := 0.0
	for _, v := range vars {
		total += v
	}
	// Centre the data.
	means := make([]float64, d)
	for j := range d {
		for i := range n {
			means[j] += a.At(i, j)
		}
		means[j] /= float64(n)
	}
	p := Projection{Points: make([][]float64, n), Explained: make([]float64, k)}
	signs := make([]float64, k)
	for c := range k {
		big, sign := 0.0, 1.0
		for j := range d {
			if v := vecs.At(j, c); math.Abs(v) > big {
				big, sign = math.Abs(v), math.Copysign(1, v)
			}
		}
		signs[c] = sign
		if total > 0 {
			p.Explained[c] = vars[c] / total
		}
	}
	for i := range n {
		p.Points[i] = make([]float64, k)
		for c := range k {
			s := 0.0
			for j := range d {
				s += (a.At(i, j) - means[j]) * vecs.At(j, c)
			}
			p.Points[i][c] = signs[c] * s
		}
	}
	return p, nil
}

// ClassSimilarity returns the mean cosine similarity between the embeddings of each pair of
// classes: m[a][b] is the mean of embs[i]·embs[j] over items i of class a and j of class b (i ≠ j
// on the diagonal, so m[a][a] is the mean intra-class similarity). Embeddings should be
// L2-normalised. Cells without a pair (a class with no items, or one item on the diagonal) are NaN.
func ClassSimilarity(embs [][]float32, labels []int, numClasses int) ([][]float64, error) {
	if len(embs) != len(labels) {
		return nil, fmt.Errorf("analysis.ClassSimilarity: %d embeddings but %d labels", len(embs), len(labels))
	}
	if numClasses < 1 {
		return nil, fmt.Errorf("analysis.ClassSimilarity: %d classes, want at least 1", numClasses)
	}
	for i, l := range labels {
		if l < 0 || l >= numClasses {
			return nil, fmt.Errorf("analysis.ClassSimilarity: label %d of item %d is not in [0, %d)", l, i, numClasses)
		}
		if len(embs[i]) != len(embs[0]) {
			return nil, fmt.Errorf("analysis.ClassSimilarity: embedding %d has %d values, want %d", i, len(embs[i]), len(embs[0]))
		}
	}
	sum := make([][]float64, numClasses)
	cnt := make([][]int, numClasses)
	for a := range sum {
		sum[a] = make([]float64, numClasses)
		cnt[a] = make([]int, numClasses)
	}
	for i := range embs {
		for j := range embs {
			if i == j {
				continue
			}
			s := 0.0
			for k := range embs[i] {
				s += float64(embs[i][k]) * float64(embs[j][k])
			}
			sum[labels[i]][labels[j]] += s
			cnt[labels[i]][labels[j]]++
		}
	}
	for a := range sum {
		for b := range sum[a] {
			if cnt[a][b] == 0 {
				sum[a][b] = math.NaN()
			} else {
				sum[a][b] /= float64(cnt[a][b])
			}
		}
	}
	return sum, nil
}

// IntraInter summarises a ClassSimilarity matrix: the mean of its diagonal (intra-class
// similarity) and of its off-diagonal cells (inter-class), NaN cells ignored. Their difference is
// how much closer an item is to its own class than to the others.
func IntraInter(m [][]float64) (intra, inter float64) {
	var d, o []float64
	for a, row := range m {
		for b, v := range row {
			if a == b {
				d = append(d, v)
			} else {
				o = append(o, v)
			}
		}
	}
	return MeanIgnoringNaN(d), MeanIgnoringNaN(o)
}

// MeanSimilarity returns the mean of all entries of a similarity matrix ([A][B], e.g. every image
// against every text), NaN for an empty one. With excludeDiagonal the entries [i][i] are left out
// (for a matrix of a set against itself).
func MeanSimilarity(sim [][]float32, excludeDiagonal bool) float64 {
	s, n := 0.0, 0
	for i, row := range sim {
		for j, v := range row {
			if excludeDiagonal && i == j {
				continue
			}
			s += float64(v)
			n++
		}
	}
	if n == 0 {
		return math.NaN()
	}
	return s / float64(n)
}
