package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/clipkit/clipkit/cliplib/bench"
)

func init() {
	register("bench", "benchmark encoding (bench models) or vector search (bench search); JSON out", runBench)
}

// benchSubcommands are the `clipx bench` sub-commands; other files add theirs.
var benchSubcommands = map[string]func(args []string) error{"models": runBenchModels, "compare": runBenchCompare}

func runBenchCompare(args []string) error {
	fs := newFlagSet("bench compare", "OURS.json REFERENCE.json")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 2 {
		return fmt.Errorf("%w: want two JSON reports (ours, reference)", errUsage)
	}
	ours, err := bench.ReadReport(fs.Arg(0))
	if err != nil {
		return err
	}
	ref, err := bench.ReadReport(fs.Arg(1))
	if err != nil {
		return err
	}
	fmt.Print(bench.CompareTable(ours, ref))
	return nil
}

func runBench(args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintln(os.Stderr, "usage: clipx bench models|compare|load|precision|batching|bucketing|zeroshot|search|worker [flags]   (clipx bench <sub> -h for flags)")
		if len(args) == 0 {
			return fmt.Errorf("%w: missing sub-command", errUsage)
		}
		return errHelp
	}
	sub, ok := benchSubcommands[args[0]]
	if !ok {
		names := make([]string, 0, len(benchSubcommands))
		for n := range benchSubcommands {
			names = append(names, n)
		}
		sort.Strings(names)
		return fmt.Errorf("%w: unknown bench sub-command %q (want one of %s)", errUsage, args[0], strings.Join(names, ", "))
	}
	return sub(args[1:])
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

func runBenchModels(args []string) error {
	fs := newFlagSet("bench models", "[--models ViT-B/32,RN50|all] [--towers image,text] [--batches 1,8,32] [--precisions f32,bf16] [--quick] [--json FILE]")
	models := fs.String("models", "ViT-B/32", "comma-separated registry names; 'all' stands for every registered architecture except the test configurations (tiny-*, *-test-*)")
	towers := fs.String("towers", "image,text", "towers to time")
	batches := fs.String("batches", "1,8,32", "batch sizes")
	precisions := fs.String("precisions", "f32", "precisions (f32, bf16, f16)")
	backendCfg := fs.String("backend", "", "GoMLX backend (default $GOMLX_BACKEND, else the fastest installed: xla:cuda, xla:cpu, go)")
	minTime := fs.Duration("min-time", 2*time.Second, "minimum timed duration per point")
	minIters := fs.Int("min-iters", 3, "minimum timed calls per point")
	textLen := fs.Int("text-length", 7, "tokens in the benchmark prompts (causal towers run the matching length bucket)")
	full := fs.Bool("full-context", false, "run text towers on the full 77-token context")
	layout := fs.String("linear-layout", "", "hold Linear weights as out_in (PyTorch's) or in_out (transposed); default: chosen per backend")
	resident := fs.Bool("resident-input", false, "time image encoding with the input already on the device (the model alone, no host-to-device copy)")
	budget := fs.Duration("point-budget", 0, "skip a model's larger batches once a first call takes longer than this (0 = never)")
	quick := fs.Bool("quick", false, "a quick survey: batches 1,8, --min-time 1ms, --min-iters 3, --point-budget 60s (explicit flags win)")
	jsonOut := fs.String("json", "", "write the report as JSON to this file ('-' for stdout)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *quick {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		if !set["batches"] {
			*batches = "1,8"
		}
		if !set["min-time"] {
			*minTime = time.Millisecond
		}
		if !set["point-budget"] {
			*budget = time.Minute
		}
	}
	bs, err := parseInts(*batches)
	if err != nil {
		return err
	}
	cfg := bench.Config{Models: expandModels(splitList(*models)), Towers: splitList(*towers), Batches: bs,
		Precisions: splitList(*precisions), Backend: *backendCfg, MinTime: *minTime, MinIters: *minIters,
		TextLength: *textLen, FullContext: *full, PointBudget: *budget, ResidentInput: *resident, LinearLayout: *layout}
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
	if *jsonOut != "" {
		b, _ := json.MarshalIndent(rep, "", "  ")
		if *jsonOut == "-" {
			fmt.Println(string(b))
		} else if err := os.WriteFile(*jsonOut, append(b, '\n'), 0o644); err != nil {
			return err
		}
	}
	return nil
}
