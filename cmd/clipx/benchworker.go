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
