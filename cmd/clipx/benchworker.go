package main

import (
	"fmt"
	"os"

	"github.com/clipkit/clipkit/cliplib/bench"
	"github.com/spf13/cobra"
)

func init() {
	addCommand("bench", newBenchWorkerCmd)
	addCommand("bench", newBenchLoadCmd)
}

func newBenchWorkerCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "worker",
		Short: "serve the interleaved-benchmark protocol: JSON requests on stdin, one per line",
		Long: `Serve the interleaved-benchmark protocol (bench.ServeWorker) on standard input and output:
tools/bench/torch_bench.py --interleave-with "clipx bench worker" alternates its PyTorch calls with
ours, point by point (tools/bench/bench-cpu.sh).`,
		Example: `  python tools/bench/torch_bench.py --interleave-with "build/clipx bench worker"`,
		Args:    noArgs(" (bench worker reads its requests on stdin)"),
		RunE:    func(*cobra.Command, []string) error { return runBenchWorker() },
	}
}

func runBenchWorker() error {
	return bench.ServeWorker(os.Stdin, os.Stdout)
}

// benchLoadOptions are the flags of clipx bench load.
type benchLoadOptions struct {
	weights, prompt, jsonOut string
	model                    modelFlags
}

func newBenchLoadCmd() *cobra.Command {
	o := &benchLoadOptions{}
	c := &cobra.Command{
		Use:   "load --weights PATH|NAME [--arch NAME] [--prompt TEXT] [--json FILE]",
		Short: "time the way from a checkpoint to the first text embedding, phase by phase",
		Long: `Time the way from a checkpoint to the first text embedding, phase by phase (checkpoint read,
weights placed, text graph compiled, first embedding; then the weight hash and a second embedding).
The phases go to standard error, and as JSON to --json.`,
		Example: "  clipx bench load --weights open_clip_model.safetensors --arch ViT-B/32 --json load.json",
		Args:    noArgs(""),
		RunE:    func(*cobra.Command, []string) error { return runBenchLoad(o) },
	}
	f := c.Flags()
	f.StringVar(&o.weights, "weights", "ViT-B/32", "checkpoint file, model directory, or registry name")
	f.StringVar(&o.prompt, "prompt", "a photo of a cat", "the text to embed")
	f.StringVar(&o.jsonOut, "json", "", jsonUsage)
	o.model = addModelFlags(f)
	return c
}

// runBenchLoad times the way from a checkpoint to the first text embedding, phase by phase.
func runBenchLoad(o *benchLoadOptions) error {
	rep, err := bench.TimeLoad(o.weights, o.model.options(), o.prompt)
	if err != nil {
		return err
	}
	fmt.Fprint(os.Stderr, rep.String())
	if o.jsonOut != "" {
		return writeJSON(o.jsonOut, rep)
	}
	return nil
}
