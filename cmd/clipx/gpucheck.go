package main

import (
	"fmt"
	"os"

	"github.com/clipkit/clipkit/cliplib/bench"
)

func init() {
	register("parity", "cross-backend parity: write reference embeddings on one backend, compare another against them", runParity)
}

func runParity(args []string) error {
	fs := newFlagSet("parity", "write|compare --file F [--models ViT-B/32,RN50] [--precisions f32,f16] [--backend B]")
	file := fs.String("file", "testdata/gpu/cpu_reference.json", "reference embeddings file")
	models := fs.String("models", "ViT-B/32,RN50", "models (random weights, fixed seed)")
	precisions := fs.String("precisions", "f32", "precisions to compute (compare only; the reference is f32)")
	backendCfg := fs.String("backend", "", "GoMLX backend (default $GOMLX_BACKEND, else the fastest installed: xla:cuda, xla:cpu, go)")
	if len(args) == 0 {
		return fmt.Errorf("%w: want write or compare", errUsage)
	}
	mode := args[0]
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	switch mode {
	case "write":
		var es []*bench.Embeddings
		for _, m := range splitList(*models) {
			e, err := bench.ParityEmbeddings(m, *backendCfg, "f32")
			if err != nil {
				return err
			}
			es = append(es, e)
		}
		return bench.WriteEmbeddings(*file, es)
	case "compare":
		ref, err := bench.ReadEmbeddings(*file)
		if err != nil {
			return err
		}
		var got []*bench.Embeddings
		for _, m := range splitList(*models) {
			for _, p := range splitList(*precisions) {
				e, err := bench.ParityEmbeddings(m, *backendCfg, p)
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
	return fmt.Errorf("%w: unknown mode %q (want write or compare)", errUsage, mode)
}
