// Command searchbench runs the search-index benchmark (package
// cliplib/search/searchbench) and writes its JSON report.
//
//	go run ./tools/searchbench -sizes 1000,100000 -out /tmp/search.json -dump /tmp/searchdata
//
// With -dump, the vectors are also written as raw float32 files so
// tools/bench/search_reference.py can measure hnswlib/numpy/faiss on the same data.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"strconv"
	"strings"

	"github.com/clipkit/clipkit/cliplib/search"
	"github.com/clipkit/clipkit/cliplib/search/searchbench"
	"github.com/clipkit/clipkit/cliplib/search/synth"
)

func ints(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		v, err := strconv.ParseFloat(f, 64) // accepts 1e6
		if err != nil || v != float64(int(v)) {
			return nil, fmt.Errorf("bad integer %q", f)
		}
		out = append(out, int(v))
	}
	return out, nil
}

func main() {
	var (
		sizes   = flag.String("sizes", "1e3,1e5,1e6", "comma-separated collection sizes")
		kind    = flag.String("data", "clusters", "synthetic set: clusters or lowrank")
		dim     = flag.Int("dim", 512, "vector dimension")
		seed    = flag.Uint64("seed", 1, "synthetic data seed")
		k       = flag.Int("k", 10, "neighbours per query")
		queries = flag.Int("queries", 1000, "queries for HNSW recall/latency")
		exactQ  = flag.Int("exact-queries", 100, "timed single exact queries")
		batch   = flag.Int("batch", 256, "batch size for batched exact search")
		m       = flag.Int("M", 16, "HNSW M")
		efc     = flag.Int("efc", 100, "HNSW efConstruction")
		efs     = flag.String("ef", "16,32,64,128,256", "efSearch values to sweep")
		noHNSW  = flag.Bool("no-hnsw", false, "skip the HNSW index")
		bwMiB   = flag.Int64("bandwidth-mib", 2048, "buffer for the bandwidth measurement (MiB; 0 skips)")
		save    = flag.String("save", "", "directory to time Save/Load in (files removed after)")
		keep    = flag.Bool("keep", false, "keep the index files written to -save")
		dump    = flag.String("dump", "", "directory to write raw float32 base/query files to")
		out     = flag.String("out", "", "JSON output file (default stdout)")
	)
	flag.Parse()
	sz, err := ints(*sizes)
	if err != nil {
		log.Fatalf("-sizes: %v", err)
	}
	ef, err := ints(*efs)
	if err != nil {
		log.Fatalf("-ef: %v", err)
	}
	bw := *bwMiB << 20
	if bw == 0 {
		bw = -1
	}
	cfg := searchbench.Config{
		Sizes: sz, K: *k, Queries: *queries, ExactQueries: *exactQ, Batch: *batch,
		Data:     synth.Config{Kind: synth.Kind(*kind), Dim: *dim, Seed: *seed},
		HNSW:     search.HNSWConfig{M: *m, EfConstruction: *efc},
		EfSearch: ef, SkipHNSW: *noHNSW, BandwidthBytes: bw, SaveDir: *save, KeepSaved: *keep, DumpDir: *dump,
		Logf: func(f string, a ...any) { log.Printf(f, a...) },
	}
	rep, err := searchbench.Run(cfg)
	if err != nil {
		log.Fatal(err)
	}
	js, _ := json.MarshalIndent(rep, "", "  ")
	if *out == "" {
		fmt.Println(string(js))
		return
	}
	if err := os.WriteFile(*out, append(js, '\n'), 0o644); err != nil {
		log.Fatal(err)
	}
}
