package eval

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/clipkit/clipkit/cliplib"
	"github.com/clipkit/clipkit/data"
	"github.com/clipkit/clipkit/internal/atomicfile"
	"github.com/clipkit/clipkit/internal/readlimit"
)

// Result is one evaluation of one model on one benchmark.
type Result struct {
	Model     string `json:"model"`
	Benchmark string `json:"benchmark"`
	Task      string `json:"task"`
	// Metrics by name: top1, top5, mean_per_class_recall; i2t_r@k and t2i_r@k; for linear
	// probes also the chosen C and the validation accuracy.
	Metrics map[string]float64 `json:"metrics"`
	// Main is the name of the metric the paper reports for this benchmark.
	Main string `json:"main"`
	// Images and Texts evaluated (a subset when Subset).
	Images int  `json:"images"`
	Texts  int  `json:"texts,omitempty"`
	Subset bool `json:"subset"`
	// RandomWeights marks results of a model without trained weights: they measure nothing
	// comparable to a paper, and tables do not show them as results.
	RandomWeights bool   `json:"random_weights"`
	Backend       string `json:"backend,omitempty"`
	Precision     string `json:"precision,omitempty"`
	Data          string `json:"data"`
	Templates     int    `json:"templates,omitempty"`
	// Timing of the image encoding: Seconds of wall time for Images images, EncodeSeconds of
	// them inside the encoder; zero when the embeddings came from the cache (Cached).
	Seconds       float64 `json:"seconds"`
	EncodeSeconds float64 `json:"encode_seconds"`
	Cached        bool    `json:"cached"`
	When          string  `json:"when"`
}

// RunOptions tune the runners.
type RunOptions struct {
	// N evaluates an evenly spread subset of N images (0: all).
	N int
	// Stream tunes decoding and encoding.
	Stream StreamOptions
	// Cache keeps embeddings between runs (Dir "" disables it).
	Cache Cache
	// Templates replace the benchmark's prompt templates (zero-shot).
	Templates []string
}

func newResult(b Benchmark, task string, d *Opened, tm Timing) *Result {
	return &Result{Benchmark: b.Name, Task: task, Main: b.Main, Metrics: map[string]float64{}, Data: d.Layout,
		Seconds: tm.Wall.Seconds(), EncodeSeconds: tm.Encode.Seconds(), Cached: tm.Cached, When: time.Now().UTC().Format(time.RFC3339)}
}

// Describe fills in the model's name, backend, precision and whether its weights are random.
func Describe(r *Result, m *cliplib.Model) {
	r.Model = m.Name
	r.RandomWeights = m.RandomWeights()
	r.Backend = m.Encoder().BackendChoice().Config
	r.Precision = string(m.Encoder().Precision())
}

// ClassifierWeights builds the zero-shot classifier: per class, the normalised mean of the
// normalised embeddings of its prompts (the CLIP paper's prompt ensembling, cliplib.NewZeroShot),
// with the prompt embeddings cached.
func ClassifierWeights(c Cache, enc Encoder, classes, templates []string) ([][]float32, error) {
	if len(classes) == 0 || len(templates) == 0 {
		return nil, fmt.Errorf("eval: zero-shot needs classes and templates (got %d and %d)", len(classes), len(templates))
	}
	z, err := cliplib.NewZeroShot(cachedTexts{c, enc}, classes, templates)
	if err != nil {
		return nil, err
	}
	return z.Weights, nil
}

// cachedTexts is a cliplib.TextEncoder that encodes through the embedding cache.
type cachedTexts struct {
	c   Cache
	enc Encoder
}

func (t cachedTexts) EncodeTexts(texts []string) ([][]float32, error) {
	embs, _, err := CachedTexts(t.c, Key(t.enc.ID(), "prompts", strings.Join(texts, "\x00")), t.enc, texts, 0)
	return embs, err
}

// LogitScale is not used: only the classifier's weights are kept.
func (cachedTexts) LogitScale() float32 { return 1 }

// ZeroShot classifies d's images zero-shot with b's class names and templates.
func ZeroShot(ctx context.Context, enc Encoder, b Benchmark, d *Opened, opt RunOptions) (*Result, error) {
	if b.Retrieval {
		return nil, fmt.Errorf("eval: %s is a retrieval benchmark", b.Name)
	}
	templates := b.Templates
	if len(opt.Templates) > 0 {
		templates = opt.Templates
	}
	w, err := ClassifierWeights(opt.Cache, enc, b.Classes, templates)
	if err != nil {
		return nil, err
	}
	idx := Spread(d.Len(), opt.N)
	embs, labels, tm, err := CachedImages(ctx, opt.Cache, Key(enc.ID(), "images", d.Desc, fmt.Sprint(idx)), enc, d, idx, opt.Stream)
	if err != nil {
		return nil, err
	}
	r := newResult(b, ZeroShotTask, d, tm)
	r.Images, r.Subset, r.Templates = len(embs), idx != nil, len(templates)
	top1, top5, mpcr, err := classMetrics(cliplib.Similarity(embs, w), labels, len(w))
	if err != nil {
		return nil, err
	}
	r.Metrics[MetricTop1], r.Metrics["top5"], r.Metrics[MetricMeanPerClassRecall] = top1, top5, mpcr
	return r, nil
}

// classMetrics are the classification metrics of scores [samples][classes] against labels:
// top-1, top-5 (top-k with k = min(5, classes)) and mean per-class recall.
func classMetrics(scores [][]float32, labels []int, classes int) (top1, top5, meanPerClassRecall float64, err error) {
	if top1, err = TopKAccuracy(scores, labels, 1); err != nil {
		return
	}
	if top5, err = TopKAccuracy(scores, labels, min(5, classes)); err != nil {
		return
	}
	meanPerClassRecall, err = MeanPerClassRecall(scores, labels)
	return
}

// RetrievalKs are the k of recall@k reported.
var RetrievalKs = []int{1, 5, 10}

// Retrieval measures image→text and text→image recall@1/5/10 on a captioned data set.
func Retrieval(ctx context.Context, enc Encoder, b Benchmark, d *Opened, opt RunOptions) (*Result, error) {
	mc, ok := d.Dataset.(data.MultiCaptioned)
	if !ok {
		return nil, fmt.Errorf("eval: %s: the data set has no captions", b.Name)
	}
	idx := Spread(d.Len(), opt.N)
	embs, _, tm, err := CachedImages(ctx, opt.Cache, Key(enc.ID(), "images", d.Desc, fmt.Sprint(idx)), enc, d, idx, opt.Stream)
	if err != nil {
		return nil, err
	}
	var texts []string
	var owner []int
	for k := range embs {
		i := k
		if idx != nil {
			i = idx[k]
		}
		for _, c := range mc.Captions(i) {
			texts = append(texts, c)
			owner = append(owner, k)
		}
	}
	temb, _, err := CachedTexts(opt.Cache, Key(enc.ID(), "captions", d.Desc, fmt.Sprint(idx)), enc, texts, 0)
	if err != nil {
		return nil, err
	}
	rec, err := Recall(cliplib.Similarity(embs, temb), owner, RetrievalKs)
	if err != nil {
		return nil, err
	}
	r := newResult(b, RetrievalTask, d, tm)
	r.Images, r.Texts, r.Subset = len(embs), len(texts), idx != nil
	for _, k := range RetrievalKs {
		r.Metrics["i2t_r@"+strconv.Itoa(k)] = rec.ImageToText[k]
		r.Metrics["t2i_r@"+strconv.Itoa(k)] = rec.TextToImage[k]
	}
	return r, nil
}

// LinearProbeRun trains a logistic regression on the frozen image embeddings of train and
// measures it on test (both through the cache, so a zero-shot run on test has already paid for
// the test embeddings).
func LinearProbeRun(ctx context.Context, enc Encoder, b Benchmark, train, test *Opened, nTrain int, opt RunOptions, popt ProbeOptions) (*Result, error) {
	if b.Retrieval {
		return nil, fmt.Errorf("eval: %s is a retrieval benchmark", b.Name)
	}
	tri := Spread(train.Len(), nTrain)
	trX, trY, tm1, err := CachedImages(ctx, opt.Cache, Key(enc.ID(), "images", train.Desc, fmt.Sprint(tri)), enc, train, tri, opt.Stream)
	if err != nil {
		return nil, err
	}
	tei := Spread(test.Len(), opt.N)
	teX, teY, tm2, err := CachedImages(ctx, opt.Cache, Key(enc.ID(), "images", test.Desc, fmt.Sprint(tei)), enc, test, tei, opt.Stream)
	if err != nil {
		return nil, err
	}
	pr, err := LinearProbe(trX, trY, teX, teY, len(b.Classes), popt)
	if err != nil {
		return nil, err
	}
	r := newResult(b, LinearProbeTask, test, Timing{Wall: tm1.Wall + tm2.Wall, Encode: tm1.Encode + tm2.Encode, Cached: tm1.Cached && tm2.Cached})
	r.Images, r.Subset = len(teX), tri != nil || tei != nil
	r.Metrics[MetricTop1], r.Metrics["top5"], r.Metrics[MetricMeanPerClassRecall] = pr.Top1, pr.Top5, pr.MeanPerClassRecall
	r.Metrics["C"], r.Metrics["val_top1"], r.Metrics["train_images"] = pr.C, pr.ValAccuracy, float64(len(trX))
	return r, nil
}

// FileName is where SaveResult puts r in a results folder.
func (r *Result) FileName() string {
	clean := strings.NewReplacer("/", "_", "@", "_", " ", "_", "\\", "_").Replace(r.Model)
	return clean + "__" + r.Benchmark + "__" + r.Task + ".json"
}

// SaveResult writes r into dir (atomically), replacing an earlier result of the same model,
// benchmark and task.
func SaveResult(dir string, r *Result) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	p := filepath.Join(dir, r.FileName())
	return p, atomicfile.Write(p, 0o644, func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", " ")
		return enc.Encode(r)
	})
}

// LoadResults reads every result of dir (none when dir does not exist).
func LoadResults(dir string) ([]Result, error) {
	m, err := filepath.Glob(filepath.Join(dir, "*__*__*.json"))
	if err != nil {
		return nil, err
	}
	sort.Strings(m)
	var out []Result
	for _, p := range m {
		b, err := readlimit.ReadFile(p, 1<<20)
		if err != nil {
			return nil, err
		}
		var r Result
		if err := json.Unmarshal(b, &r); err != nil {
			return nil, fmt.Errorf("eval result %s: %w", p, err)
		}
		if r.Model == "" || r.Benchmark == "" || r.Metrics == nil {
			return nil, fmt.Errorf("eval result %s: no model, benchmark or metrics", p)
		}
		out = append(out, r)
	}
	return out, nil
}
