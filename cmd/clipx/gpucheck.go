package main

import (
	"fmt"
	"os"

	"github.com/clipkit/clipkit/cliplib/bench"
	"github.com/spf13/cobra"
)

func init() {
	addCommand("", newParityCmd)
	addCommand("parity", func() *cobra.Command { return newParityModeCmd("write") })
	addCommand("parity", func() *cobra.Command { return newParityModeCmd("compare") })
}

func newParityCmd() *cobra.Command {
	return newGroup(&cobra.Command{
		Use:   "parity write|compare [flags]",
		Short: "cross-backend parity: write reference embeddings on one backend, compare another against them",
		Long: `Cross-backend parity: 'parity write' computes embeddings of the models on random weights (fixed
seed) on one backend and writes them as the reference; 'parity compare' computes them on another
backend (and precisions) and prints a table of the differences, failing when a model is off.
scripts/gpu-check.sh runs both.`,
		Example: `  GOMLX_BACKEND=xla:cpu clipx parity write --models ViT-B/32,RN50 --file ref.json
  GOMLX_BACKEND=xla:cuda clipx parity compare --models ViT-B/32,RN50 --precisions f32,f16 --file ref.json`,
	})
}

// parityOptions are the flags of clipx parity write and parity compare.
type parityOptions struct {
	file, models, precisions, backend string
}

func newParityModeCmd(mode string) *cobra.Command {
	o := &parityOptions{}
	c := &cobra.Command{
		Use:   mode + " --file F [--models ViT-B/32,RN50] [--precisions f32,f16] [--backend B]",
		Short: "compare embeddings on this backend against the reference file",
		Long: `Compute the models' embeddings (random weights, fixed seed) at each of --precisions on this
backend and print a table of their differences from the reference --file; it fails when a model
is off or none could be computed.`,
		Example: "  clipx parity compare --backend xla:cuda --precisions f32,f16 --file testdata/gpu/cpu_reference.json",
		Args:    noArgs(""),
		RunE: func(*cobra.Command, []string) error {
			if mode == "write" {
				return runParityWrite(o)
			}
			return runParityCompare(o)
		},
	}
	if mode == "write" {
		c.Short = "write the models' f32 embeddings on this backend as the reference file"
		c.Long = `Compute the models' embeddings (random weights, fixed seed) at f32 on this backend and write them
to --file, the reference that 'clipx parity compare' checks other backends against.`
		c.Example = "  GOMLX_BACKEND=xla:cpu clipx parity write --file testdata/gpu/cpu_reference.json"
	}
	f := c.Flags()
	f.StringVar(&o.file, "file", "testdata/gpu/cpu_reference.json", "reference embeddings file")
	f.StringVar(&o.models, "models", "ViT-B/32,RN50", "models (random weights, fixed seed)")
	f.StringVar(&o.precisions, "precisions", "f32", "precisions to compute (compare only; the reference is f32)")
	f.StringVar(&o.backend, "backend", "", backendUsage)
	return c
}

func runParityWrite(o *parityOptions) error {
	var es []*bench.Embeddings
	for _, m := range splitList(o.models) {
		e, err := bench.ParityEmbeddings(m, o.backend, "f32")
		if err != nil {
			return err
		}
		es = append(es, e)
	}
	return bench.WriteEmbeddings(o.file, es)
}

func runParityCompare(o *parityOptions) error {
	ref, err := bench.ReadEmbeddings(o.file)
	if err != nil {
		return err
	}
	var got []*bench.Embeddings
	for _, m := range splitList(o.models) {
		for _, p := range splitList(o.precisions) {
			e, err := bench.ParityEmbeddings(m, o.backend, p)
			if err != nil {
				fmt.Fprintf(os.Stderr, "clipx parity: %s %s: %v\n", m, p, err)
				continue
			}
			got = append(got, e)
		}
	}
	table, ok := bench.ParityTable(ref, got)
	fmt.Print(table)
	if !ok || len(got) == 0 {
		return fmt.Errorf("parity check failed")
	}
	return nil
}
