package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/clipkit/clipkit/cliplib"
	"github.com/clipkit/clipkit/cliplib/bench"
	"github.com/spf13/cobra"
)

// The optimisation benchmarks: reduced precision, request batching, text length bucketing, and
// the optimized model (Options.Optimized()) on a zero-shot workload.
func init() {
	addCommand("bench", newBenchPrecisionCmd)
	addCommand("bench", newBenchBatchingCmd)
	addCommand("bench", newBenchBucketingCmd)
	addCommand("bench", newBenchZeroShotCmd)
}

// writeJSON writes v as indented JSON to path ("-" = stdout; "" = nowhere).
func writeJSON(path string, v any) error {
	if path == "" {
		return nil
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if path == "-" {
		_, err = fmt.Println(string(b))
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// benchPrecisionOptions are the flags of clipx bench precision.
type benchPrecisionOptions struct {
	name       string
	precisions string
	backendCfg string
	random     bool
	offline    bool
	images     string
	maxImages  int
	cifar      string
	cifarCount int
	templates  string
	jsonOut    string
}

func newBenchPrecisionCmd() *cobra.Command {
	o := &benchPrecisionOptions{}
	c := &cobra.Command{
		Use:   "precision [--model ViT-B/32] [--precisions bf16,f16] [--images DIR] [--cifar PATH] [--json FILE]",
		Short: "reduced precision against f32: features, cosine, logits, top-1 agreement, speed",
		Long: `Encode two image sets (photos, and CIFAR images or 32×32 thumbnails of the photos) and their
prompts at f32 and at each reduced precision, and compare: feature error, cosine similarity, logits,
top-1 agreement, and speed.`,
		Example: `  clipx bench precision --model ViT-B/32 --precisions bf16,f16 --backend xla:cpu --json precision.json
  clipx bench precision --random-weights --precisions bf16 --backend go`,
		Args: noArgs(""),
		RunE: func(*cobra.Command, []string) error { return runBenchPrecision(o) },
	}
	f := c.Flags()
	f.StringVar(&o.name, "model", "ViT-B/32", "registry name or checkpoint path")
	f.StringVar(&o.precisions, "precisions", "bf16,f16", "precisions compared with f32")
	f.StringVar(&o.backendCfg, "backend", "", backendUsage)
	f.BoolVar(&o.random, "random-weights", false, "use deterministic random weights (the comparison then measures arithmetic, not trained features)")
	f.BoolVar(&o.offline, "offline", false, "never touch the network; without cached weights, fall back to random weights")
	f.StringVar(&o.images, "images", "", "folder of photos (default: the sample photos, shared/data/clip_test_images or $CLIPKIT_IMAGES)")
	f.IntVar(&o.maxImages, "max-images", 0, "use at most this many photos (0 = all)")
	f.StringVar(&o.cifar, "cifar", "", "CIFAR-10/100 archive or folder for the CIFAR set (default: 32×32 thumbnails of the photos)")
	f.IntVar(&o.cifarCount, "cifar-count", 20, "CIFAR test images used")
	f.StringVar(&o.templates, "templates", "photo", "prompt templates: photo (1) or cifar (18)")
	f.StringVar(&o.jsonOut, "json", "", jsonUsage)
	return c
}

func runBenchPrecision(o *benchPrecisionOptions) error {
	cfg := bench.PrecisionConfig{Model: o.name, Backend: o.backendCfg, Precisions: splitList(o.precisions), RandomWeights: o.random,
		Offline: o.offline, FallbackToRandom: o.offline, CIFAR: o.cifar, CIFARCount: o.cifarCount,
		Progress: func(msg string) { fmt.Fprintln(os.Stderr, msg) }}
	switch o.templates {
	case "photo":
		cfg.Templates = cliplib.PhotoTemplate
	case "cifar":
		cfg.Templates = cliplib.CIFARTemplates
	default:
		return fmt.Errorf("%w: --templates %q (want photo or cifar)", errUsage, o.templates)
	}
	if o.images != "" {
		var files []string
		for _, ext := range []string{"*.png", "*.jpg", "*.jpeg", "*.PNG", "*.JPG", "*.JPEG"} {
			m, _ := filepath.Glob(filepath.Join(o.images, ext))
			files = append(files, m...)
		}
		if len(files) == 0 {
			return fmt.Errorf("--images %s: no PNG or JPEG files", o.images)
		}
		sort.Strings(files)
		cfg.Images = files
	}
	cfg.MaxImages = o.maxImages
	rep, err := bench.ComparePrecisions(cfg)
	if err != nil {
		return err
	}
	fmt.Print(bench.PrecisionTable(rep))
	return writeJSON(o.jsonOut, rep)
}

// benchBatchingOptions are the flags of clipx bench batching.
type benchBatchingOptions struct {
	name       string
	towers     string
	maxBatches string
	clients    int
	maxWait    time.Duration
	precision  string
	backendCfg string
	minTime    time.Duration
	minBatches int
	jsonOut    string
}

func newBenchBatchingCmd() *cobra.Command {
	o := &benchBatchingOptions{}
	c := &cobra.Command{
		Use:   "batching [--model ViT-B/32] [--towers image,text] [--max-batches 1,2,4,8,16,32,64] [--clients 64] [--json FILE]",
		Short: "the request batcher's throughput by MaxBatch, with concurrent clients",
		Long: `Time the request batcher: --clients goroutines each send one request at a time, and the batcher
groups them up to MaxBatch (each of --max-batches) or MaxWait; throughput and latency per point.`,
		Example: `  clipx bench batching --model ViT-B/32 --towers image --max-batches 1,8,64 --json batching.json`,
		Args:    noArgs(""),
		RunE:    func(*cobra.Command, []string) error { return runBenchBatching(o) },
	}
	f := c.Flags()
	f.StringVar(&o.name, "model", "ViT-B/32", "registry name (random weights)")
	f.StringVar(&o.towers, "towers", "image,text", "towers to time")
	f.StringVar(&o.maxBatches, "max-batches", "1,2,4,8,16,32,64", "batcher MaxBatch values (1 = no batching)")
	f.IntVar(&o.clients, "clients", 64, "concurrent clients, one request at a time each")
	f.DurationVar(&o.maxWait, "max-wait", 5*time.Millisecond, "batcher MaxWait")
	f.StringVar(&o.precision, "precision", "f32", "f32, bf16 or f16")
	f.StringVar(&o.backendCfg, "backend", "", backendUsage)
	f.DurationVar(&o.minTime, "min-time", 2*time.Second, "minimum measuring time per point")
	f.IntVar(&o.minBatches, "min-batches", 3, "minimum full batches per point")
	f.StringVar(&o.jsonOut, "json", "", jsonUsage)
	return c
}

func runBenchBatching(o *benchBatchingOptions) error {
	mbs, err := parseInts(o.maxBatches)
	if err != nil {
		return err
	}
	cfg := bench.BatchingConfig{Model: o.name, Backend: o.backendCfg, Precision: o.precision, Towers: splitList(o.towers), MaxBatches: mbs,
		Clients: o.clients, MaxWait: o.maxWait, MinTime: o.minTime, MinBatches: o.minBatches,
		Progress: func(r bench.BatchingResult) {
			fmt.Fprint(os.Stderr, strings.SplitN(bench.BatchingTable([]bench.BatchingResult{r}), "\n", 2)[1])
		}}
	fmt.Fprint(os.Stderr, bench.BatchingTable(nil))
	rep, err := bench.Batching(cfg)
	if err != nil {
		return err
	}
	fmt.Printf("backend: %s\nmachine: %s\nmax wait: %v\n", rep.Backend, rep.Machine, o.maxWait)
	fmt.Print(bench.BatchingTable(rep.Results))
	return writeJSON(o.jsonOut, rep)
}

// benchBucketingOptions are the flags of clipx bench bucketing.
type benchBucketingOptions struct {
	name       string
	batches    string
	precision  string
	backendCfg string
	minTime    time.Duration
	minIters   int
	jsonOut    string
}

func newBenchBucketingCmd() *cobra.Command {
	o := &benchBucketingOptions{}
	c := &cobra.Command{
		Use:   "bucketing [--model ViT-B/32] [--batches 1,8,32] [--json FILE]",
		Short: "text-length buckets against the full 77-token context: equality and speed-up",
		Long: `Encode prompts with the text tower run on the shortest length bucket that holds them, and on the
full 77-token context: the embeddings must agree, and the table shows the speed-up per batch size.`,
		Example: `  clipx bench bucketing --model ViT-B/32 --batches 1,8,32 --json bucketing.json`,
		Args:    noArgs(""),
		RunE:    func(*cobra.Command, []string) error { return runBenchBucketing(o) },
	}
	f := c.Flags()
	f.StringVar(&o.name, "model", "ViT-B/32", "registry name (random weights)")
	f.StringVar(&o.batches, "batches", "1,8,32", "batch sizes")
	f.StringVar(&o.precision, "precision", "f32", "f32, bf16 or f16")
	f.StringVar(&o.backendCfg, "backend", "", backendUsage)
	f.DurationVar(&o.minTime, "min-time", 2*time.Second, "minimum measuring time per point")
	f.IntVar(&o.minIters, "min-iters", 3, "minimum timed calls per point")
	f.StringVar(&o.jsonOut, "json", "", jsonUsage)
	return c
}

func runBenchBucketing(o *benchBucketingOptions) error {
	bs, err := parseInts(o.batches)
	if err != nil {
		return err
	}
	cfg := bench.TextLengthConfig{Model: o.name, Backend: o.backendCfg, Precision: o.precision, Batches: bs, MinTime: o.minTime, MinIters: o.minIters,
		Progress: func(r bench.TextLengthResult) {
			fmt.Fprint(os.Stderr, strings.SplitN(bench.TextLengthTable([]bench.TextLengthResult{r}), "\n", 2)[1])
		}}
	fmt.Fprint(os.Stderr, bench.TextLengthTable(nil))
	rep, err := bench.CompareTextLengths(cfg)
	if err != nil {
		return err
	}
	fmt.Printf("backend: %s\nmachine: %s\nprecision: %s, causal text tower: %v\n", rep.Backend, rep.Machine, rep.Precision, rep.Causal)
	fmt.Print(bench.TextLengthTable(rep.Results))
	return writeJSON(o.jsonOut, rep)
}

// benchZeroShotOptions are the flags of clipx bench zeroshot.
type benchZeroShotOptions struct {
	name       string
	precisions string
	backendCfg string
	random     bool
	offline    bool
	requests   int
	perRequest int
	templates  string
	jsonOut    string
}

func newBenchZeroShotCmd() *cobra.Command {
	o := &benchZeroShotOptions{}
	c := &cobra.Command{
		Use:   "zeroshot [--model ViT-B/32] [--precisions f32,bf16] [--requests 4] [--json FILE]",
		Short: "plain against optimized model (Options.Optimized()) on a repeated zero-shot workload",
		Long: `Run a zero-shot workload of --requests requests, each building a classifier from the prompt
templates and classifying new images, with the plain model (zero Options), then with the optimized model (Options.Optimized()) at each precision
(in-memory caches, starting empty, so that the first request is cold).`,
		Example: `  clipx bench zeroshot --model ViT-B/32 --precisions f32,bf16 --requests 4 --json zeroshot.json`,
		Args:    noArgs(""),
		RunE:    func(*cobra.Command, []string) error { return runBenchZeroShot(o) },
	}
	f := c.Flags()
	f.StringVar(&o.name, "model", "ViT-B/32", "registry name or checkpoint path")
	f.StringVar(&o.precisions, "precisions", "f32", "precisions of the optimized model (Options.Optimized()) runs")
	f.StringVar(&o.backendCfg, "backend", "", backendUsage)
	f.BoolVar(&o.random, "random-weights", false, "use deterministic random weights")
	f.BoolVar(&o.offline, "offline", false, "never touch the network; without cached weights, fall back to random weights")
	f.IntVar(&o.requests, "requests", 4, "requests (each builds the classifier and classifies new images)")
	f.IntVar(&o.perRequest, "images-per-request", 2, "images classified per request")
	f.StringVar(&o.templates, "templates", "cifar", "prompt templates: cifar (18) or photo (1)")
	f.StringVar(&o.jsonOut, "json", "", jsonUsage)
	return c
}

func runBenchZeroShot(o *benchZeroShotOptions) error {
	cfg := bench.ZeroShotConfig{Model: o.name, Backend: o.backendCfg, Precisions: splitList(o.precisions), RandomWeights: o.random,
		Offline: o.offline, FallbackToRandom: o.offline, Requests: o.requests, ImagesPerRequest: o.perRequest,
		Progress: func(msg string) { fmt.Fprintln(os.Stderr, msg) }}
	switch o.templates {
	case "cifar":
		cfg.Templates = cliplib.CIFARTemplates
	case "photo":
		cfg.Templates = cliplib.PhotoTemplate
	default:
		return fmt.Errorf("%w: --templates %q (want cifar or photo)", errUsage, o.templates)
	}
	rep, err := bench.ZeroShotWorkload(cfg)
	if err != nil {
		return err
	}
	fmt.Print(bench.ZeroShotTable(rep))
	return writeJSON(o.jsonOut, rep)
}
