package analysis

import (
	"fmt"
	"math"
)

// Ranks returns, for each query (row of sim, [Q][N] similarities of queries to items), the
// 1-based rank of its relevant item relevant[q] among the items sorted by decreasing similarity.
// Ties count against the query (an item with the same score as the relevant one ranks before it),
// so a constant score matrix gives no credit. relevant[q] = -1 marks a query without a relevant
// item: its rank is 0 and RecallAtK and MeanReciprocalRank skip it.
func Ranks(sim [][]float32, relevant []int) ([]int, error) {
	if len(sim) != len(relevant) {
		return nil, fmt.Errorf("analysis.Ranks: %d query rows but %d relevant indices", len(sim), len(relevant))
	}
	ranks := make([]int, len(sim))
	for q, row := range sim {
		r := relevant[q]
		if r == -1 {
			continue
		}
		if r < 0 || r >= len(row) {
			return nil, fmt.Errorf("analysis.Ranks: query %d: relevant item %d is not in [0, %d)", q, r, len(row))
		}
		rank := 1
		for j, v := range row {
			if j != r && v >= row[r] {
				rank++
			}
		}
		ranks[q] = rank
	}
	return ranks, nil
}

// RecallAtK returns the fraction of queries (with a relevant item, rank > 0) whose relevant item
// is within the top k; NaN when no query has one.
func RecallAtK(ranks []int, k int) float64 {
	hits, n := 0, 0
	for _, r := range ranks {
		if r <= 0 {
			continue
		}
		n++
		if r <= k {
			hits++
		}
	}
	if n == 0 {
		return math.NaN()
	}
	return float64(hits) / float64(n)
}

// MeanReciprocalRank returns the mean of 1/rank over the queries with a relevant item; NaN when
// there are none.
func MeanReciprocalRank(ranks []int) float64 {
	s, n := 0.0, 0
	for _, r := range ranks {
		if r > 0 {
			s += 1 / float64(r)
			n++
		}
	}
	if n == 0 {
		return math.NaN()
	}
	return s / float64(n)
}
