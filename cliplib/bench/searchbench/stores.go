package searchbench

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/clipkit/clipkit/cliplib/search"
	"github.com/clipkit/clipkit/cliplib/search/synth"
)

// Contender is one store in a side-by-side comparison (CompareStores).
type Contender struct {
	// Name labels the store in the report ("clipkit hnsw", "milvus hnsw").
	Name string
	// Store is an empty store of the data's dimension.
	Store search.Store
	// Ready, if set, is called after the ingest and returns once the store
	// searches its index (e.g. Milvus: flush, index built, loaded); its
	// time is reported as the index build. An in-process HNSW builds while
	// ingesting, so it has none.
	Ready func(ctx context.Context) error
	// RSS returns the resident memory of the process(es) that hold the
	// store's data; nil means this process (measured after a GC).
	RSS func() (int64, error)
}

// StoreConfig configures CompareStores. Zero fields take the defaults noted.
type StoreConfig struct {
	// N is the collection size (default 1e5).
	N int
	// Data describes the synthetic set (default synth defaults: 512-d clusters).
	Data synth.Config
	// K is the number of neighbours (default 10).
	K int
	// Queries is the number of timed single queries (default 1000).
	Queries int
	// Batch is the number of vectors per Upsert (default 1000).
	Batch int
	// Logf, if set, receives progress lines.
	Logf func(format string, args ...any)
}

// StoreResult is one contender's figures.
type StoreResult struct {
	Name string `json:"name"`
	N    int    `json:"n"`
	// IngestSeconds is the time of all Upserts; IngestPerSec the vectors per second.
	IngestSeconds float64 `json:"ingest_s"`
	IngestPerSec  float64 `json:"ingest_vectors_per_s"`
	// BuildSeconds is the time Ready took after the ingest (0 without Ready).
	BuildSeconds float64 `json:"index_build_s"`
	// ReadySeconds is ingest + build: from the first vector to an indexed, searchable collection.
	ReadySeconds float64 `json:"ingest_to_indexed_s"`
	Recall       float64 `json:"recall_at_k"`
	Latency
	// RSSBeforeBytes and RSSAfterBytes are the store process's resident
	// memory before the ingest and once Ready; RSSDeltaBytes their difference.
	RSSBeforeBytes int64 `json:"rss_before_bytes"`
	RSSAfterBytes  int64 `json:"rss_after_bytes"`
	RSSDeltaBytes  int64 `json:"rss_delta_bytes"`
}

// StoreReport is the comparison.
type StoreReport struct {
	Machine Machine       `json:"machine"`
	Data    synth.Config  `json:"data"`
	K       int           `json:"k"`
	Queries int           `json:"queries"`
	Results []StoreResult `json:"results"`
}

// selfRSS is this process's resident memory after a full GC (and returning
// freed memory to the OS, so the figure reflects live data).
func selfRSS() (int64, error) {
	runtime.GC()
	debug.FreeOSMemory()
	cur, _ := rss()
	if cur == 0 {
		return 0, fmt.Errorf("no /proc/self/status")
	}
	return cur, nil
}

// GroupRSS sums the resident memory of every process in process group pgid
// (a server started by milvustest runs in its own group).
func GroupRSS(pgid int) (int64, error) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	var total int64
	found := false
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		// Fields after the parenthesised command: state ppid pgrp ...
		s := string(stat)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) < 3 || f[2] != strconv.Itoa(pgid) {
			continue
		}
		status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(status), "\n") {
			if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
				kb, _ := strconv.ParseInt(strings.Fields(v)[0], 10, 64)
				total += kb << 10
				found = true
			}
		}
	}
	if !found {
		return 0, fmt.Errorf("no process in group %d", pgid)
	}
	return total, nil
}

// CompareStores ingests the same N synthetic vectors into every contender
// (IDs 0..N-1, in batches, no metadata), waits until each is indexed, then
// times the same single queries against each and measures recall@K against
// the exact index over the same vectors.
func CompareStores(ctx context.Context, cfg StoreConfig, cs []Contender) (*StoreReport, error) {
	if cfg.N == 0 {
		cfg.N = 100_000
	}
	if cfg.K == 0 {
		cfg.K = 10
	}
	if cfg.Queries == 0 {
		cfg.Queries = 1000
	}
	if cfg.Batch == 0 {
		cfg.Batch = 1000
	}
	if cfg.N < 1 || cfg.K < 1 || cfg.Queries < 1 || cfg.Batch < 1 {
		return nil, fmt.Errorf("searchbench: N, K, Queries and Batch must be positive (got %d, %d, %d, %d)", cfg.N, cfg.K, cfg.Queries, cfg.Batch)
	}
	logf := cfg.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	gen, err := synth.New(cfg.Data)
	if err != nil {
		return nil, err
	}
	d := gen.Config().Dim
	rep := &StoreReport{Machine: machine(), Data: gen.Config(), K: cfg.K, Queries: cfg.Queries}
	qs := rows(gen.Queries(cfg.Queries), d)
	var truth [][]search.Result
	for _, c := range cs {
		if c.Store.Dim() != d {
			return nil, fmt.Errorf("searchbench: %s has dimension %d, the data %d", c.Name, c.Store.Dim(), d)
		}
		memory := c.RSS
		if memory == nil {
			memory = selfRSS
		}
		r := StoreResult{Name: c.Name, N: cfg.N}
		if r.RSSBeforeBytes, err = memory(); err != nil {
			return nil, fmt.Errorf("searchbench: %s memory: %w", c.Name, err)
		}
		logf("%s: ingesting %d vectors", c.Name, cfg.N)
		var ingest time.Duration
		for lo := 0; lo < cfg.N; lo += cfg.Batch {
			n := min(cfg.Batch, cfg.N-lo)
			vecs := gen.Points(lo, n) // generated outside the timed part
			items := make([]search.Item, n)
			for i := range items {
				items[i] = search.Item{ID: uint64(lo + i), Vector: vecs[i*d : (i+1)*d]}
			}
			t0 := time.Now()
			if err := c.Store.Upsert(ctx, items...); err != nil {
				return nil, fmt.Errorf("searchbench: %s ingest: %w", c.Name, err)
			}
			ingest += time.Since(t0)
		}
		r.IngestSeconds = ingest.Seconds()
		r.IngestPerSec = float64(cfg.N) / ingest.Seconds()
		if c.Ready != nil {
			logf("%s: ingested in %.1fs; waiting for the index", c.Name, r.IngestSeconds)
			t0 := time.Now()
			if err := c.Ready(ctx); err != nil {
				return nil, fmt.Errorf("searchbench: %s index: %w", c.Name, err)
			}
			r.BuildSeconds = time.Since(t0).Seconds()
		}
		r.ReadySeconds = r.IngestSeconds + r.BuildSeconds
		if r.RSSAfterBytes, err = memory(); err != nil {
			return nil, fmt.Errorf("searchbench: %s memory: %w", c.Name, err)
		}
		r.RSSDeltaBytes = r.RSSAfterBytes - r.RSSBeforeBytes
		if truth == nil { // the exact answers, computed once (after the first contender's memory was read)
			logf("ground truth: exact search over %d vectors", cfg.N)
			ex, err := search.NewExact(d)
			if err != nil {
				return nil, err
			}
			ex.Reserve(cfg.N)
			for lo := 0; lo < cfg.N; lo += 10_000 {
				n := min(10_000, cfg.N-lo)
				vecs := gen.Points(lo, n)
				items := make([]search.Item, n)
				for i := range items {
					items[i] = search.Item{ID: uint64(lo + i), Vector: vecs[i*d : (i+1)*d]}
				}
				if err := ex.Add(items...); err != nil {
					return nil, err
				}
			}
			if truth, err = ex.SearchBatch(qs, cfg.K); err != nil {
				return nil, err
			}
		}
		logf("%s: %d timed queries", c.Name, len(qs))
		hits := 0
		i := 0
		r.Latency, err = timeQueries(qs, func(q []float32) error {
			res, err := c.Store.Search(ctx, q, cfg.K, nil)
			if err != nil {
				return err
			}
			if i > 0 { // the first call is timeQueries' warm-up on qs[0]
				hits += search.Overlap(res, truth[i-1])
			}
			i++
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("searchbench: %s search: %w", c.Name, err)
		}
		r.Recall = float64(hits) / float64(len(qs)*cfg.K)
		logf("%s: recall@%d %.4f, p50 %.3f ms, p95 %.3f ms", c.Name, cfg.K, r.Recall, r.P50, r.P95)
		rep.Results = append(rep.Results, r)
	}
	return rep, nil
}

// Table formats the report as an aligned text table, one row per store.
func (r *StoreReport) Table() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-22s %9s %12s %9s %12s %10s %9s %9s %12s %12s\n", "store", "N", "ingest/s", "ingest s", "index build s",
		"recall@"+strconv.Itoa(r.K), "p50 ms", "p95 ms", "RSS MiB", "RSS +MiB")
	for _, x := range r.Results {
		fmt.Fprintf(&b, "%-22s %9d %12.0f %9.1f %12.1f %10.4f %9.3f %9.3f %12.0f %12.0f\n", x.Name, x.N, x.IngestPerSec, x.IngestSeconds,
			x.BuildSeconds, x.Recall, x.P50, x.P95, float64(x.RSSAfterBytes)/(1<<20), float64(x.RSSDeltaBytes)/(1<<20))
	}
	return b.String()
}
