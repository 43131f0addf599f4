package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/clipkit/clipkit/cliplib/bench/searchbench"
	"github.com/clipkit/clipkit/cliplib/search"
	"github.com/clipkit/clipkit/cliplib/search/synth"
	"github.com/clipkit/clipkit/internal/atomicfile"
	"github.com/spf13/cobra"
)

func init() {
	addCommand("bench", newBenchSearchCmd)
}

// sizeList is parseInts for a required flag: the flag is named in errors and may not be empty.
func sizeList(flagName, s string) ([]int, error) {
	out, err := parseInts(s)
	if err != nil {
		return nil, fmt.Errorf("%w (--%s)", err, flagName)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: --%s is empty", errUsage, flagName)
	}
	return out, nil
}

// benchSearchOptions are the flags of clipx bench search.
type benchSearchOptions struct {
	sizes   string
	kind    string
	dim     int
	seed    uint64
	k       int
	queries int
	exactQ  int
	batch   int
	m       int
	efc     int
	efs     string
	noHNSW  bool
	noExact bool
	bwMiB   int64
	save    string
	keep    bool
	dump    string
	out     string
	quiet   bool
}

func newBenchSearchCmd() *cobra.Command {
	o := &benchSearchOptions{}
	c := &cobra.Command{
		Use:   "search [--sizes 1e3,1e5,1e6] [--data clusters|lowrank] [--out FILE] [--dump DIR] [--save DIR]",
		Short: "exact and HNSW vector search on synthetic CLIP-like vectors: recall, latency, memory; JSON out",
		Long: `Benchmark the exact and HNSW indexes of cliplib/search on synthetic CLIP-like unit vectors
(cliplib/bench/searchbench): build time, recall@k against exact search for each efSearch, query
latency, batched exact search and memory bandwidth, as JSON to --out. With --dump the vectors are
written as raw float32 so tools/bench/search_reference.py measures hnswlib, numpy and faiss on the
same data (cliplib/search/MEASURED.md has the full recipe).`,
		Example: `  clipx bench search --sizes 1e3,1e5 --out search.json
  clipx bench search --sizes 1e6 --bandwidth-mib 2048 --dump /tmp/searchdata --out go_1e6.json`,
		Args: noArgs(""),
		RunE: func(*cobra.Command, []string) error { return runBenchSearch(o) },
	}
	f := c.Flags()
	f.StringVar(&o.sizes, "sizes", "1e3,1e5,1e6", "comma-separated collection sizes")
	f.StringVar(&o.kind, "data", "clusters", "synthetic set: clusters (mixture of clusters) or lowrank")
	f.IntVar(&o.dim, "dim", 512, "vector dimension")
	f.Uint64Var(&o.seed, "seed", 1, "synthetic data seed")
	f.IntVar(&o.k, "k", 10, "neighbours per query")
	f.IntVar(&o.queries, "queries", 1000, "queries for HNSW recall and latency")
	f.IntVar(&o.exactQ, "exact-queries", 100, "timed single exact queries")
	f.IntVar(&o.batch, "batch", 256, "batch size for batched exact search")
	f.IntVar(&o.m, "M", 16, "HNSW M")
	f.IntVar(&o.efc, "efc", 100, "HNSW efConstruction")
	f.StringVar(&o.efs, "ef", "16,32,64,128,256", "efSearch values to sweep")
	f.BoolVar(&o.noHNSW, "no-hnsw", false, "skip the HNSW index")
	f.BoolVar(&o.noExact, "no-exact", false, "skip timing the exact index (it still gives the ground truth)")
	f.Int64Var(&o.bwMiB, "bandwidth-mib", 2048, "buffer for the memory-bandwidth measurement in MiB (0 skips it)")
	f.StringVar(&o.save, "save", "", "directory to time Save/Load in (files removed after unless --keep)")
	f.BoolVar(&o.keep, "keep", false, "keep the index files written to --save")
	f.StringVar(&o.dump, "dump", "", "directory to write raw float32 base/query files to (for search_reference.py)")
	f.StringVar(&o.out, "out", "-", "JSON report file ('-' for stdout)")
	f.BoolVar(&o.quiet, "quiet", false, "no progress lines on stderr")
	return c
}

// runBenchSearch is `clipx bench search`: the exact and HNSW indexes of cliplib/search on
// synthetic CLIP-like unit vectors (cliplib/bench/searchbench), as JSON. With --dump the
// vectors are written as raw float32 so tools/bench/search_reference.py measures hnswlib,
// numpy and faiss on the same data (cliplib/search/MEASURED.md has the full recipe).
func runBenchSearch(o *benchSearchOptions) error {
	sz, err := sizeList("sizes", o.sizes)
	if err != nil {
		return err
	}
	ef, err := sizeList("ef", o.efs)
	if err != nil {
		return err
	}
	switch synth.Kind(o.kind) {
	case synth.Clusters, synth.LowRank:
	default:
		return fmt.Errorf("%w: --data %q: want clusters or lowrank", errUsage, o.kind)
	}
	if o.bwMiB < 0 {
		return fmt.Errorf("%w: --bandwidth-mib %d is negative", errUsage, o.bwMiB)
	}
	// Output folders are created up front (and a bad one reported before the benchmark runs).
	for _, d := range []struct{ flag, dir string }{{"dump", o.dump}, {"save", o.save}} {
		if d.dir == "" {
			continue
		}
		if err := os.MkdirAll(d.dir, 0o755); err != nil {
			return fmt.Errorf("--%s: %w", d.flag, err)
		}
		if err := atomicfile.CheckWritable(filepath.Join(d.dir, "probe")); err != nil {
			return fmt.Errorf("--%s: %w", d.flag, err)
		}
	}
	bw := o.bwMiB << 20
	if bw == 0 {
		bw = -1 // searchbench: negative skips the measurement
	}
	cfg := searchbench.Config{
		Sizes: sz, K: o.k, Queries: o.queries, ExactQueries: o.exactQ, Batch: o.batch,
		Data:     synth.Config{Kind: synth.Kind(o.kind), Dim: o.dim, Seed: o.seed},
		HNSW:     search.HNSWConfig{M: o.m, EfConstruction: o.efc},
		EfSearch: ef, SkipHNSW: o.noHNSW, SkipExact: o.noExact, BandwidthBytes: bw,
		SaveDir: o.save, KeepSaved: o.keep, DumpDir: o.dump,
	}
	if !o.quiet {
		cfg.Logf = func(f string, a ...any) {
			fmt.Fprintf(os.Stderr, "bench search: "+strings.TrimSuffix(f, "\n")+"\n", a...)
		}
	}
	rep, err := searchbench.Run(cfg)
	if err != nil {
		return err
	}
	return writeJSON(o.out, rep)
}
