package search

import (
	"testing"

	"github.com/clipkit/clipkit/cliplib/search/synth"
)

// TestParallelBuildKeepsRecall: a small graph built by many concurrent inserters is as good as a
// sequential one. Before Add inserted its first nodes one at a time, 300 points with 8-32 workers
// sometimes gave recall@10 of 0.5-0.65 (nodes left with no incoming link), which made
// clipx bench search's test fail now and then.
func TestParallelBuildKeepsRecall(t *testing.T) {
	const n, dim, nq = 300, 16, 20
	g, err := synth.New(synth.Config{Kind: synth.Clusters, Dim: dim, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	pts, qs := g.Points(0, n), g.Queries(nq)
	items := make([]Item, n)
	for i := range items {
		items[i] = Item{ID: uint64(i), Vector: pts[i*dim : (i+1)*dim]}
	}
	ex, err := NewExact(dim)
	if err != nil {
		t.Fatal(err)
	}
	if err := ex.Add(items...); err != nil {
		t.Fatal(err)
	}
	for _, workers := range []int{8, 32} {
		for trial := range 20 {
			h, err := NewHNSW(dim, HNSWConfig{M: 8, EfConstruction: 32, Workers: workers})
			if err != nil {
				t.Fatal(err)
			}
			if err := h.Add(items...); err != nil {
				t.Fatal(err)
			}
			hit := 0
			for q := range nq {
				want, _ := ex.Search(qs[q*dim:(q+1)*dim], 10)
				got, err := h.SearchEf(qs[q*dim:(q+1)*dim], 10, 48)
				if err != nil {
					t.Fatal(err)
				}
				hit += Overlap(got, want)
			}
			if r := float64(hit) / (10 * nq); r < 0.95 {
				t.Fatalf("workers %d, trial %d: recall@10 at ef=48 = %.2f, want >= 0.95", workers, trial, r)
			}
		}
	}
}

func TestOverlapCountsSharedIDs(t *testing.T) {
	r := func(ids ...uint64) []Result {
		out := make([]Result, len(ids))
		for i, id := range ids {
			out[i] = Result{ID: id}
		}
		return out
	}
	for _, tc := range []struct {
		got, want []Result
		n         int
	}{
		{r(1, 2, 3), r(3, 2, 1), 3},
		{r(1, 2, 3), r(4, 5), 0},
		{r(1, 9), r(1, 2, 3), 1},
		{nil, r(1), 0},
	} {
		if n := Overlap(tc.got, tc.want); n != tc.n {
			t.Errorf("Overlap(%v, %v) = %d, want %d", tc.got, tc.want, n, tc.n)
		}
	}
}
