package bench

import (
	"fmt"
	"math"
	"runtime"
	"strings"
	"time"

	"github.com/clipkit/clipkit/cliplib"
	"github.com/clipkit/clipkit/cliplib/backend"
	"github.com/clipkit/clipkit/cliplib/encoder"
)

// TextLengthConfig selects a text-length-bucketing comparison: the same model (random weights)
// with causal text towers cut at the batch's length bucket versus run on the full context.
type TextLengthConfig struct {
	Model     string        // registry name (default ViT-B/32)
	Backend   string        // GoMLX backend ("" = $GOMLX_BACKEND, else the fastest installed)
	Precision string        // default f32
	Batches   []int         // default 1, 8, 32
	MinTime   time.Duration // per point (default 2 s)
	MinIters  int           // per point (default 3)
	// Prompts are the texts compared for equality and timed, cycled to fill each batch (default:
	// "a photo of a {c}." for the CIFAR-10 classes, 7-9 tokens with the start and end tokens).
	Prompts []string
	// Progress, if set, receives each point when measured.
	Progress func(TextLengthResult)
}

// TextLengthResult is one batch size: rates with and without bucketing and the largest
// difference of their embeddings.
type TextLengthResult struct {
	Model       string  `json:"model"`
	Batch       int     `json:"batch"`
	Bucket      int     `json:"bucket"`       // sequence length run with bucketing
	FullLength  int     `json:"full_length"`  // the context length
	FullPerSec  float64 `json:"full_per_sec"` // texts/s on the full context
	FullP50ms   float64 `json:"full_p50_ms"`
	BucketPerS  float64 `json:"bucketed_per_sec"`
	BucketP50ms float64 `json:"bucketed_p50_ms"`
	Speedup     float64 `json:"speedup"`      // BucketPerS / FullPerSec
	MaxAbsDiff  float64 `json:"max_abs_diff"` // of the normalised embeddings, bucketed vs full
	Error       string  `json:"error,omitempty"`
}

// TextLengthReport is a comparison run.
type TextLengthReport struct {
	Backend   string             `json:"backend"`
	Machine   string             `json:"machine"`
	GoVersion string             `json:"go_version"`
	Started   time.Time          `json:"started"`
	Precision string             `json:"precision"`
	Causal    bool               `json:"causal"` // bucketing applies only to causal text towers
	Results   []TextLengthResult `json:"results"`
}

// CIFAR10Classes are the CIFAR-10 class names, the default zero-shot vocabulary of benchmarks.
var CIFAR10Classes = []string{"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"}

// CompareTextLengths measures the text tower with and without length bucketing and checks that
// both give the same embeddings.
func CompareTextLengths(cfg TextLengthConfig) (*TextLengthReport, error) {
	if cfg.Model == "" {
		cfg.Model = "ViT-B/32"
	}
	if cfg.Precision == "" {
		cfg.Precision = "f32"
	}
	if len(cfg.Batches) == 0 {
		cfg.Batches = []int{1, 8, 32}
	}
	if len(cfg.Prompts) == 0 {
		for _, c := range CIFAR10Classes {
			cfg.Prompts = append(cfg.Prompts, "a photo of a "+c+".")
		}
	}
	bcfg := Config{MinTime: cfg.MinTime, MinIters: cfg.MinIters}
	bcfg.defaults()
	load := func(full bool) (*cliplib.Model, error) {
		return cliplib.Load(cfg.Model, cliplib.Options{Backend: cfg.Backend, Precision: cfg.Precision, RandomWeights: true,
			Encoder: encoder.Options{BatchBuckets: cfg.Batches, FullTextLength: full}})
	}
	cut, err := load(false)
	if err != nil {
		return nil, err
	}
	defer cut.Close()
	full, err := load(true)
	if err != nil {
		return nil, err
	}
	defer full.Close()
	rep := &TextLengthReport{Backend: backend.Resolve(cfg.Backend), Machine: Machine(), GoVersion: runtime.Version(), Started: time.Now(),
		Precision: cfg.Precision, Causal: cut.Config.Text.Causal}
	if d := backend.DescribeChoice(cut.Encoder().Backend(), cut.Encoder().BackendChoice()); d != "" {
		rep.Backend = d
	}
	for _, batch := range cfg.Batches {
		texts := make([]string, batch)
		for i := range texts {
			texts[i] = cfg.Prompts[i%len(cfg.Prompts)]
		}
		ids := cut.Tokenizer().TokenizeBatch(texts)
		r := TextLengthResult{Model: cfg.Model, Batch: batch, Bucket: cut.Encoder().TextLength(ids), FullLength: cut.Config.Text.ContextLength}
		a, err := cut.Encoder().EncodeTokens(ids)
		if err == nil {
			var b [][]float32
			if b, err = full.Encoder().EncodeTokens(ids); err == nil {
				for i := range a {
					for j := range a[i] {
						r.MaxAbsDiff = math.Max(r.MaxAbsDiff, math.Abs(float64(a[i][j]-b[i][j])))
					}
				}
			}
		}
		if err != nil {
			r.Error = err.Error()
		} else {
			rf := timeCall(func() error { _, err := full.Encoder().EncodeTokens(ids); return err }, batch, bcfg)
			rc := timeCall(func() error { _, err := cut.Encoder().EncodeTokens(ids); return err }, batch, bcfg)
			r.FullPerSec, r.FullP50ms, r.BucketPerS, r.BucketP50ms = rf.ItemsPerSec, rf.P50ms, rc.ItemsPerSec, rc.P50ms
			if rf.Error != "" || rc.Error != "" {
				r.Error = rf.Error + rc.Error
			} else if r.FullPerSec > 0 {
				r.Speedup = r.BucketPerS / r.FullPerSec
			}
		}
		rep.Results = append(rep.Results, r)
		if cfg.Progress != nil {
			cfg.Progress(r)
		}
	}
	return rep, nil
}

// TextLengthTable formats a comparison as an aligned text table.
func TextLengthTable(results []TextLengthResult) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-12s %5s %6s %12s %12s %12s %12s %8s %10s\n", "model", "batch", "bucket", "full txt/s", "bucket txt/s",
		"full p50 ms", "bucket p50", "speedup", "max |Δ|")
	for _, r := range results {
		if r.Error != "" {
			fmt.Fprintf(&b, "%-12s %5d error: %s\n", r.Model, r.Batch, r.Error)
			continue
		}
		fmt.Fprintf(&b, "%-12s %5d %3d/%-2d %12.2f %12.2f %12.1f %12.1f %7.2fx %10.2e\n", r.Model, r.Batch, r.Bucket, r.FullLength,
			r.FullPerSec, r.BucketPerS, r.FullP50ms, r.BucketP50ms, r.Speedup, r.MaxAbsDiff)
	}
	return b.String()
}
