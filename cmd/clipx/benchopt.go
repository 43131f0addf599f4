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
)

// The optimisation benchmarks: reduced precision, request batching, text length bucketing, and
// the optimized facade on a zero-shot workload.
func init() {
	benchSubcommands["precision"] = runBenchPrecision
	benchSubcommands["batching"] = runBenchBatching
	benchSubcommands["bucketing"] = runBenchBucketing
	benchSubcommands["zeroshot"] = runBenchZeroShot
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

func runBenchPrecision(args []string) error {
	fs := newFlagSet("bench precision", "[--model ViT-B/32] [--precisions bf16,f16] [--images DIR] [--cifar PATH] [--json FILE]")
	name := fs.String("model", "ViT-B/32", "registry name or checkpoint path")
	precisions := fs.String("precisions", "bf16,f16", "precisions compared with f32")
	backendCfg := fs.String("backend", "", "GoMLX backend (default $GOMLX_BACKEND, else the fastest installed: xla:cuda, xla:cpu, go)")
	random := fs.Bool("random-weights", false, "use deterministic random weights (the comparison then measures arithmetic, not trained features)")
	offline := fs.Bool("offline", false, "never touch the network; without cached weights, fall back to random weights")
	images := fs.String("images", "", "folder of photos (default: the sample photos, shared/data/clip_test_images or $CLIPKIT_IMAGES)")
	maxImages := fs.Int("max-images", 0, "use at most this many photos (0 = all)")
	cifar := fs.String("cifar", "", "CIFAR-10/100 archive or folder for the CIFAR set (default: 32×32 thumbnails of the photos)")
	cifarCount := fs.Int("cifar-count", 20, "CIFAR test images used")
	templates := fs.String("templates", "photo", "prompt templates: photo (1) or cifar (18)")
	jsonOut := fs.String("json", "", "write the report as JSON to this file ('-' for stdout)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg := bench.PrecisionConfig{Model: *name, Backend: *backendCfg, Precisions: splitList(*precisions), RandomWeights: *random,
		Offline: *offline, FallbackToRandom: *offline, CIFAR: *cifar, CIFARCount: *cifarCount,
		Progress: func(msg string) { fmt.Fprintln(os.Stderr, msg) }}
	switch *templates {
	case "photo":
		cfg.Templates = cliplib.PhotoTemplate
	case "cifar":
		cfg.Templates = cliplib.CIFARTemplates
	default:
		return fmt.Errorf("%w: --templates %q (want photo or cifar)", errUsage, *templates)
	}
	if *images != "" {
		var files []string
		for _, ext := range []string{"*.png", "*.jpg", "*.jpeg", "*.PNG", "*.JPG", "*.JPEG"} {
			m, _ := filepath.Glob(filepath.Join(*images, ext))
			files = append(files, m...)
		}
		if len(files) == 0 {
			return fmt.Errorf("--images %s: no PNG or JPEG files", *images)
		}
		sort.Strings(files)
		cfg.Images = files
	}
	cfg.MaxImages = *maxImages
	rep, err := bench.ComparePrecisions(cfg)
	if err != nil {
		return err
	}
	fmt.Print(bench.PrecisionTable(rep))
	return writeJSON(*jsonOut, rep)
}

func runBenchBatching(args []string) error {
	fs := newFlagSet("bench batching", "[--model ViT-B/32] [--towers image,text] [--max-batches 1,2,4,8,16,32,64] [--clients 64] [--json FILE]")
	name := fs.String("model", "ViT-B/32", "registry name (random weights)")
	towers := fs.String("towers", "image,text", "towers to time")
	maxBatches := fs.String("max-batches", "1,2,4,8,16,32,64", "batcher MaxBatch values (1 = no batching)")
	clients := fs.Int("clients", 64, "concurrent clients, one request at a time each")
	maxWait := fs.Duration("max-wait", 5*time.Millisecond, "batcher MaxWait")
	precision := fs.String("precision", "f32", "f32, bf16 or f16")
	backendCfg := fs.String("backend", "", "GoMLX backend (default $GOMLX_BACKEND, else the fastest installed: xla:cuda, xla:cpu, go)")
	minTime := fs.Duration("min-time", 2*time.Second, "minimum measuring time per point")
	minBatches := fs.Int("min-batches", 3, "minimum full batches per point")
	jsonOut := fs.String("json", "", "write the report as JSON to this file ('-' for stdout)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	mbs, err := parseInts(*maxBatches)
	if err != nil {
		return err
	}
	cfg := bench.BatchingConfig{Model: *name, Backend: *backendCfg, Precision: *precision, Towers: splitList(*towers), MaxBatches: mbs,
		Clients: *clients, MaxWait: *maxWait, MinTime: *minTime, MinBatches: *minBatches,
		Progress: func(r bench.BatchingResult) {
			fmt.Fprint(os.Stderr, strings.SplitN(bench.BatchingTable([]bench.BatchingResult{r}), "\n", 2)[1])
		}}
	fmt.Fprint(os.Stderr, bench.BatchingTable(nil))
	rep, err := bench.Batching(cfg)
	if err != nil {
		return err
	}
	fmt.Printf("backend: %s\nmachine: %s\nmax wait: %v\n", rep.Backend, rep.Machine, *maxWait)
	fmt.Print(bench.BatchingTable(rep.Results))
	return writeJSON(*jsonOut, rep)
}

func runBenchBucketing(args []string) error {
	fs := newFlagSet("bench bucketing", "[--model ViT-B/32] [--batches 1,8,32] [--json FILE]")
	name := fs.String("model", "ViT-B/32", "registry name (random weights)")
	batches := fs.String("batches", "1,8,32", "batch sizes")
	precision := fs.String("precision", "f32", "f32, bf16 or f16")
	backendCfg := fs.String("backend", "", "GoMLX backend (default $GOMLX_BACKEND, else the fastest installed: xla:cuda, xla:cpu, go)")
	minTime := fs.Duration("min-time", 2*time.Second, "minimum measuring time per point")
	minIters := fs.Int("min-iters", 3, "minimum timed calls per point")
	jsonOut := fs.String("json", "", "write the report as JSON to this file ('-' for stdout)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	bs, err := parseInts(*batches)
	if err != nil {
		return err
	}
	cfg := bench.TextLengthConfig{Model: *name, Backend: *backendCfg, Precision: *precision, Batches: bs, MinTime: *minTime, MinIters: *minIters,
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
	return writeJSON(*jsonOut, rep)
}

func runBenchZeroShot(args []string) error {
	fs := newFlagSet("bench zeroshot", "[--model ViT-B/32] [--precisions f32,bf16] [--requests 4] [--json FILE]")
	name := fs.String("model", "ViT-B/32", "registry name or checkpoint path")
	precisions := fs.String("precisions", "f32", "precisions of the optimized facade runs")
	backendCfg := fs.String("backend", "", "GoMLX backend (default $GOMLX_BACKEND, else the fastest installed: xla:cuda, xla:cpu, go)")
	random := fs.Bool("random-weights", false, "use deterministic random weights")
	offline := fs.Bool("offline", false, "never touch the network; without cached weights, fall back to random weights")
	requests := fs.Int("requests", 4, "requests (each builds the classifier and classifies new images)")
	perRequest := fs.Int("images-per-request", 2, "images classified per request")
	templates := fs.String("templates", "cifar", "prompt templates: cifar (18) or photo (1)")
	jsonOut := fs.String("json", "", "write the report as JSON to this file ('-' for stdout)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg := bench.ZeroShotConfig{Model: *name, Backend: *backendCfg, Precisions: splitList(*precisions), RandomWeights: *random,
		Offline: *offline, FallbackToRandom: *offline, Requests: *requests, ImagesPerRequest: *perRequest,
		Progress: func(msg string) { fmt.Fprintln(os.Stderr, msg) }}
	switch *templates {
	case "cifar":
		cfg.Templates = cliplib.CIFARTemplates
	case "photo":
		cfg.Templates = cliplib.PhotoTemplate
	default:
		return fmt.Errorf("%w: --templates %q (want cifar or photo)", errUsage, *templates)
	}
	rep, err := bench.ZeroShotWorkload(cfg)
	if err != nil {
		return err
	}
	fmt.Print(bench.ZeroShotTable(rep))
	return writeJSON(*jsonOut, rep)
}
