package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
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
		fmt.Fprintln(os.Stderr, "usage: clipx bench models|compare|search [flags]   (clipx bench <sub> -h for flags)")
		if len(args) == 0 {
			return fmt.Errorf("%w: missing sub-command", errUsage)
		}
		return errHelp
	}
	sub, ok := benchSubcommands[args[0]]
	if !ok {
		return fmt.Errorf("%w: unknown bench sub-command %q (want models or search)", errUsage, args[0])
	}
	return sub(args[1:])
}

func parseInts(s string) ([]int, error) {
	var out []int
	for _, p := range splitList(s) {
		v, err := strconv.Atoi(p)
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("%w: %q is not a positive integer", errUsage, p)
		}
		out = append(out, v)
	}
	return out, nil
}

func runBenchModels(args []string) error {
	fs := newFlagSet("bench models", "[--models ViT-B/32,RN50] [--towers image,text] [--batches 1,8,32] [--precisions f32,bf16] [--json FILE]")
	models := fs.String("models", "ViT-B/32", "comma-separated registry names, or 'all' for every registered architecture")
	towers := fs.String("towers", "image,text", "towers to time")
	batches := fs.String("batches", "1,8,32", "batch sizes")
	precisions := fs.String("precisions", "f32", "precisions (f32, bf16, f16)")
	backendCfg := fs.String("backend", "", "GoMLX backend (default $GOMLX_BACKEND or go)")
	minTime := fs.Duration("min-time", 2*time.Second, "minimum timed duration per point")
	minIters := fs.Int("min-iters", 3, "minimum timed calls per point")
	textLen := fs.Int("text-length", 7, "tokens in the benchmark prompts (causal towers run the matching length bucket)")
	full := fs.Bool("full-context", false, "run text towers on the full 77-token context")
	jsonOut := fs.String("json", "", "write the report as JSON to this file ('-' for stdout)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	bs, err := parseInts(*batches)
	if err != nil {
		return err
	}
	cfg := bench.Config{Models: splitList(*models), Towers: splitList(*towers), Batches: bs,
		Precisions: splitList(*precisions), Backend: *backendCfg, MinTime: *minTime, MinIters: *minIters,
		TextLength: *textLen, FullContext: *full}
	if len(cfg.Models) == 1 && cfg.Models[0] == "all" {
		cfg.Models = allModels()
	}
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
