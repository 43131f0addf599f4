package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/clipkit/clipkit/cliplib/bench/searchbench"
	"github.com/clipkit/clipkit/cliplib/search"
	"github.com/clipkit/clipkit/cliplib/search/milvus"
	"github.com/clipkit/clipkit/cliplib/search/synth"
	"github.com/spf13/cobra"
)

func init() {
	addCommand("bench", newBenchStoreCmd)
}

// benchStoreOptions are the flags of clipx bench store.
type benchStoreOptions struct {
	milvusURL string
	n         string
	kind      string
	dim       int
	seed      uint64
	k         int
	queries   int
	batch     int
	m         int
	efc       int
	ef        int
	pgid      int
	keep      bool
	out       string
}

func newBenchStoreCmd() *cobra.Command {
	o := &benchStoreOptions{}
	c := &cobra.Command{
		Use:   "store --milvus milvus://host:19530/COLLECTION [--n 1e5] [--M 16] [--efc 100] [--ef 64] [--out FILE]",
		Short: "our in-process HNSW against Milvus's on the same synthetic vectors; JSON out",
		Long: `Compare our in-process HNSW and Milvus's HNSW with the same M and efConstruction, side by side on
the same synthetic CLIP-like vectors (searchbench.CompareStores): ingest rate, index build,
recall@k against exact search, single-query p50/p95 and the resident memory of each process. The
table goes to standard error, the JSON report to --out.`,
		Example: `  clipx bench store --milvus milvus://127.0.0.1:19530/bench --n 1e5 --out store.json`,
		Args:    noArgs(""),
		RunE:    func(*cobra.Command, []string) error { return runBenchStore(o) },
	}
	f := c.Flags()
	f.StringVar(&o.milvusURL, "milvus", "", "Milvus store URL; the collection must not exist (it is created, and dropped afterwards unless --keep)")
	f.StringVar(&o.n, "n", "1e5", "collection size")
	f.StringVar(&o.kind, "data", "clusters", "synthetic set: clusters or lowrank")
	f.IntVar(&o.dim, "dim", 512, "vector dimension")
	f.Uint64Var(&o.seed, "seed", 1, "synthetic data seed")
	f.IntVar(&o.k, "k", 10, "neighbours per query")
	f.IntVar(&o.queries, "queries", 1000, "timed single queries per store")
	f.IntVar(&o.batch, "batch", 1000, "vectors per upsert")
	f.IntVar(&o.m, "M", 16, "HNSW M (both stores)")
	f.IntVar(&o.efc, "efc", 100, "HNSW efConstruction (both stores)")
	f.IntVar(&o.ef, "ef", 64, "HNSW efSearch (both stores; at least k)")
	f.IntVar(&o.pgid, "milvus-pgid", 0, "process group of the Milvus server, for its memory (default $CLIPKIT_MILVUS_PGID; 0: not measured)")
	f.BoolVar(&o.keep, "keep", false, "keep the Milvus collection afterwards")
	f.StringVar(&o.out, "out", "-", "JSON report file ('-' for stdout)")
	return c
}

// runBenchStore is `clipx bench store`: our in-process HNSW and Milvus's
// HNSW with the same M and efConstruction, side by side on the same
// synthetic CLIP-like vectors (searchbench.CompareStores): ingest rate,
// index build, recall@k against exact search, single-query p50/p95 and the
// resident memory of each process. The table goes to stderr, the JSON
// report to --out.
func runBenchStore(o *benchStoreOptions) error {
	if o.milvusURL == "" {
		return fmt.Errorf("%w: --milvus is required (start a server with scripts/milvus-server.sh)", errUsage)
	}
	sizes, err := sizeList("n", o.n)
	if err != nil {
		return err
	}
	if len(sizes) != 1 {
		return fmt.Errorf("%w: --n takes one size, got %q", errUsage, o.n)
	}
	switch synth.Kind(o.kind) {
	case synth.Clusters, synth.LowRank:
	default:
		return fmt.Errorf("%w: --data %q: want clusters or lowrank", errUsage, o.kind)
	}
	if o.pgid == 0 {
		if v := os.Getenv("CLIPKIT_MILVUS_PGID"); v != "" {
			if o.pgid, err = strconv.Atoi(v); err != nil {
				return fmt.Errorf("CLIPKIT_MILVUS_PGID=%q: want a number", v)
			}
		}
	}
	cfg, err := milvus.ParseURL(o.milvusURL)
	if err != nil {
		return err
	}
	cfg.Index, cfg.M, cfg.EfConstruction, cfg.Ef = "HNSW", o.m, o.efc, o.ef
	if !strings.Contains(o.milvusURL, "consistency=") {
		// Strong consistency makes every search wait for the next time tick
		// (≈200 ms on Milvus 2.3 standalone); serving uses bounded, and after
		// WaitIndexed every vector is visible anyway.
		cfg.Consistency = "bounded"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Hour)
	defer cancel()
	ms, err := milvus.OpenExisting(ctx, cfg, o.dim)
	if err == nil {
		ms.Close()
		return fmt.Errorf("milvus collection %s already exists: the benchmark needs a new one (another name, or drop it)", cfg.Collection)
	}
	ms, err = milvus.Open(ctx, cfg, o.dim)
	if err != nil {
		return err
	}
	defer func() {
		if !o.keep {
			ms.Drop(context.Background())
		}
		ms.Close()
	}()
	local, err := search.NewLocalStore(search.StoreOptions{Dim: o.dim, Kind: search.KindHNSW,
		HNSW: search.HNSWConfig{M: o.m, EfConstruction: o.efc, EfSearch: o.ef}})
	if err != nil {
		return err
	}
	milvusRSS := func() (int64, error) { return 0, nil }
	if o.pgid > 0 {
		milvusRSS = func() (int64, error) { return searchbench.GroupRSS(o.pgid) }
	}
	logf := func(f string, a ...any) {
		fmt.Fprintf(os.Stderr, "bench store: "+strings.TrimSuffix(f, "\n")+"\n", a...)
	}
	rep, err := searchbench.CompareStores(ctx, searchbench.StoreConfig{N: sizes[0], K: o.k, Queries: o.queries, Batch: o.batch, Logf: logf,
		Data: synth.Config{Kind: synth.Kind(o.kind), Dim: o.dim, Seed: o.seed}},
		[]searchbench.Contender{
			{Name: fmt.Sprintf("clipkit hnsw M=%d efc=%d", o.m, o.efc), Store: local},
			{Name: fmt.Sprintf("milvus hnsw M=%d efc=%d", o.m, o.efc), Store: ms, Ready: ms.WaitIndexed, RSS: milvusRSS},
		})
	if err != nil {
		return err
	}
	fmt.Fprint(os.Stderr, rep.Table())
	if o.pgid == 0 {
		fmt.Fprintln(os.Stderr, "bench store: Milvus memory not measured (no --milvus-pgid / $CLIPKIT_MILVUS_PGID)")
	}
	return writeJSON(o.out, rep)
}
