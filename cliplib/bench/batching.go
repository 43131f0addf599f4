package bench

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/clipkit/clipkit/cliplib"
	"github.com/clipkit/clipkit/cliplib/backend"
	"github.com/clipkit/clipkit/cliplib/batcher"
	"github.com/clipkit/clipkit/cliplib/encoder"
)

// BatchingConfig selects a request-batching benchmark: Clients goroutines each send one request
// at a time (one image or one prompt) through a batcher.Encoder with MaxBatch 1 (no batching),
// 2, 4, ..., and the throughput and per-request latency are measured.
type BatchingConfig struct {
	Model      string        // registry name (default ViT-B/32), random weights
	Backend    string        // GoMLX backend ("" = $GOMLX_BACKEND, else the fastest installed)
	Precision  string        // default f32
	Towers     []string      // "image", "text" (default both)
	MaxBatches []int         // default 1, 2, 4, 8, 16, 32, 64
	Clients    int           // concurrent clients (default 64)
	MaxWait    time.Duration // batcher MaxWait (default 5 ms)
	MinTime    time.Duration // measure at least this long per point (default 2 s)
	// MinBatches is the minimum number of full batches per point (default 3): a point runs
	// until both MinTime has passed and MinBatches·MaxBatch requests are done.
	MinBatches int
	TextLength int // real tokens per prompt (default 7)
	// Progress, if set, receives each point when measured.
	Progress func(BatchingResult)
}

// BatchingResult is one measured point.
type BatchingResult struct {
	Model       string  `json:"model"`
	Tower       string  `json:"tower"`
	Precision   string  `json:"precision"`
	MaxBatch    int     `json:"max_batch"`
	Clients     int     `json:"clients"`
	Requests    int     `json:"requests"`
	ItemsPerSec float64 `json:"items_per_sec"`
	MeanBatch   float64 `json:"mean_batch"`
	P50ms       float64 `json:"p50_ms"` // request latency (queueing + batch)
	P95ms       float64 `json:"p95_ms"`
	Error       string  `json:"error,omitempty"`
}

// BatchingReport is a batching benchmark run.
type BatchingReport struct {
	Backend   string           `json:"backend"`
	Machine   string           `json:"machine"`
	GoVersion string           `json:"go_version"`
	Started   time.Time        `json:"started"`
	MaxWaitMs float64          `json:"max_wait_ms"`
	Results   []BatchingResult `json:"results"`
}

// Batching runs the benchmark.
func Batching(cfg BatchingConfig) (*BatchingReport, error) {
	if cfg.Model == "" {
		cfg.Model = "ViT-B/32"
	}
	if cfg.Precision == "" {
		cfg.Precision = "f32"
	}
	if len(cfg.Towers) == 0 {
		cfg.Towers = []string{"image", "text"}
	}
	if len(cfg.MaxBatches) == 0 {
		cfg.MaxBatches = []int{1, 2, 4, 8, 16, 32, 64}
	}
	if cfg.Clients <= 0 {
		cfg.Clients = 64
	}
	if cfg.MaxWait == 0 {
		cfg.MaxWait = 5 * time.Millisecond
	}
	if cfg.MinTime <= 0 {
		cfg.MinTime = 2 * time.Second
	}
	if cfg.MinBatches <= 0 {
		cfg.MinBatches = 3
	}
	if cfg.TextLength <= 0 {
		cfg.TextLength = 7
	}
	buckets := append([]int(nil), cfg.MaxBatches...)
	sort.Ints(buckets)
	m, err := cliplib.Load(cfg.Model, cliplib.Options{Backend: cfg.Backend, Precision: cfg.Precision, RandomWeights: true,
		Encoder: encoder.Options{BatchBuckets: buckets}})
	if err != nil {
		return nil, err
	}
	defer m.Close()
	rep := &BatchingReport{Backend: backend.Resolve(cfg.Backend), Machine: Machine(), GoVersion: runtime.Version(), Started: time.Now(),
		MaxWaitMs: float64(cfg.MaxWait.Microseconds()) / 1000}
	if d := backend.DescribeChoice(m.Encoder().Backend(), m.Encoder().BackendChoice()); d != "" {
		rep.Backend = d
	}
	for _, tower := range cfg.Towers {
		for _, mb := range cfg.MaxBatches {
			r := measureBatching(m, tower, mb, cfg)
			r.Model, r.Precision = cfg.Model, cfg.Precision
			rep.Results = append(rep.Results, r)
			if cfg.Progress != nil {
				cfg.Progress(r)
			}
		}
	}
	return rep, nil
}

// benchInputs returns 16 distinct preprocessed images and prompts of textLength real tokens.
func benchInputs(m *cliplib.Model, textLength int) ([][]float32, [][]int32) {
	res := m.Config.Vision.ImageSize
	ctxLen := m.Config.Text.ContextLength
	imgs := make([][]float32, 16)
	txts := make([][]int32, 16)
	for i := range imgs {
		imgs[i] = make([]float32, 3*res*res)
		for j := range imgs[i] {
			imgs[i][j] = float32(math.Sin(float64(j)*0.001+float64(i))) * 1.5
		}
		row := make([]int32, ctxLen)
		row[0] = 49406
		for j := 1; j <= textLength && j < ctxLen-1; j++ {
			row[j] = int32(320 + (i*7+j)%40000)
		}
		row[min(textLength+1, ctxLen-1)] = 49407
		txts[i] = row
	}
	return imgs, txts
}

func measureBatching(m *cliplib.Model, tower string, maxBatch int, cfg BatchingConfig) BatchingResult {
	r := BatchingResult{Tower: tower, MaxBatch: maxBatch, Clients: cfg.Clients}
	if tower != "image" && tower != "text" {
		r.Error = fmt.Sprintf("unknown tower %q (want image or text)", tower)
		return r
	}
	be, err := batcher.NewEncoder(m.Encoder(), batcher.Options{MaxBatch: maxBatch, MaxWait: cfg.MaxWait, QueueSize: max(cfg.Clients, 4*maxBatch)})
	if err != nil {
		r.Error = err.Error()
		return r
	}
	defer be.Close()
	imgs, txts := benchInputs(m, cfg.TextLength)
	one := func(i int) error {
		var err error
		if tower == "image" {
			_, err = be.EncodeImage(context.Background(), imgs[i%len(imgs)])
		} else {
			_, err = be.EncodeTokens(context.Background(), txts[i%len(txts)])
		}
		return err
	}
	// Warm-up: one full batch (compiles the graph of this batch size).
	var wg sync.WaitGroup
	var firstErr atomic.Value
	for i := range maxBatch {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := one(i); err != nil {
				firstErr.CompareAndSwap(nil, err)
			}
		}()
	}
	wg.Wait()
	if err, _ := firstErr.Load().(error); err != nil {
		r.Error = err.Error()
		return r
	}
	stats := func() batcher.Stats {
		if tower == "image" {
			return be.ImageStats()
		}
		return be.TextStats()
	}
	before := stats()
	minReq := int64(cfg.MinBatches * maxBatch)
	var done atomic.Int64
	lat := make([][]time.Duration, cfg.Clients)
	start := time.Now()
	for c := range cfg.Clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := c; time.Since(start) < cfg.MinTime || done.Load() < minReq; i += cfg.Clients {
				t0 := time.Now()
				if err := one(i); err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				lat[c] = append(lat[c], time.Since(t0))
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if err, _ := firstErr.Load().(error); err != nil {
		r.Error = err.Error()
		return r
	}
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	after := stats()
	r.Requests = len(all)
	r.ItemsPerSec = float64(len(all)) / elapsed.Seconds()
	if n := after.Batches - before.Batches; n > 0 {
		r.MeanBatch = float64(after.Items-before.Items) / float64(n)
	}
	r.P50ms, r.P95ms = ms(Percentile(all, 0.5)), ms(Percentile(all, 0.95))
	return r
}

// BatchingTable formats batching results as an aligned text table.
func BatchingTable(results []BatchingResult) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-12s %-5s %-4s %8s %7s %8s %10s %9s %10s %10s\n", "model", "tower", "prec", "maxbatch", "clients", "requests",
		"items/s", "mean bat", "p50 ms", "p95 ms")
	for _, r := range results {
		if r.Error != "" {
			fmt.Fprintf(&b, "%-12s %-5s %-4s %8d error: %s\n", r.Model, r.Tower, r.Precision, r.MaxBatch, r.Error)
			continue
		}
		fmt.Fprintf(&b, "%-12s %-5s %-4s %8d %7d %8d %10.2f %9.2f %10.1f %10.1f\n", r.Model, r.Tower, r.Precision, r.MaxBatch, r.Clients,
			r.Requests, r.ItemsPerSec, r.MeanBatch, r.P50ms, r.P95ms)
	}
	return b.String()
}
