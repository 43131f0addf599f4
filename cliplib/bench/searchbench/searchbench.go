// Package searchbench measures the search indexes of package search on
// synthetic CLIP-like embeddings (package synth) and reports the figures as a
// JSON-serialisable Report: per collection size, build time and memory,
// exact single-query latency p50/p95 against the memory-bandwidth floor,
// batched exact throughput, and HNSW recall@k against exact search with
// latency p50/p95 for each efSearch.
//
// It is the engine behind `clipx bench search`; it can
// also dump the vectors as raw float32 files so tools/bench/search_reference.py
// measures hnswlib, numpy and faiss on exactly the same data.
package searchbench

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"github.com/clipkit/clipkit/cliplib/search"
	"github.com/clipkit/clipkit/cliplib/search/synth"

	"github.com/clipkit/clipkit/internal/atomicfile"
)

// Config selects what to measure. Zero fields take the defaults noted.
type Config struct {
	// Sizes are the collection sizes N (default 1e3, 1e5, 1e6).
	Sizes []int
	// Data describes the synthetic set (default synth defaults: 512-d clusters).
	Data synth.Config
	// K is the number of neighbours (default 10).
	K int
	// Queries is the number of queries for HNSW recall and latency (default 1000).
	Queries int
	// ExactQueries is the number of timed single exact queries (default 100).
	ExactQueries int
	// Batch is the batch size for batched exact search (default 256).
	Batch int
	// HNSW are the index parameters (default M=16, EfConstruction=100, as
	// in the perf notes' hnswlib runs).
	HNSW search.HNSWConfig
	// EfSearch are the beam widths to sweep (default 16, 32, 64, 128, 256).
	EfSearch []int
	// SkipExact and SkipHNSW leave out one kind of index.
	SkipExact, SkipHNSW bool
	// BandwidthBytes is the buffer size for the memory-bandwidth measurement
	// (default 2 GiB; negative skips it).
	BandwidthBytes int64
	// SaveDir, when set, saves and reloads every index there (timing both)
	// and removes the files afterwards.
	SaveDir string
	// KeepSaved keeps the files written to SaveDir.
	KeepSaved bool
	// DumpDir, when set, writes the base vectors and queries of each size as
	// raw little-endian float32 files for tools/bench/search_reference.py.
	DumpDir string
	// Logf receives progress lines (default: none).
	Logf func(format string, args ...any)
}

// Machine describes where the report was measured.
type Machine struct {
	CPU        string `json:"cpu"`
	Cores      int    `json:"cores"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	GoVersion  string `json:"go_version"`
	OSArch     string `json:"os_arch"`
	Kernel     string `json:"dot_kernel"`
	LoadAvg    string `json:"load_avg_at_start"`
}

// Latency summarises a set of single-query timings, in milliseconds: wall
// clock, and the process CPU time each query consumed (getrusage), which is
// what the query costs when other processes compete for the cores.
type Latency struct {
	P50    float64 `json:"p50_ms"`
	P95    float64 `json:"p95_ms"`
	Mean   float64 `json:"mean_ms"`
	CPUP50 float64 `json:"cpu_p50_ms"`
	CPUP95 float64 `json:"cpu_p95_ms"`
}

// ExactReport holds the flat-index figures for one size.
type ExactReport struct {
	BuildSeconds float64 `json:"build_s"`
	BuildCPU     float64 `json:"build_cpu_s"`
	IndexBytes   int64   `json:"index_bytes"`
	Single       Latency `json:"single"`
	// FloorMs is the time to stream the vectors once at the measured
	// bandwidth; RatioToFloor = Single.P50 / FloorMs.
	FloorMs      float64 `json:"bandwidth_floor_ms"`
	RatioToFloor float64 `json:"p50_over_floor"`
	BatchSize    int     `json:"batch_size"`
	BatchMsPerQ  float64 `json:"batch_ms_per_query"`
	// RSSBytes is the process resident set right after the build (includes
	// the generated source vectors, N·dim·4 bytes).
	RSSBytes int64    `json:"rss_after_build_bytes"`
	Persist  *Persist `json:"persist,omitempty"`
}

// EfPoint is HNSW recall and latency at one efSearch.
type EfPoint struct {
	Ef     int     `json:"ef"`
	Recall float64 `json:"recall_at_k"`
	Latency
	BatchMsPerQ float64 `json:"batch_ms_per_query"`
}

// HNSWReport holds the approximate-index figures for one size.
type HNSWReport struct {
	M              int       `json:"M"`
	EfConstruction int       `json:"ef_construction"`
	BuildSeconds   float64   `json:"build_s"`
	BuildCPU       float64   `json:"build_cpu_s"`
	IndexBytes     int64     `json:"index_bytes"`
	RSSBytes       int64     `json:"rss_after_build_bytes"`
	Points         []EfPoint `json:"ef_sweep"`
	Persist        *Persist  `json:"persist,omitempty"`
}

// Persist holds save/load timings.
type Persist struct {
	FileBytes   int64   `json:"file_bytes"`
	SaveSeconds float64 `json:"save_s"`
	LoadSeconds float64 `json:"load_s"`
	LoadCPU     float64 `json:"load_cpu_s"`
}

// SizeReport holds everything measured at one N.
type SizeReport struct {
	N          int          `json:"n"`
	GenSeconds float64      `json:"generate_s"`
	Exact      *ExactReport `json:"exact,omitempty"`
	HNSW       *HNSWReport  `json:"hnsw,omitempty"`
	// PeakRSSBytes is the process's resident-set high-water mark so far.
	PeakRSSBytes int64  `json:"peak_rss_bytes"`
	BaseFile     string `json:"base_file,omitempty"`
	QueryFile    string `json:"query_file,omitempty"`
}

// Report is the whole benchmark result.
type Report struct {
	Machine      Machine      `json:"machine"`
	BandwidthGBs float64      `json:"bandwidth_gb_s"`
	Data         synth.Config `json:"data"`
	K            int          `json:"k"`
	Sizes        []SizeReport `json:"sizes"`
}

func (c Config) withDefaults() Config {
	if len(c.Sizes) == 0 {
		c.Sizes = []int{1_000, 100_000, 1_000_000}
	}
	c.Data = c.Data.WithDefaults()
	if c.K == 0 {
		c.K = 10
	}
	if c.Queries == 0 {
		c.Queries = 1000
	}
	if c.ExactQueries == 0 {
		c.ExactQueries = 100
	}
	if c.Batch == 0 {
		c.Batch = 256
	}
	c.HNSW = c.HNSW.WithDefaults()
	if len(c.EfSearch) == 0 {
		c.EfSearch = []int{16, 32, 64, 128, 256}
	}
	if c.BandwidthBytes == 0 {
		c.BandwidthBytes = 2 << 30
	}
	if c.Logf == nil {
		c.Logf = func(string, ...any) {}
	}
	return c
}

// Run measures everything cfg asks for.
func Run(cfg Config) (*Report, error) {
	cfg = cfg.withDefaults()
	for _, n := range cfg.Sizes {
		if n < 1 {
			return nil, fmt.Errorf("searchbench: sizes must be >= 1, got %d", n)
		}
	}
	if cfg.K < 1 || cfg.Queries < 1 || cfg.ExactQueries < 1 || cfg.Batch < 1 {
		return nil, fmt.Errorf("searchbench: K, Queries, ExactQueries and Batch must be >= 1")
	}
	gen, err := synth.New(cfg.Data)
	if err != nil {
		return nil, err
	}
	rep := &Report{Machine: machine(), Data: gen.Config(), K: cfg.K}
	if cfg.BandwidthBytes > 0 {
		cfg.Logf("measuring memory bandwidth over %d MiB", cfg.BandwidthBytes>>20)
		rep.BandwidthGBs = MeasureBandwidth(cfg.BandwidthBytes, 3)
		debug.FreeOSMemory() // return the buffer before the big allocations
		cfg.Logf("bandwidth %.1f GB/s", rep.BandwidthGBs)
	}
	d := gen.Config().Dim
	qflat := gen.Queries(max(cfg.Queries, cfg.Batch, cfg.ExactQueries))
	qs := rows(qflat, d)
	for _, n := range cfg.Sizes {
		sr, err := runSize(cfg, gen, n, qs, qflat, rep.BandwidthGBs)
		if err != nil {
			return nil, err
		}
		rep.Sizes = append(rep.Sizes, *sr)
	}
	return rep, nil
}

func rows(flat []float32, d int) [][]float32 {
	out := make([][]float32, len(flat)/d)
	for i := range out {
		out[i] = flat[i*d : (i+1)*d : (i+1)*d]
	}
	return out
}

func runSize(cfg Config, gen *synth.Generator, n int, qs [][]float32, qflat []float32, bw float64) (*SizeReport, error) {
	d := gen.Config().Dim
	sr := &SizeReport{N: n}
	t0 := time.Now()
	base := gen.Points(0, n)
	sr.GenSeconds = time.Since(t0).Seconds()
	cfg.Logf("N=%d: generated in %.1fs", n, sr.GenSeconds)
	if cfg.DumpDir != "" {
		stem := fmt.Sprintf("%s_n%d_d%d_seed%d", gen.Config().Kind, n, d, gen.Config().Seed)
		sr.BaseFile = filepath.Join(cfg.DumpDir, stem+"_base.f32")
		sr.QueryFile = filepath.Join(cfg.DumpDir, fmt.Sprintf("%s_d%d_seed%d_queries%d.f32", gen.Config().Kind, d, gen.Config().Seed, len(qs)))
		if err := writeF32(sr.BaseFile, base); err != nil {
			return nil, err
		}
		if err := writeF32(sr.QueryFile, qflat); err != nil {
			return nil, err
		}
	}
	items := make([]search.Item, n)
	for i := range items {
		items[i] = search.Item{ID: uint64(i), Vector: base[i*d : (i+1)*d : (i+1)*d]}
	}
	k := cfg.K
	// Ground truth always comes from the exact index.
	ex, err := search.NewExact(d)
	if err != nil {
		return nil, err
	}
	t0 = time.Now()
	c0 := cpuSeconds()
	if err := ex.Add(items...); err != nil {
		return nil, err
	}
	build, buildCPU := time.Since(t0).Seconds(), cpuSeconds()-c0
	truthQ := qs[:cfg.Queries]
	truth, err := ex.SearchBatch(truthQ, k)
	if err != nil {
		return nil, err
	}
	if !cfg.SkipExact {
		er := &ExactReport{BuildSeconds: build, BuildCPU: buildCPU, IndexBytes: ex.MemoryBytes(), BatchSize: cfg.Batch}
		er.RSSBytes, _ = rss()
		lat, err := timeQueries(qs[:cfg.ExactQueries], func(q []float32) error { _, err := ex.Search(q, k); return err })
		if err != nil {
			return nil, err
		}
		er.Single = lat
		if bw > 0 {
			er.FloorMs = float64(n) * float64(d) * 4 / (bw * 1e9) * 1e3
			er.RatioToFloor = lat.P50 / er.FloorMs
		}
		t0 = time.Now()
		if _, err := ex.SearchBatch(qs[:cfg.Batch], k); err != nil {
			return nil, err
		}
		er.BatchMsPerQ = time.Since(t0).Seconds() * 1e3 / float64(cfg.Batch)
		cfg.Logf("N=%d exact: build %.1fs (cpu %.1fs); cpu p50 %.3f ms; wall p50 %.3f ms p95 %.3f ms (floor %.3f ms, ×%.2f), batch %d: %.4f ms/query",
			n, build, buildCPU, lat.CPUP50, lat.P50, lat.P95, er.FloorMs, er.RatioToFloor, cfg.Batch, er.BatchMsPerQ)
		if cfg.SaveDir != "" {
			er.Persist, err = persist(cfg.SaveDir, fmt.Sprintf("exact_%d.idx", n), ex, cfg.KeepSaved)
			if err != nil {
				return nil, err
			}
		}
		sr.Exact = er
	}
	// Free the exact index before building the graph (keeps peak memory
	// at source vectors + one index).
	ex = nil
	debug.FreeOSMemory()
	if !cfg.SkipHNSW {
		hr, err := runHNSW(cfg, d, n, items, truthQ, truth)
		if err != nil {
			return nil, err
		}
		sr.HNSW = hr
	}
	_, sr.PeakRSSBytes = rss()
	return sr, nil
}

func runHNSW(cfg Config, d, n int, items []search.Item, qs [][]float32, truth [][]search.Result) (*HNSWReport, error) {
	h, err := search.NewHNSW(d, cfg.HNSW)
	if err != nil {
		return nil, err
	}
	hc := h.Config()
	hr := &HNSWReport{M: hc.M, EfConstruction: hc.EfConstruction}
	t0 := time.Now()
	c0 := cpuSeconds()
	h.Reserve(n)
	const chunk = 50_000
	for lo := 0; lo < n; lo += chunk {
		hi := min(lo+chunk, n)
		if err := h.Add(items[lo:hi]...); err != nil {
			return nil, err
		}
		if n > chunk {
			cfg.Logf("N=%d hnsw: %d inserted, %.0fs (cpu %.0fs)", n, hi, time.Since(t0).Seconds(), cpuSeconds()-c0)
		}
	}
	hr.BuildSeconds, hr.BuildCPU = time.Since(t0).Seconds(), cpuSeconds()-c0
	hr.IndexBytes = h.MemoryBytes()
	hr.RSSBytes, _ = rss()
	cfg.Logf("N=%d hnsw: built in %.1fs (cpu %.1fs), %d MiB", n, hr.BuildSeconds, hr.BuildCPU, hr.IndexBytes>>20)
	for _, ef := range cfg.EfSearch {
		var hits int
		lat, err := timeQueries(qs, func(q []float32) error {
			r, err := h.SearchEf(q, cfg.K, ef)
			_ = r
			return err
		})
		if err != nil {
			return nil, err
		}
		t0 := time.Now()
		got, err := h.SearchBatchEf(qs, cfg.K, ef)
		if err != nil {
			return nil, err
		}
		batch := time.Since(t0).Seconds() * 1e3 / float64(len(qs))
		for i := range qs {
			hits += search.Overlap(got[i], truth[i])
		}
		p := EfPoint{Ef: ef, Recall: float64(hits) / float64(len(qs)*cfg.K), Latency: lat, BatchMsPerQ: batch}
		cfg.Logf("N=%d hnsw ef=%d: recall@%d %.4f, p50 %.3f ms p95 %.3f ms (cpu p50 %.3f ms), batch %.4f ms/query",
			n, ef, cfg.K, p.Recall, p.P50, p.P95, p.CPUP50, p.BatchMsPerQ)
		hr.Points = append(hr.Points, p)
	}
	if cfg.SaveDir != "" {
		hr.Persist, err = persist(cfg.SaveDir, fmt.Sprintf("hnsw_%d.idx", n), h, cfg.KeepSaved)
		if err != nil {
			return nil, err
		}
	}
	return hr, nil
}

// timeQueries runs f on each query (one at a time) and summarises latencies.
func timeQueries(qs [][]float32, f func([]float32) error) (Latency, error) {
	if err := f(qs[0]); err != nil { // warm-up
		return Latency{}, err
	}
	ms := make([]float64, len(qs))
	cpu := make([]float64, len(qs))
	for i, q := range qs {
		c0 := cpuSeconds()
		t0 := time.Now()
		if err := f(q); err != nil {
			return Latency{}, err
		}
		ms[i] = time.Since(t0).Seconds() * 1e3
		cpu[i] = (cpuSeconds() - c0) * 1e3
	}
	l := summarise(ms)
	c := summarise(cpu)
	l.CPUP50, l.CPUP95 = c.P50, c.P95
	return l, nil
}

// cpuSeconds is the CPU time (user+system) this process has used so far.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	tv := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	return tv(ru.Utime) + tv(ru.Stime)
}

func summarise(ms []float64) Latency {
	s := slices.Clone(ms)
	slices.Sort(s)
	var sum float64
	for _, x := range s {
		sum += x
	}
	pct := func(p float64) float64 {
		i := int(math.Ceil(p*float64(len(s)))) - 1
		return s[max(0, min(i, len(s)-1))]
	}
	return Latency{P50: pct(0.50), P95: pct(0.95), Mean: sum / float64(len(s))}
}

func persist(dir, name string, idx search.Index, keep bool) (*Persist, error) {
	path := filepath.Join(dir, name)
	t0 := time.Now()
	if err := idx.Save(path); err != nil {
		return nil, err
	}
	p := &Persist{SaveSeconds: time.Since(t0).Seconds()}
	if st, err := os.Stat(path); err == nil {
		p.FileBytes = st.Size()
	}
	t0 = time.Now()
	c0 := cpuSeconds()
	back, err := search.Load(path)
	if err != nil {
		return nil, err
	}
	p.LoadSeconds, p.LoadCPU = time.Since(t0).Seconds(), cpuSeconds()-c0
	if back.Len() != idx.Len() {
		return nil, fmt.Errorf("searchbench: reloaded %s has %d items, want %d", path, back.Len(), idx.Len())
	}
	back = nil
	debug.FreeOSMemory()
	if !keep {
		os.Remove(path)
	}
	return p, nil
}

// MeasureBandwidth returns the best of passes read rates, in GB/s, of
// streaming a bytes-sized float32 buffer once with GOMAXPROCS goroutines
// through the same dot-product kernel the exact index uses (so it is the
// floor an exact scan can reach, not a theoretical peak).
func MeasureBandwidth(bytes int64, passes int) float64 {
	n := int(bytes / 4)
	buf := make([]float32, n)
	for i := range buf { // fault the pages in
		buf[i] = 1
	}
	const blk = 4096
	ones := make([]float32, blk)
	for i := range ones {
		ones[i] = 1
	}
	w := runtime.GOMAXPROCS(0)
	best := 0.0
	sums := make([]float32, w)
	for p := 0; p < passes; p++ {
		t0 := time.Now()
		var wg sync.WaitGroup
		for s := 0; s < w; s++ {
			lo, hi := n*s/w, n*(s+1)/w
			wg.Go(func() {
				var acc float32
				for i := lo; i < hi; i += blk {
					e := min(i+blk, hi)
					acc += search.Dot(buf[i:e], ones)
				}
				sums[s] = acc
			})
		}
		wg.Wait()
		if gbs := float64(n) * 4 / time.Since(t0).Seconds() / 1e9; gbs > best {
			best = gbs
		}
	}
	runtime.KeepAlive(sums)
	return best
}

// writeF32 writes v as raw little-endian float32.
func writeF32(path string, v []float32) error {
	return atomicfile.Write(path, 0o644, func(f io.Writer) error {
		w := bufio.NewWriterSize(f, 1<<20)
		var err error
		if binary.NativeEndian.Uint16([]byte{1, 0}) == 1 && len(v) > 0 {
			_, err = w.Write(unsafe.Slice((*byte)(unsafe.Pointer(&v[0])), 4*len(v)))
		} else {
			err = binary.Write(w, binary.LittleEndian, v)
		}
		if err != nil {
			return err
		}
		return w.Flush()
	})
}

func machine() Machine {
	m := Machine{Cores: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0), GoVersion: runtime.Version(),
		OSArch: runtime.GOOS + "/" + runtime.GOARCH, Kernel: search.KernelName()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		m.LoadAvg = strings.Join(strings.Fields(string(b))[:3], " ")
	}
	return m
}

// rss returns the current and peak resident set size from /proc/self/status
// (0, 0 where unavailable).
func rss() (cur, peak int64) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		v, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "VmRSS:":
			cur = v << 10
		case "VmHWM:":
			peak = v << 10
		}
	}
	return cur, peak
}
