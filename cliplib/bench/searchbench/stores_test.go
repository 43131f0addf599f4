package searchbench

import (
	"context"
	"strings"
	"syscall"
	"testing"

	"github.com/clipkit/clipkit/cliplib/search"
	"github.com/clipkit/clipkit/cliplib/search/synth"
)

func TestCompareStoresSideBySide(t *testing.T) {
	const dim = 32
	ex, _ := search.NewLocalStore(search.StoreOptions{Dim: dim})
	hn, _ := search.NewLocalStore(search.StoreOptions{Dim: dim, Kind: search.KindHNSW})
	readyCalled := false
	rep, err := CompareStores(context.Background(), StoreConfig{N: 3000, Data: synth.Config{Dim: dim, Seed: 3}, Queries: 50, Batch: 700},
		[]Contender{
			{Name: "exact", Store: ex},
			{Name: "hnsw", Store: hn, Ready: func(context.Context) error { readyCalled = true; return nil },
				RSS: func() (int64, error) { return GroupRSS(syscall.Getpgrp()) }},
		})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Results) != 2 || !readyCalled {
		t.Fatalf("results %+v, Ready called %v", rep.Results, readyCalled)
	}
	e, h := rep.Results[0], rep.Results[1]
	if e.Recall != 1 {
		t.Errorf("exact store recall %v, want 1", e.Recall)
	}
	if h.Recall < 0.8 || h.Recall > 1 {
		t.Errorf("hnsw recall %v", h.Recall)
	}
	for _, r := range rep.Results {
		if r.N != 3000 || r.IngestPerSec <= 0 || r.P50 <= 0 || r.P95 < r.P50 || r.RSSAfterBytes <= 0 {
			t.Errorf("implausible figures %+v", r)
		}
	}
	if n, _ := hn.Count(context.Background()); n != 3000 {
		t.Errorf("hnsw store holds %d, want 3000", n)
	}
	tab := rep.Table()
	if !strings.Contains(tab, "recall@10") || strings.Count(tab, "\n") != 3 {
		t.Errorf("table:\n%s", tab)
	}
	if _, err := GroupRSS(-12345); err == nil {
		t.Error("GroupRSS of no group succeeded")
	}
	bad, _ := search.NewLocalStore(search.StoreOptions{Dim: 8})
	if _, err := CompareStores(context.Background(), StoreConfig{N: 10, Data: synth.Config{Dim: dim}}, []Contender{{Name: "x", Store: bad}}); err == nil ||
		!strings.Contains(err.Error(), "dimension 8") {
		t.Errorf("dimension mismatch: %v", err)
	}
}
