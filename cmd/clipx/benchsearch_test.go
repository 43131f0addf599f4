package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/clipkit/clipkit/cliplib/bench/searchbench"
)

func TestBenchSearchWritesAReport(t *testing.T) {
	out := filepath.Join(t.TempDir(), "search.json")
	code, _ := runCapture(t, "", "bench", "search", "--quiet", "--sizes", "300", "--dim", "16", "--queries", "20",
		"--exact-queries", "3", "--batch", "4", "--M", "8", "--efc", "32", "--ef", "8,48", "--bandwidth-mib", "1", "--out", out)
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	var rep searchbench.Report
	if err := readJSONFile(out, &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Sizes) != 1 || rep.Sizes[0].N != 300 || rep.Sizes[0].HNSW == nil || len(rep.Sizes[0].HNSW.Points) != 2 || rep.Sizes[0].Exact == nil {
		t.Fatalf("incomplete report: %+v", rep)
	}
	if r := rep.Sizes[0].HNSW.Points[1].Recall; r < 0.9 {
		t.Errorf("recall@10 at ef=48 on 300 points: %.3f", r)
	}
}

func TestBenchSearchRejectsBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--sizes", "0"}, {"--sizes", "abc"}, {"--sizes", ""}, {"--data", "uniform"}, {"--ef", "1.5"}, {"--bandwidth-mib", "-2"}, {"extra"},
	} {
		code, _ := runCapture(t, "", append([]string{"bench", "search", "--quiet"}, args...)...)
		if code == 0 {
			t.Errorf("bench search %q accepted", args)
		}
	}
}

func readJSONFile(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

func TestAllModelsLeavesOutTestConfigurations(t *testing.T) {
	got := expandModels([]string{"all", "tiny-vit", "ViT-B/32"})
	seen := map[string]int{}
	for _, n := range got {
		seen[n]++
	}
	for _, want := range []string{"ViT-B/32", "RN50", "MobileCLIP-S0", "tiny-vit"} {
		if seen[want] != 1 {
			t.Errorf("%s listed %d times in %v", want, seen[want], got)
		}
	}
	for _, n := range []string{"tiny-rn", "MobileCLIP-test-S0", "MobileCLIP-test-S2", "MobileCLIP-test-B"} {
		if seen[n] != 0 {
			t.Errorf("test configuration %s in 'all': %v", n, got)
		}
	}
}
