package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/clipkit/clipkit/cliplib/search"
	"github.com/clipkit/clipkit/cliplib/search/milvus"
	"github.com/clipkit/clipkit/cliplib/search/searchbench"
	"github.com/clipkit/clipkit/cliplib/search/synth"
)

func init() { benchSubcommands["store"] = runBenchStore }

// runBenchStore is `clipx bench store`: our in-process HNSW and Milvus's
// HNSW with the same M and efConstruction, side by side on the same
// synthetic CLIP-like vectors (searchbench.CompareStores): ingest rate,
// index build, recall@k against exact search, single-query p50/p95 and the
// resident memory of each process. The table goes to stderr, the JSON
// report to --out.
func runBenchStore(args []string) error {
	fs := newFlagSet("bench store", "--milvus milvus://host:19530/COLLECTION [--n 1e5] [--M 16] [--efc 100] [--ef 64] [--out FILE]")
	milvusURL := fs.String("milvus", "", "Milvus store URL; the collection must not exist (it is created, and dropped afterwards unless --keep)")
	n := fs.String("n", "1e5", "collection size")
	kind := fs.String("data", "clusters", "synthetic set: clusters or lowrank")
	dim := fs.Int("dim", 512, "vector dimension")
	seed := fs.Uint64("seed", 1, "synthetic data seed")
	k := fs.Int("k", 10, "neighbours per query")
	queries := fs.Int("queries", 1000, "timed single queries per store")
	batch := fs.Int("batch", 1000, "vectors per upsert")
	m := fs.Int("M", 16, "HNSW M (both stores)")
	efc := fs.Int("efc", 100, "HNSW efConstruction (both stores)")
	ef := fs.Int("ef", 64, "HNSW efSearch (both stores; at least k)")
	pgid := fs.Int("milvus-pgid", 0, "process group of the Milvus server, for its memory (default $CLIPKIT_MILVUS_PGID; 0: not measured)")
	keep := fs.Bool("keep", false, "keep the Milvus collection afterwards")
	out := fs.String("out", "-", "JSON report file ('-' for stdout)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return fmt.Errorf("%w: unexpected arguments %q", errUsage, fs.Args())
	}
	if *milvusURL == "" {
		return fmt.Errorf("%w: --milvus is required (start a server with scripts/milvus-server.sh)", errUsage)
	}
	sizes, err := sizeList("n", *n)
	if err != nil {
		return err
	}
	if len(sizes) != 1 {
		return fmt.Errorf("%w: --n takes one size, got %q", errUsage, *n)
	}
	switch synth.Kind(*kind) {
	case synth.Clusters, synth.LowRank:
	default:
		return fmt.Errorf("%w: --data %q: want clusters or lowrank", errUsage, *kind)
	}
	if *pgid == 0 {
		if v := os.Getenv("CLIPKIT_MILVUS_PGID"); v != "" {
			if *pgid, err = strconv.Atoi(v); err != nil {
				return fmt.Errorf("CLIPKIT_MILVUS_PGID=%q: want a number", v)
			}
		}
	}
	cfg, err := milvus.ParseURL(*milvusURL)
	if err != nil {
		return err
	}
	cfg.Index, cfg.M, cfg.EfConstruction, cfg.Ef = "HNSW", *m, *efc, *ef
	if !strings.Contains(*milvusURL, "consistency=") {
		// Strong consistency makes every search wait for the next time tick
		// (≈200 ms on Milvus 2.3 standalone); serving uses bounded, and after
		// WaitIndexed every vector is visible anyway.
		cfg.Consistency = "bounded"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Hour)
	defer cancel()
	ms, err := milvus.OpenExisting(ctx, cfg, *dim)
	if err == nil {
		ms.Close()
		return fmt.Errorf("milvus collection %s already exists: the benchmark needs a new one (another name, or drop it)", cfg.Collection)
	}
	ms, err = milvus.Open(ctx, cfg, *dim)
	if err != nil {
		return err
	}
	defer func() {
		if !*keep {
			ms.Drop(context.Background())
		}
		ms.Close()
	}()
	local, err := search.NewLocalStore(search.StoreOptions{Dim: *dim, Kind: search.KindHNSW,
		HNSW: search.HNSWConfig{M: *m, EfConstruction: *efc, EfSearch: *ef}})
	if err != nil {
		return err
	}
	milvusRSS := func() (int64, error) { return 0, nil }
	if *pgid > 0 {
		milvusRSS = func() (int64, error) { return searchbench.GroupRSS(*pgid) }
	}
	logf := func(f string, a ...any) {
		fmt.Fprintf(os.Stderr, "bench store: "+strings.TrimSuffix(f, "\n")+"\n", a...)
	}
	rep, err := searchbench.CompareStores(ctx, searchbench.StoreConfig{N: sizes[0], K: *k, Queries: *queries, Batch: *batch, Logf: logf,
		Data: synth.Config{Kind: synth.Kind(*kind), Dim: *dim, Seed: *seed}},
		[]searchbench.Contender{
			{Name: fmt.Sprintf("clipkit hnsw M=%d efc=%d", *m, *efc), Store: local},
			{Name: fmt.Sprintf("milvus hnsw M=%d efc=%d", *m, *efc), Store: ms, Ready: ms.WaitIndexed, RSS: milvusRSS},
		})
	if err != nil {
		return err
	}
	fmt.Fprint(os.Stderr, rep.Table())
	if *pgid == 0 {
		fmt.Fprintln(os.Stderr, "bench store: Milvus memory not measured (no --milvus-pgid / $CLIPKIT_MILVUS_PGID)")
	}
	return writeJSON(*out, rep)
}
