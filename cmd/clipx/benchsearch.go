package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/clipkit/clipkit/cliplib/search"
	"github.com/clipkit/clipkit/cliplib/search/searchbench"
	"github.com/clipkit/clipkit/cliplib/search/synth"
	"github.com/clipkit/clipkit/internal/atomicfile"
)

func init() { benchSubcommands["search"] = runBenchSearch }

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

// runBenchSearch is `clipx bench search`: the exact and HNSW indexes of cliplib/search on
// synthetic CLIP-like unit vectors (cliplib/search/searchbench), as JSON. With --dump the
// vectors are written as raw float32 so tools/bench/search_reference.py measures hnswlib,
// numpy and faiss on the same data (cliplib/search/MEASURED.md has the full recipe).
func runBenchSearch(args []string) error {
	fs := newFlagSet("bench search", "[--sizes 1e3,1e5,1e6] [--data clusters|lowrank] [--out FILE] [--dump DIR] [--save DIR]")
	sizes := fs.String("sizes", "1e3,1e5,1e6", "comma-separated collection sizes")
	kind := fs.String("data", "clusters", "synthetic set: clusters (mixture of clusters) or lowrank")
	dim := fs.Int("dim", 512, "vector dimension")
	seed := fs.Uint64("seed", 1, "synthetic data seed")
	k := fs.Int("k", 10, "neighbours per query")
	queries := fs.Int("queries", 1000, "queries for HNSW recall and latency")
	exactQ := fs.Int("exact-queries", 100, "timed single exact queries")
	batch := fs.Int("batch", 256, "batch size for batched exact search")
	m := fs.Int("M", 16, "HNSW M")
	efc := fs.Int("efc", 100, "HNSW efConstruction")
	efs := fs.String("ef", "16,32,64,128,256", "efSearch values to sweep")
	noHNSW := fs.Bool("no-hnsw", false, "skip the HNSW index")
	noExact := fs.Bool("no-exact", false, "skip timing the exact index (it still gives the ground truth)")
	bwMiB := fs.Int64("bandwidth-mib", 2048, "buffer for the memory-bandwidth measurement in MiB (0 skips it)")
	save := fs.String("save", "", "directory to time Save/Load in (files removed after unless --keep)")
	keep := fs.Bool("keep", false, "keep the index files written to --save")
	dump := fs.String("dump", "", "directory to write raw float32 base/query files to (for search_reference.py)")
	out := fs.String("out", "-", "JSON report file ('-' for stdout)")
	quiet := fs.Bool("quiet", false, "no progress lines on stderr")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return fmt.Errorf("%w: unexpected arguments %q", errUsage, fs.Args())
	}
	sz, err := sizeList("sizes", *sizes)
	if err != nil {
		return err
	}
	ef, err := sizeList("ef", *efs)
	if err != nil {
		return err
	}
	switch synth.Kind(*kind) {
	case synth.Clusters, synth.LowRank:
	default:
		return fmt.Errorf("%w: --data %q: want clusters or lowrank", errUsage, *kind)
	}
	if *bwMiB < 0 {
		return fmt.Errorf("%w: --bandwidth-mib %d is negative", errUsage, *bwMiB)
	}
	// Output folders are created up front (and a bad one reported before the benchmark runs).
	for _, d := range []struct{ flag, dir string }{{"dump", *dump}, {"save", *save}} {
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
	bw := *bwMiB << 20
	if bw == 0 {
		bw = -1 // searchbench: negative skips the measurement
	}
	cfg := searchbench.Config{
		Sizes: sz, K: *k, Queries: *queries, ExactQueries: *exactQ, Batch: *batch,
		Data:     synth.Config{Kind: synth.Kind(*kind), Dim: *dim, Seed: *seed},
		HNSW:     search.HNSWConfig{M: *m, EfConstruction: *efc},
		EfSearch: ef, SkipHNSW: *noHNSW, SkipExact: *noExact, BandwidthBytes: bw,
		SaveDir: *save, KeepSaved: *keep, DumpDir: *dump,
	}
	if !*quiet {
		cfg.Logf = func(f string, a ...any) {
			fmt.Fprintf(os.Stderr, "bench search: "+strings.TrimSuffix(f, "\n")+"\n", a...)
		}
	}
	rep, err := searchbench.Run(cfg)
	if err != nil {
		return err
	}
	return writeJSON(*out, rep)
}
