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
				ids := map[uint64]bool{}
				for _, r := range got {
					ids[r.ID] = true
				}
				for _, r := range want {
					if ids[r.ID] {
						hit++
					}
				}
			}
			if r := float64(hit) / (10 * nq); r < 0.95 {
				t.Fatalf("workers %d, trial %d: recall@10 at ef=48 = %.2f, want >= 0.95", workers, trial, r)
			}
		}
	}
}
