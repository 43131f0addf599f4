package analysis

import (
	"fmt"
	"math"
	"sort"
)

// PrecisionAtK returns the mean, over queries, of the share of the first k retrieved items whose
// label is the query's label: retrieved[q] holds the labels of query q's results in rank order,
// want[q] its label. A query with fewer than k results counts the missing ones as wrong. An error
// when the lengths differ, k < 1 or there are no queries.
func PrecisionAtK(retrieved [][]int, want []int, k int) (float64, error) {
	if len(retrieved) != len(want) {
		return 0, fmt.Errorf("analysis.PrecisionAtK: %d result lists but %d query labels", len(retrieved), len(want))
	}
	if k < 1 || len(want) == 0 {
		return 0, fmt.Errorf("analysis.PrecisionAtK: want k >= 1 and at least one query (got k = %d, %d queries)", k, len(want))
	}
	total := 0.0
	for q, labels := range retrieved {
		hits := 0
		for _, l := range labels[:min(k, len(labels))] {
			if l == want[q] {
				hits++
			}
		}
		total += float64(hits) / float64(k)
	}
	return total / float64(len(want)), nil
}

// Paired summarises a square similarity matrix whose item i of the rows belongs with item i of
// the columns (image i and its caption i): the mean similarity of the matched pairs (the
// diagonal), of the unmatched pairs, and the share of rows whose best column is their own.
type Paired struct {
	Matched, Unmatched float64
	Top1               float64
}

// PairedSimilarity computes Paired for sim ([N][N], N >= 2); ties count against the row, as in
// Ranks.
func PairedSimilarity(sim [][]float32) (Paired, error) {
	n := len(sim)
	if n < 2 {
		return Paired{}, fmt.Errorf("analysis.PairedSimilarity: want at least 2 pairs, got %d", n)
	}
	var p Paired
	top := 0
	for i, row := range sim {
		if len(row) != n {
			return Paired{}, fmt.Errorf("analysis.PairedSimilarity: row %d has %d columns, want %d (a square matrix)", i, len(row), n)
		}
		best := true
		for j, v := range row {
			if i == j {
				p.Matched += float64(v)
				continue
			}
			p.Unmatched += float64(v)
			if v >= row[i] {
				best = false
			}
		}
		if best {
			top++
		}
	}
	p.Matched /= float64(n)
	p.Unmatched /= float64(n * (n - 1))
	p.Top1 = float64(top) / float64(n)
	return p, nil
}

// Pair is two items of a symmetric similarity matrix and their similarity.
type Pair struct {
	A, B int
	Sim  float64
}

// TopPairs returns the n most similar pairs (A < B) of a square symmetric similarity matrix, most
// similar first (ties by A, then B); the diagonal is left out. NaN similarities are skipped.
func TopPairs(sim [][]float32, n int) ([]Pair, error) {
	var all []Pair
	for i, row := range sim {
		if len(row) != len(sim) {
			return nil, fmt.Errorf("analysis.TopPairs: row %d has %d columns, want %d (a square matrix)", i, len(row), len(sim))
		}
		for j := i + 1; j < len(row); j++ {
			if v := float64(row[j]); !math.IsNaN(v) {
				all = append(all, Pair{A: i, B: j, Sim: v})
			}
		}
	}
	sort.SliceStable(all, func(a, b int) bool { return all[a].Sim > all[b].Sim })
	return all[:min(max(n, 0), len(all))], nil
}
