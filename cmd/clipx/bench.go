package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"strconv"
	"time"

	"github.com/clipkit/clipkit/cliplib/bench"
	"github.com/spf13/cobra"
)

func init() {
	addCommand("", newBenchCmd)
	addCommand("bench", newBenchModelsCmd)
	addCommand("bench", newBenchCompareCmd)
}

func newBenchCmd() *cobra.Command {
	return newGroup(&cobra.Command{
		Use:   "bench <sub-command> [flags]",
		Short: "benchmark encoding (bench models) or vector search (bench search); JSON out",
		Long: `Benchmarks: encoding speed per model, tower, batch and precision (models, compare against a
PyTorch report, load, worker), the optimisations (precision, batching, bucketing, zeroshot), and
vector search in process (search) or against Milvus (store). Each writes a table, and JSON with --json
or --out.`,
		Example: `  clipx bench models --models ViT-B/32,RN50 --batches 1,8 --json vitb32.json
  clipx bench compare ours.json torch.json
  clipx bench search --sizes 1e3,1e5 --out search.json`,
	})
}

// benchCompareOptions are the arguments of clipx bench compare.
type benchCompareOptions struct {
	ours, reference string
}

func newBenchCompareCmd() *cobra.Command {
	o := &benchCompareOptions{}
	return &cobra.Command{
		Use:   "compare OURS.json REFERENCE.json",
		Short: "compare two bench models reports (ours against a reference, e.g. PyTorch's) point by point",
		Long: `Print the points of a 'clipx bench models' report beside a reference report (e.g. PyTorch's on
the same machine, from tools/bench/torch_bench.py), with the throughput ratio ours/reference for
every point both measured.`,
		Example: "  clipx bench compare go.json torch.json",
		Args:    exactArgs(2, "two JSON reports (ours, reference)"),
		RunE: func(_ *cobra.Command, args []string) error {
			o.ours, o.reference = args[0], args[1]
			return runBenchCompare(o)
		},
	}
}

func runBenchCompare(o *benchCompareOptions) error {
	ours, err := bench.ReadReport(o.ours)
	if err != nil {
		return err
	}
	ref, err := bench.ReadReport(o.reference)
	if err != nil {
		return err
	}
	fmt.Print(bench.CompareTable(ours, ref))
	return nil
}

// parseInts parses a comma-separated list of positive integers, which may be written as 1e6.
func parseInts(s string) ([]int, error) {
	var out []int
	for _, p := range splitList(s) {
		v, err := strconv.ParseFloat(p, 64)
		if err != nil || v < 1 || v > 1<<40 || v != math.Trunc(v) {
			return nil, fmt.Errorf("%w: %q is not a positive integer", errUsage, p)
		}
		out = append(out, int(v))
	}
	return out, nil
}

// expandModels replaces "all" in a model list by every registered architecture except the test
// configurations (tiny-vit, MobileCLIP-test-S0, ...; they can be listed after it: all,tiny-vit),
// dropping repeats.
func expandModels(names []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, n := range names {
		list := []string{n}
		if n == "all" {
			list = allModels()
		}
		for _, m := range list {
			if !seen[m] {
				seen[m] = true
				out = append(out, m)
			}
		}
	}
	return out
}

// benchModelsOptions are the flags of clipx bench models.
type benchModelsOptions struct {
	models, towers, batches, precisions, backend, layout, jsonOut string
	minTime, budget                                               time.Duration
	minIters, textLen                                             int
	full, resident, quick                                         bool
	explicit                                                      func(flag string) bool // whether a flag was set (--quick yields to it)
}

func newBenchModelsCmd() *cobra.Command {
	o := &benchModelsOptions{}
	c := &cobra.Command{
		Use:   "models [--models ViT-B/32,RN50|all] [--towers image,text] [--batches 1,8,32] [--precisions f32,bf16] [--quick] [--json FILE]",
		Short: "time the image and text towers per model, batch size and precision (random weights)",
		Long: `Time the image and text towers of registered models on random weights, per batch size and
precision: one untimed call, then timed calls until --min-time and --min-iters are both reached.
Progress goes to standard error, the table to standard output.`,
		Example: `  clipx bench models --models ViT-B/32 --batches 1,8,32
  clipx bench models --models all --quick --backend xla:cpu --json models.json`,
		Args: noArgs(""),
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.explicit = cmd.Flags().Changed
			return runBenchModels(o)
		},
	}
	f := c.Flags()
	f.StringVar(&o.models, "models", "ViT-B/32", "comma-separated registry names; 'all' stands for every registered architecture except the test configurations (tiny-*, *-test-*)")
	f.StringVar(&o.towers, "towers", "image,text", "towers to time")
	f.StringVar(&o.batches, "batches", "1,8,32", "batch sizes")
	f.StringVar(&o.precisions, "precisions", "f32", "precisions (f32, bf16, f16)")
	f.StringVar(&o.backend, "backend", "", backendUsage)
	f.DurationVar(&o.minTime, "min-time", 2*time.Second, "minimum timed duration per point")
	f.IntVar(&o.minIters, "min-iters", 3, "minimum timed calls per point")
	f.IntVar(&o.textLen, "text-length", 7, "tokens in the benchmark prompts (causal towers run the matching length bucket)")
	f.BoolVar(&o.full, "full-context", false, "run text towers on the full 77-token context")
	f.StringVar(&o.layout, "linear-layout", "", "hold Linear weights as out_in (PyTorch's) or in_out (transposed); default: chosen per backend")
	f.BoolVar(&o.resident, "resident-input", false, "time image encoding with the input already on the device (the model alone, no host-to-device copy)")
	f.DurationVar(&o.budget, "point-budget", 0, "skip a model's larger batches once a first call takes longer than this (0 = never)")
	f.BoolVar(&o.quick, "quick", false, "a quick survey: batches 1,8, --min-time 1ms, --min-iters 3, --point-budget 60s (explicit flags win)")
	f.StringVar(&o.jsonOut, "json", "", jsonUsage)
	return c
}

func runBenchModels(o *benchModelsOptions) error {
	if o.quick {
		if !o.explicit("batches") {
			o.batches = "1,8"
		}
		if !o.explicit("min-time") {
			o.minTime = time.Millisecond
		}
		if !o.explicit("point-budget") {
			o.budget = time.Minute
		}
	}
	bs, err := parseInts(o.batches)
	if err != nil {
		return err
	}
	cfg := bench.Config{Models: expandModels(splitList(o.models)), Towers: splitList(o.towers), Batches: bs,
		Precisions: splitList(o.precisions), Backend: o.backend, MinTime: o.minTime, MinIters: o.minIters,
		TextLength: o.textLen, FullContext: o.full, PointBudget: o.budget, ResidentInput: o.resident, LinearLayout: o.layout}
	cfg.Progress = func(r bench.Result) {
		fmt.Fprint(os.Stderr, bench.Table([]bench.Result{r})[len(bench.Table(nil)):])
	}
	fmt.Fprint(os.Stderr, bench.Table(nil))
	rep, err := bench.Run(cfg)
	if err != nil {
		return err
	}
	fmt.Printf("backend: %s\nmachine: %s\n", rep.Backend, rep.Machine)
	fmt.Print(bench.Table(rep.Results))
	if o.jsonOut != "" {
		b, _ := json.MarshalIndent(rep, "", "  ")
		if o.jsonOut == "-" {
			fmt.Println(string(b))
		} else if err := os.WriteFile(o.jsonOut, append(b, '\n'), 0o644); err != nil {
			return err
		}
	}
	return nil
}
