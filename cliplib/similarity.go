package cliplib

import (
	"fmt"
	"math"
)

// Similarity returns the matrix of dot products a·bᵀ ([len(a)][len(b)]). For L2-normalised
// embeddings (what the encoders return) these are cosine similarities in [-1, 1].
func Similarity(a, b [][]float32) [][]float32 {
	out := make([][]float32, len(a))
	for i, x := range a {
		row := make([]float32, len(b))
		for j, y := range b {
			row[j] = Dot(x, y)
		}
		out[i] = row
	}
	return out
}

// Dot returns the inner product of two vectors of the same length (computed in float64).
func Dot(x, y []float32) float32 {
	if len(x) != len(y) {
		panic(fmt.Sprintf("cliplib.Dot: vectors of length %d and %d", len(x), len(y)))
	}
	s := 0.0
	for i := range x {
		s += float64(x[i]) * float64(y[i])
	}
	return float32(s)
}

// Scale multiplies every entry of m by s, returning a new matrix: logits = Scale(Similarity(img,
// txt), model.LogitScale()).
func Scale(m [][]float32, s float32) [][]float32 {
	out := make([][]float32, len(m))
	for i, row := range m {
		out[i] = make([]float32, len(row))
		for j, v := range row {
			out[i][j] = v * s
		}
	}
	return out
}

// Softmax returns the softmax of logits (numerically stable, float64 accumulation).
func Softmax(logits []float32) []float32 {
	if len(logits) == 0 {
		return nil
	}
	m := math.Inf(-1)
	for _, v := range logits {
		m = math.Max(m, float64(v))
	}
	out := make([]float32, len(logits))
	sum := 0.0
	for i, v := range logits {
		e := math.Exp(float64(v) - m)
		out[i] = float32(e)
		sum += e
	}
	for i := range out {
		out[i] = float32(float64(out[i]) / sum)
	}
	return out
}

// Normalize returns v / ‖v‖₂ (v unchanged if it is zero).
func Normalize(v []float32) []float32 {
	s := 0.0
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	out := make([]float32, len(v))
	if s == 0 {
		copy(out, v)
		return out
	}
	inv := 1 / math.Sqrt(s)
	for i, x := range v {
		out[i] = float32(float64(x) * inv)
	}
	return out
}
