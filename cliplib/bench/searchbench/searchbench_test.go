package searchbench

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/clipkit/clipkit/cliplib/search"
	"github.com/clipkit/clipkit/cliplib/search/synth"
)

func TestRunProducesACompleteReport(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{
		Sizes: []int{400}, Data: synth.Config{Dim: 32, Clusters: 10}, Queries: 30, ExactQueries: 5, Batch: 8,
		HNSW: search.HNSWConfig{M: 8, EfConstruction: 40}, EfSearch: []int{8, 64},
		BandwidthBytes: 1 << 20, SaveDir: dir, DumpDir: dir,
	}
	rep, err := Run(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := json.Marshal(rep); err != nil {
		t.Fatal(err)
	}
	if rep.BandwidthGBs <= 0 || rep.Machine.Cores < 1 || rep.Machine.Kernel == "" {
		t.Errorf("machine/bandwidth not filled: %+v %v", rep.Machine, rep.BandwidthGBs)
	}
	if len(rep.Sizes) != 1 {
		t.Fatalf("%d size reports, want 1", len(rep.Sizes))
	}
	s := rep.Sizes[0]
	if s.Exact == nil || s.Exact.Single.P50 <= 0 || s.Exact.Single.P95 < s.Exact.Single.P50 || s.Exact.BatchMsPerQ <= 0 || s.Exact.FloorMs <= 0 {
		t.Errorf("exact report incomplete: %+v", s.Exact)
	}
	if s.HNSW == nil || len(s.HNSW.Points) != 2 {
		t.Fatalf("hnsw report incomplete: %+v", s.HNSW)
	}
	for _, p := range s.HNSW.Points {
		if p.Recall <= 0 || p.Recall > 1 || p.P50 <= 0 {
			t.Errorf("bad ef point %+v", p)
		}
	}
	if hi := s.HNSW.Points[1]; hi.Recall < 0.95 {
		t.Errorf("recall at ef=64 on 400 points is %.3f, want >= 0.95", hi.Recall)
	}
	if s.Exact.Persist == nil || s.Exact.Persist.FileBytes < 400*32*4 || s.HNSW.Persist == nil {
		t.Errorf("persist timings missing: %+v %+v", s.Exact.Persist, s.HNSW.Persist)
	}
	st, err := os.Stat(s.BaseFile)
	if err != nil || st.Size() != 400*32*4 {
		t.Errorf("dumped base file %s: %v (size want %d)", s.BaseFile, err, 400*32*4)
	}
	if _, err := Run(Config{Sizes: []int{0}}); err == nil {
		t.Error("size 0 accepted")
	}
}
