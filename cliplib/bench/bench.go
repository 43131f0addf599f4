// Package bench measures encoding throughput and latency of registered models on the current
// backend: per model, tower (image or text), batch size and precision, it reports items/s and the
// p50/p95 latency of one batch call, as JSON-ready structs. It backs `clipx bench models`, the
// performance notebooks and the GPU check.
//
// Models run on deterministic random weights (their cost is exactly that of trained ones), so a
// benchmark needs no download.
package bench

import (
	"fmt"
	"math"
	"os"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/clipkit/clipkit/cliplib"
	"github.com/clipkit/clipkit/cliplib/backend"
	"github.com/clipkit/clipkit/cliplib/encoder"
)

// Config selects what to measure.
type Config struct {
	Models     []string      // registry names (default: ViT-B/32)
	Towers     []string      // "image", "text" (default: both)
	Batches    []int         // batch sizes (default: 1, 8, 32)
	Precisions []string      // "f32", "bf16", "f16" (default: f32)
	Backend    string        // GoMLX backend configuration ("" = $GOMLX_BACKEND, else the fastest installed)
	MinIters   int           // timed calls per point, at least (default 3)
	MinTime    time.Duration // and at least this long (default 2s)
	// TextLength is the number of real tokens of the benchmark prompts (default 7: "a photo of a
	// {class}." is 7-9 tokens); causal text towers are cut to the matching bucket unless
	// FullContext is set.
	TextLength  int
	FullContext bool
	// PointBudget, when positive, bounds the cost of a model: once a point's first call
	// (compilation included) takes longer than PointBudget, the larger batches of that model and
	// tower are skipped (reported with Skipped set). For quick runs over every model.
	PointBudget time.Duration
	// ResidentInput times image encoding with the input already on the device (written once,
	// then rerun; encoder.RerunImages): the model alone, without the host-to-device copy.
	ResidentInput bool
	// LinearLayout forces the layout Linear weights are held in (nn.LayoutOutIn or nn.LayoutInOut);
	// empty lets the encoder choose per backend (encoder.DefaultLinearLayout).
	LinearLayout string
	// Progress, if set, receives one line per measured point.
	Progress func(Result)
}

// Result is one measured point.
type Result struct {
	Model       string  `json:"model"`
	Tower       string  `json:"tower"`
	Batch       int     `json:"batch"`
	Precision   string  `json:"precision"`
	TextLength  int     `json:"text_length,omitempty"` // sequence length the text tower ran
	ItemsPerSec float64 `json:"items_per_sec"`
	P50ms       float64 `json:"p50_ms"`
	P95ms       float64 `json:"p95_ms"`
	Iters       int     `json:"iters"`
	FirstCallMs float64 `json:"first_call_ms"`    // includes graph compilation
	Params      int64   `json:"params,omitempty"` // weights of the whole model (both towers)
	// GFLOPPerItem is FLOPsPerItem in billions (0 where not modelled): items/s times it is the
	// achieved GFLOP/s, for model FLOP utilisation.
	GFLOPPerItem float64 `json:"gflop_per_item,omitempty"`
	Skipped      bool    `json:"skipped,omitempty"` // not measured (PointBudget); Error says why
	Error        string  `json:"error,omitempty"`
}

// Report is a benchmark run.
type Report struct {
	Backend   string    `json:"backend"`
	Machine   string    `json:"machine"`
	GoVersion string    `json:"go_version"`
	Started   time.Time `json:"started"`
	Results   []Result  `json:"results"`
}

func (c *Config) defaults() {
	if len(c.Models) == 0 {
		c.Models = []string{"ViT-B/32"}
	}
	if len(c.Towers) == 0 {
		c.Towers = []string{"image", "text"}
	}
	if len(c.Batches) == 0 {
		c.Batches = []int{1, 8, 32}
	}
	if len(c.Precisions) == 0 {
		c.Precisions = []string{"f32"}
	}
	if c.MinIters <= 0 {
		c.MinIters = 3
	}
	if c.MinTime <= 0 {
		c.MinTime = 2 * time.Second
	}
	if c.TextLength <= 0 {
		c.TextLength = 7
	}
}

// Machine describes the host: CPU model name and core count (and GOMAXPROCS).
func Machine() string {
	name := "unknown CPU"
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if strings.HasPrefix(line, "model name") {
				if _, v, ok := strings.Cut(line, ":"); ok {
					name = strings.TrimSpace(v)
				}
				break
			}
		}
	}
	return fmt.Sprintf("%s, %d cores (GOMAXPROCS %d), %s/%s", name, runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.GOOS, runtime.GOARCH)
}

// Run measures every (model, precision, tower, batch) point. A point that fails (e.g. f16 on
// simplego) is reported with its error and the run goes on.
func Run(cfg Config) (*Report, error) {
	cfg.defaults()
	rep := &Report{Backend: backend.Resolve(cfg.Backend), Machine: Machine(), GoVersion: runtime.Version(), Started: time.Now()}
	buckets := append([]int(nil), cfg.Batches...)
	sort.Ints(buckets)
	for _, name := range cfg.Models {
		for _, prec := range cfg.Precisions {
			m, err := cliplib.Load(name, cliplib.Options{Backend: cfg.Backend, Precision: prec, RandomWeights: true,
				Encoder: encoder.Options{BatchBuckets: buckets, FullTextLength: cfg.FullContext, LinearLayout: cfg.LinearLayout}})
			if err != nil {
				for _, tower := range cfg.Towers {
					for _, b := range cfg.Batches {
						r := Result{Model: name, Tower: tower, Batch: b, Precision: prec, Error: err.Error()}
						rep.Results = append(rep.Results, r)
						if cfg.Progress != nil {
							cfg.Progress(r)
						}
					}
				}
				continue
			}
			if desc := backend.DescribeChoice(m.Encoder().Backend(), m.Encoder().BackendChoice()); desc != "" {
				rep.Backend = desc
			}
			for _, tower := range cfg.Towers {
				over := "" // set once a point exceeded the budget
				for _, b := range sortedCopy(cfg.Batches) {
					var r Result
					if over != "" {
						r = Result{Model: name, Tower: tower, Batch: b, Skipped: true, Error: over}
					} else {
						r = measure(m, tower, b, cfg)
						if cfg.PointBudget > 0 && r.FirstCallMs > float64(cfg.PointBudget.Milliseconds()) {
							over = fmt.Sprintf("the first call at batch %d took %.1f s, over the %v budget", b, r.FirstCallMs/1000, cfg.PointBudget)
						}
					}
					r.Precision = prec
					r.Params = m.Encoder().NumParams()
					rep.Results = append(rep.Results, r)
					if cfg.Progress != nil {
						cfg.Progress(r)
					}
				}
			}
			m.Close()
		}
	}
	return rep, nil
}

// measure times one point.
func measure(m *cliplib.Model, tower string, batch int, cfg Config) Result {
	r := Result{Model: m.Name, Tower: tower, Batch: batch}
	call, textLength, err := pointCall(m, tower, batch, cfg.TextLength)
	if err != nil {
		r.Error = err.Error()
		return r
	}
	r.TextLength = textLength
	if tower == "image" && cfg.ResidentInput {
		if err := call(); err != nil {
			r.Error = err.Error()
			return r
		}
		call = func() error { _, err := m.Encoder().RerunImages(batch); return err }
	}
	t := timeCall(call, batch, cfg)
	t.Model, t.Tower, t.Batch, t.TextLength = r.Model, r.Tower, r.Batch, r.TextLength
	t.GFLOPPerItem = FLOPsPerItem(m.Config, tower, r.TextLength) / 1e9
	return t
}

// pointCall returns one encoding call of a benchmark point: batch synthetic images for the image
// tower, or batch prompts of textLength tokens for the text tower (with the sequence length the
// text tower runs them at). The inputs are made once, here, outside any timing.
func pointCall(m *cliplib.Model, tower string, batch, textLength int) (call func() error, runLength int, err error) {
	switch tower {
	case "image":
		res := m.Config.Vision.ImageSize
		pixels := make([]float32, batch*3*res*res)
		for i := range pixels {
			pixels[i] = float32(math.Sin(float64(i)*0.001)) * 1.5
		}
		return func() error { _, err := m.Encoder().EncodeImages(pixels, batch); return err }, 0, nil
	case "text":
		ids := benchPrompts(batch, m.Config.Text.ContextLength, m.Config.Text.VocabSize, textLength)
		return func() error { _, err := m.EncodeTokens(ids); return err }, m.Encoder().TextLength(ids), nil
	}
	return nil, 0, fmt.Errorf("unknown tower %q (want image or text)", tower)
}

// timeCall times call, which encodes batch items: a first call (reported separately, as it
// compiles the graph), then at least cfg.MinIters calls and cfg.MinTime.
func timeCall(call func() error, batch int, cfg Config) Result {
	var r Result
	start := time.Now()
	if err := call(); err != nil {
		r.Error = err.Error()
		return r
	}
	r.FirstCallMs = ms(time.Since(start))
	var lat []time.Duration
	begin := time.Now()
	for len(lat) < cfg.MinIters || time.Since(begin) < cfg.MinTime {
		t0 := time.Now()
		if err := call(); err != nil {
			r.Error = err.Error()
			return r
		}
		lat = append(lat, time.Since(t0))
		if len(lat) >= 10000 {
			break
		}
	}
	total := time.Duration(0)
	for _, d := range lat {
		total += d
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	r.Iters = len(lat)
	r.ItemsPerSec = float64(batch*len(lat)) / total.Seconds()
	r.P50ms = ms(Percentile(lat, 0.50))
	r.P95ms = ms(Percentile(lat, 0.95))
	return r
}

func sortedCopy(xs []int) []int {
	out := append([]int(nil), xs...)
	sort.Ints(out)
	return out
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// Percentile returns the p-quantile (0 ≤ p ≤ 1) of sorted durations (nearest rank).
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// Table formats results as an aligned text table.
func Table(results []Result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-16s %-5s %5s %-4s %4s %12s %10s %10s %12s\n", "model", "tower", "batch", "prec", "len", "items/s", "p50 ms", "p95 ms", "1st call ms")
	for _, r := range results {
		if r.Error != "" {
			what := "error"
			if r.Skipped {
				what = "not measured"
			}
			fmt.Fprintf(&b, "%-16s %-5s %5d %-4s      %s: %s\n", r.Model, r.Tower, r.Batch, r.Precision, what, r.Error)
			continue
		}
		l := ""
		if r.TextLength > 0 {
			l = fmt.Sprint(r.TextLength)
		}
		fmt.Fprintf(&b, "%-16s %-5s %5d %-4s %4s %12.2f %10.1f %10.1f %12.0f\n", r.Model, r.Tower, r.Batch, r.Precision, l,
			r.ItemsPerSec, r.P50ms, r.P95ms, r.FirstCallMs)
	}
	return b.String()
}

// benchPrompts returns batch token sequences of contextLength ids: start token, textLength word
// tokens (distinct per row) and the end token, zero-padded. With the CLIP vocabulary these are the
// real start/end ids 49406/49407; a smaller test vocabulary (the MobileCLIP test configurations have
// 500 entries) gets its last two ids as start and end, so the end token is still the largest id
// (the text towers pool at the argmax id) and every id is in range.
func benchPrompts(batch, contextLength, vocabSize, textLength int) [][]int32 {
	sot, eot, words := int32(49406), int32(49407), 40000
	if vocabSize < 49408 {
		sot, eot, words = int32(vocabSize-2), int32(vocabSize-1), max(vocabSize-2-320, 1)
	}
	first := int32(min(320, vocabSize-3))
	ids := make([][]int32, batch)
	for i := range ids {
		row := make([]int32, contextLength)
		row[0] = sot
		for j := 1; j <= textLength && j < len(row)-1; j++ {
			row[j] = first + int32((i*7+j)%words)
		}
		row[min(textLength+1, len(row)-1)] = eot
		ids[i] = row
	}
	return ids
}
