package bench

import (
	"fmt"
	"runtime"
	"strings"
	"time"

	"github.com/clipkit/clipkit/cliplib"
	"github.com/clipkit/clipkit/cliplib/backend"
	"github.com/clipkit/clipkit/data"
)

// ZeroShotConfig selects the zero-shot workload that compares the plain model (zero Options) (a cliplib.Model
// loaded with zero Options) with the optimized one (cliplib.Options.Optimized, in-memory caches): Requests requests, each building a classifier for the same class list
// (as a stateless service or a notebook cell would) and classifying ImagesPerRequest new images.
type ZeroShotConfig struct {
	Model   string // registry name (default ViT-B/32)
	Backend string // GoMLX backend ("" = $GOMLX_BACKEND, else the fastest installed)
	// Precisions of the optimized model (Options.Optimized()) runs (default f32; each is one run).
	Precisions []string
	// RandomWeights, Offline and FallbackToRandom are passed to Load.
	RandomWeights, Offline, FallbackToRandom bool
	Classes                                  []string // default CIFAR10Classes
	Templates                                []string // default cliplib.CIFARTemplates (18 prompts per class)
	Images                                   []string // photos, used in turn (default: the sample photos)
	Requests                                 int      // default 4
	ImagesPerRequest                         int      // default 2
	// Progress, if set, receives one line per request.
	Progress func(msg string)
}

// ZeroShotResult is one facade's run of the workload.
type ZeroShotResult struct {
	Facade    string `json:"facade"` // "plain" or "optimized"
	Precision string `json:"precision"`
	// RequestMs are the wall times of the requests in order; the first one is cold (for the
	// optimized model (Options.Optimized()): empty in-memory caches).
	RequestMs []float64 `json:"request_ms"`
	FirstMs   float64   `json:"first_ms"`
	// RestMeanMs is the mean of the requests after the first.
	RestMeanMs float64 `json:"rest_mean_ms"`
	TotalMs    float64 `json:"total_ms"`
	// TextHitRate and TextHits/TextMisses are the optimized model (Options.Optimized())'s text-cache counters.
	TextHits    int64   `json:"text_hits,omitempty"`
	TextMisses  int64   `json:"text_misses,omitempty"`
	TextHitRate float64 `json:"text_hit_rate,omitempty"`
	// Top1Agreement is the fraction of images classified as the plain f32 facade does.
	Top1Agreement float64 `json:"top1_agreement"`
	// Speedup is the plain model (zero Options)'s total time over this run's.
	Speedup float64 `json:"speedup"`
	Error   string  `json:"error,omitempty"`
}

// ZeroShotReport is the workload comparison.
type ZeroShotReport struct {
	Model            string           `json:"model"`
	RandomWeights    bool             `json:"random_weights"`
	Backend          string           `json:"backend"`
	Machine          string           `json:"machine"`
	GoVersion        string           `json:"go_version"`
	Started          time.Time        `json:"started"`
	Classes          int              `json:"classes"`
	Templates        int              `json:"templates"`
	Requests         int              `json:"requests"`
	ImagesPerRequest int              `json:"images_per_request"`
	Results          []ZeroShotResult `json:"results"`
}

// ZeroShotWorkload runs the workload with the plain model (zero Options), then with the optimized model (Options.Optimized())
// (Options.Optimized with MemoryOnly) at each precision (in-memory caches, starting empty, so that the first request is cold).
func ZeroShotWorkload(cfg ZeroShotConfig) (*ZeroShotReport, error) {
	if cfg.Model == "" {
		cfg.Model = "ViT-B/32"
	}
	if len(cfg.Precisions) == 0 {
		cfg.Precisions = []string{"f32"}
	}
	if len(cfg.Classes) == 0 {
		cfg.Classes = CIFAR10Classes
	}
	if len(cfg.Templates) == 0 {
		cfg.Templates = cliplib.CIFARTemplates
	}
	if cfg.Requests <= 0 {
		cfg.Requests = 4
	}
	if cfg.ImagesPerRequest <= 0 {
		cfg.ImagesPerRequest = 2
	}
	if len(cfg.Images) == 0 {
		dir, err := data.DemoImagesDir()
		if err != nil {
			return nil, err
		}
		if cfg.Images, err = data.ImageFiles(dir); err != nil {
			return nil, err
		}
	}
	say := func(format string, args ...any) {
		if cfg.Progress != nil {
			cfg.Progress(fmt.Sprintf(format, args...))
		}
	}
	rep := &ZeroShotReport{Model: cfg.Model, Backend: backend.Resolve(cfg.Backend), Machine: Machine(), GoVersion: runtime.Version(),
		Started: time.Now(), Classes: len(cfg.Classes), Templates: len(cfg.Templates), Requests: cfg.Requests, ImagesPerRequest: cfg.ImagesPerRequest}
	lopt := cliplib.Options{Backend: cfg.Backend, RandomWeights: cfg.RandomWeights, Offline: cfg.Offline, FallbackToRandom: cfg.FallbackToRandom}
	requestImages := func(r int) []string {
		out := make([]string, cfg.ImagesPerRequest)
		for i := range out {
			out[i] = cfg.Images[(r*cfg.ImagesPerRequest+i)%len(cfg.Images)]
		}
		return out
	}

	// The plain model (zero Options): every request encodes the class prompts and its images.
	base, err := cliplib.Load(cfg.Model, lopt)
	if err != nil {
		return nil, err
	}
	rep.RandomWeights = base.RandomWeights()
	if d := backend.DescribeChoice(base.Encoder().Backend(), base.Encoder().BackendChoice()); d != "" {
		rep.Backend = d
	}
	var plainTop []int
	plain := ZeroShotResult{Facade: "plain", Precision: "f32", Top1Agreement: 1}
	for r := range cfg.Requests {
		t0 := time.Now()
		z, err := base.ZeroShot(cfg.Classes, cfg.Templates)
		if err != nil {
			base.Close()
			return nil, err
		}
		embs, err := base.EncodeImageFiles(requestImages(r)...)
		if err != nil {
			base.Close()
			return nil, err
		}
		for _, p := range z.TopK(embs, 1) {
			plainTop = append(plainTop, p[0].Index)
		}
		plain.RequestMs = append(plain.RequestMs, ms(time.Since(t0)))
		say("plain f32 request %d: %.0f ms", r+1, plain.RequestMs[r])
	}
	base.Close()
	finish(&plain)
	plain.Speedup = 1
	rep.Results = append(rep.Results, plain)

	for _, prec := range cfg.Precisions {
		res := ZeroShotResult{Facade: "optimized", Precision: prec}
		o := lopt
		o.Precision = prec
		o.MemoryOnly = true
		m, err := cliplib.Load(cfg.Model, o.Optimized())
		if err != nil {
			res.Error = err.Error()
			rep.Results = append(rep.Results, res)
			continue
		}
		agree, n := 0, 0
		for r := range cfg.Requests {
			t0 := time.Now()
			z, err := m.ZeroShot(cfg.Classes, cfg.Templates)
			if err == nil {
				var preds [][]cliplib.Prediction
				if preds, err = m.ClassifyFiles(z, 1, requestImages(r)...); err == nil {
					for _, p := range preds {
						if p[0].Index == plainTop[n] {
							agree++
						}
						n++
					}
				}
			}
			if err != nil {
				res.Error = err.Error()
				break
			}
			res.RequestMs = append(res.RequestMs, ms(time.Since(t0)))
			say("optimized %s request %d: %.0f ms", prec, r+1, res.RequestMs[r])
		}
		st := m.Stats().TextCache
		m.Close()
		res.TextHits, res.TextMisses, res.TextHitRate = st.Hits, st.Misses, st.HitRate()
		if n > 0 {
			res.Top1Agreement = float64(agree) / float64(n)
		}
		finish(&res)
		if res.TotalMs > 0 {
			res.Speedup = plain.TotalMs / res.TotalMs
		}
		rep.Results = append(rep.Results, res)
	}
	return rep, nil
}

func finish(r *ZeroShotResult) {
	for i, v := range r.RequestMs {
		r.TotalMs += v
		if i == 0 {
			r.FirstMs = v
		} else {
			r.RestMeanMs += v
		}
	}
	if len(r.RequestMs) > 1 {
		r.RestMeanMs /= float64(len(r.RequestMs) - 1)
	}
}

// ZeroShotTable formats a workload report as an aligned text table.
func ZeroShotTable(rep *ZeroShotReport) string {
	var b strings.Builder
	w := "trained weights"
	if rep.RandomWeights {
		w = "RANDOM WEIGHTS"
	}
	fmt.Fprintf(&b, "%s (%s) on %s; %s\n", rep.Model, w, rep.Backend, rep.Machine)
	fmt.Fprintf(&b, "%d requests, each: zero-shot classifier for %d classes × %d templates (%d prompts), then %d new images\n",
		rep.Requests, rep.Classes, rep.Templates, rep.Classes*rep.Templates, rep.ImagesPerRequest)
	fmt.Fprintf(&b, "%-10s %-5s %12s %14s %12s %9s %9s %8s\n", "facade", "prec", "first ms", "later mean ms", "total ms", "hit rate", "top-1 =", "speedup")
	for _, r := range rep.Results {
		if r.Error != "" {
			fmt.Fprintf(&b, "%-10s %-5s error: %s\n", r.Facade, r.Precision, r.Error)
			continue
		}
		fmt.Fprintf(&b, "%-10s %-5s %12.0f %14.0f %12.0f %8.0f%% %8.0f%% %7.2fx\n", r.Facade, r.Precision, r.FirstMs, r.RestMeanMs, r.TotalMs,
			100*r.TextHitRate, 100*r.Top1Agreement, r.Speedup)
	}
	return b.String()
}
