package main

import (
	"fmt"
	"os"

	"github.com/clipkit/clipkit/cliplib/bench"
)

func init() { benchSubcommands["worker"] = runBenchWorker }

// runBenchWorker serves the interleaved-benchmark protocol (bench.ServeWorker) on stdin/stdout:
// tools/bench/torch_bench.py --interleave-with "clipx bench worker" alternates its PyTorch calls
// with ours, point by point (scripts/bench-cpu.sh).
func runBenchWorker(args []string) error {
	fs := newFlagSet("bench worker", "  (reads JSON requests on stdin, one per line; see tools/bench/torch_bench.py)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return fmt.Errorf("%w: bench worker takes no arguments", errUsage)
	}
	return bench.ServeWorker(os.Stdin, os.Stdout)
}

func init() { benchSubcommands["load"] = runBenchLoad }

// runBenchLoad times the way from a checkpoint to the first text embedding, phase by phase.
func runBenchLoad(args []string) error {
	fs := newFlagSet("bench load", "--weights PATH|NAME [--arch NAME] [--prompt TEXT] [--json FILE]")
	weights := fs.String("weights", "ViT-B/32", "checkpoint file, model directory, or registry name")
	prompt := fs.String("prompt", "a photo of a cat", "the text to embed")
	jsonOut := fs.String("json", "", "write the report as JSON to this file ('-' for stdout)")
	mf := addModelFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return fmt.Errorf("%w: unexpected arguments %q", errUsage, fs.Args())
	}
	rep, err := bench.TimeLoad(*weights, mf.options(), *prompt)
	if err != nil {
		return err
	}
	fmt.Fprint(os.Stderr, rep.String())
	if *jsonOut != "" {
		return writeJSON(*jsonOut, rep)
	}
	return nil
}
