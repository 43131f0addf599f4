package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestBenchStoreRejectsBadFlags(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{}, "--milvus is required"},
		{[]string{"--milvus", "milvus://h/c", "--n", "1e3,1e4"}, "one size"},
		{[]string{"--milvus", "milvus://h/c", "--data", "gauss"}, "want clusters or lowrank"},
		{[]string{"--milvus", "milvus://h/c?M=1"}, `M="1"`},
		{[]string{"--milvus", "milvus://127.0.0.1:1/c?timeout=200ms&retries=1"}, "no connection to 127.0.0.1:1"},
	}
	for _, c := range cases {
		err := clipx(append([]string{"bench", "store"}, c.args...)...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("bench store %q: %v, want %q", c.args, err, c.want)
		}
	}
}

// TestBenchStoreSmallRunAgainstRealServer runs the side-by-side benchmark
// at a tiny size when a Milvus test server is named.
func TestBenchStoreSmallRunAgainstRealServer(t *testing.T) {
	addr := os.Getenv("CLIPKIT_MILVUS_ADDR")
	if addr == "" {
		t.Skip("no Milvus server: set CLIPKIT_MILVUS_ADDR (scripts/milvus-server.sh)")
	}
	out := filepath.Join(t.TempDir(), "store.json")
	u := fmt.Sprintf("milvus://%s/bench_test_%d", addr, time.Now().UnixNano()%1e9)
	if err := clipx("bench", "store", "--milvus", u, "--n", "2000", "--dim", "64", "--queries", "30", "--out", out); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(out)
	var rep struct {
		Results []struct {
			Name   string  `json:"name"`
			Recall float64 `json:"recall_at_k"`
			P50    float64 `json:"p50_ms"`
		} `json:"results"`
	}
	if err := json.Unmarshal(b, &rep); err != nil || len(rep.Results) != 2 {
		t.Fatalf("report: %v %s", err, b)
	}
	for _, r := range rep.Results {
		if r.Recall < 0.9 || r.P50 <= 0 {
			t.Errorf("%s: recall %v, p50 %v ms", r.Name, r.Recall, r.P50)
		}
	}
	// The collection was dropped: the same URL works again.
	if err := clipx("bench", "store", "--milvus", u, "--n", "500", "--dim", "64", "--queries", "5", "--out", out); err != nil {
		t.Errorf("second run on a dropped collection: %v", err)
	}
}
