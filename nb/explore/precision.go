package explore

import (
	"fmt"
	"strings"
	"time"

	"github.com/clipkit/clipkit/cliplib/backend"
	"github.com/clipkit/clipkit/cliplib/bench"
	"github.com/clipkit/clipkit/nb/notebook"
)

// PrecisionBackends are the backends notebook 11 compares precisions on: the one in use and, when
// that is the pure Go one and the XLA CPU plugin loads, also xla:cpu (not in smoke mode, to keep CI
// fast).
func PrecisionBackends() []string {
	cur := backend.Resolve("")
	out := []string{cur}
	if strings.HasPrefix(cur, "go") && !notebook.Smoke() {
		if b, err := backend.New("xla:cpu"); err == nil {
			b.Finalize()
			out = append(out, "xla:cpu")
		}
	}
	return out
}

// PrecisionReports runs bench.ComparePrecisions of model (bf16 and f16 against f32, random weights
// where trained ones are missing, 4 images per set in smoke mode) on every backend, in order,
// with a progress bar each, once per key (notebook.Cached).
func PrecisionReports(key, model string, backends []string) ([]*bench.PrecisionReport, error) {
	return notebook.Cached(key, func() ([]*bench.PrecisionReport, error) {
		var reps []*bench.PrecisionReport
		for _, b := range backends {
			p := notebook.NewProgress("Precision comparison on "+b, 3)
			cfg := bench.PrecisionConfig{Model: model, Backend: b, Precisions: []string{"bf16", "f16"}, FallbackToRandom: true,
				MaxImages: notebook.Pick(0, 4), Progress: func(msg string) {
					if strings.HasSuffix(msg, ": loading") {
						p.Add(1)
					}
				}}
			rep, err := bench.ComparePrecisions(cfg)
			p.Done()
			if err != nil {
				return nil, err
			}
			reps = append(reps, rep)
		}
		return reps, nil
	})
}

// PrecisionRows returns the comparison rows of reps (not the f32 reference, not errors), with a
// label each: "<precision> <go|xla> · <set>".
func PrecisionRows(reps []*bench.PrecisionReport) (labels []string, rows []bench.PrecisionResult) {
	for _, rep := range reps {
		for _, r := range rep.Results {
			if r.Precision != "f32" && r.Error == "" {
				labels = append(labels, fmt.Sprintf("%s %s · %s", r.Precision, rep.BackendShort(), r.Set))
				rows = append(rows, r)
			}
		}
	}
	return labels, rows
}

// PrecisionSweepConfig is notebook 11's batch-size sweep of model's image tower in f32, bf16 and
// f16: batches 1 and 2 in smoke mode, 1 and 4 on the pure Go backend, else 1, 8, 32 and 64.
func PrecisionSweepConfig(model string) bench.Config {
	cfg := bench.Config{Models: []string{model}, Towers: []string{"image"}, Precisions: []string{"f32", "bf16", "f16"}}
	switch {
	case notebook.Smoke():
		cfg.Batches, cfg.MinIters, cfg.MinTime = []int{1, 2}, 1, 50*time.Millisecond
	case strings.HasPrefix(backend.Resolve(""), "go"):
		cfg.Batches, cfg.MinIters, cfg.MinTime = []int{1, 4}, 2, time.Second
	default:
		cfg.Batches, cfg.MinIters, cfg.MinTime = []int{1, 8, 32, 64}, 3, time.Second
	}
	return cfg
}
