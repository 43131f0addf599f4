package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"

	"github.com/clipkit/clipkit/cliplib"
	"github.com/clipkit/clipkit/cliplib/backend"
	"github.com/spf13/cobra"
)

func init() {
	addCommand("", newEmbedCmd)
}

// modelFlags are the flags every model-loading command shares.
type modelFlags struct {
	backend, precision, arch *string
	offline, random          *bool
}

func addModelFlags(fs interface {
	String(name, value, usage string) *string
	Bool(name string, value bool, usage string) *bool
}) modelFlags {
	return modelFlags{
		backend:   fs.String("backend", "", "GoMLX backend: go (simplego), xla:cpu, xla:cuda, xla:/path/plugin.so (default $GOMLX_BACKEND, else the fastest installed: xla:cuda, xla:cpu, go)"),
		precision: fs.String("precision", "f32", "f32, bf16 or f16 (f16 needs an XLA backend)"),
		arch:      fs.String("arch", "", "architecture of a checkpoint without a config file (e.g. ViT-B/32, RN50); default: inferred from shapes"),
		offline:   fs.Bool("offline", false, "never touch the network; weights must be cached"),
		random:    fs.Bool("random-weights", false, "use deterministic random weights (timing and smoke tests; results are meaningless)"),
	}
}

func (f modelFlags) options() cliplib.Options {
	return cliplib.Options{Backend: *f.backend, Precision: *f.precision, Arch: *f.arch, Offline: *f.offline,
		RandomWeights: *f.random}
}

// embedOptions are the flags of clipx embed.
type embedOptions struct {
	weights       string
	images, texts []string
	model         modelFlags
}

func newEmbedCmd() *cobra.Command {
	o := &embedOptions{}
	c := &cobra.Command{
		Use:   "embed --weights PATH|NAME [--arch NAME] [--image FILE]... [--text STRING]...",
		Short: "encode images and texts with a checkpoint, print normalised embeddings as JSON",
		Long: `Encode images and texts with a checkpoint and print one JSON object on standard output:
{"image_embeddings": [[...]], "text_embeddings": [[...]], "logit_scale": S}, the embeddings
L2-normalised, in the order given. The model, backend and precision are reported on standard error.`,
		Example: `  clipx embed --weights ViT-B/32 --image cat.jpg --text "a photo of a cat"
  clipx embed --weights open_clip_model.safetensors --arch ViT-B/32 --backend go --text "a dog"`,
		Args: noArgs(""),
		RunE: func(*cobra.Command, []string) error { return runEmbed(o) },
	}
	f := c.Flags()
	f.StringVar(&o.weights, "weights", "", "checkpoint file, model directory (HF or OpenCLIP layout), or registry name")
	stringsVar(f, &o.images, "image", "image file to encode (repeatable)")
	stringsVar(f, &o.texts, "text", "text to encode (repeatable)")
	o.model = addModelFlags(f)
	return c
}

func runEmbed(o *embedOptions) error {
	if o.weights == "" {
		return fmt.Errorf("%w: --weights is required", errUsage)
	}
	images, texts := o.images, o.texts
	// As clipx tokenize does: text must be UTF-8.
	for i, s := range texts {
		if !utf8Valid(s) {
			return fmt.Errorf("%w: --text %d (%.40q) is not valid UTF-8", errUsage, i+1, s)
		}
	}
	m, err := cliplib.Load(o.weights, o.model.options())
	if err != nil {
		return err
	}
	defer m.Close()
	out := struct {
		ImageEmbeddings [][]float32 `json:"image_embeddings"`
		TextEmbeddings  [][]float32 `json:"text_embeddings"`
		LogitScale      float32     `json:"logit_scale"`
	}{ImageEmbeddings: [][]float32{}, TextEmbeddings: [][]float32{}, LogitScale: m.LogitScale()}
	if len(images) > 0 {
		if out.ImageEmbeddings, err = m.EncodeImageFiles(images...); err != nil {
			return err
		}
	}
	if len(texts) > 0 {
		if out.TextEmbeddings, err = m.EncodeTexts(texts); err != nil {
			return err
		}
	}
	fmt.Fprintf(os.Stderr, "clipx embed: %s on %s, %s\n", m.Label(), backend.DescribeChoice(m.Encoder().Backend(), m.Encoder().BackendChoice()), m.Encoder().Precision())
	if m.RandomWeights() {
		fmt.Fprintf(os.Stderr, "clipx embed: WARNING: %s runs on RANDOM WEIGHTS (%s)\n", m.Name, m.Source.Reason)
	}
	for _, rows := range []struct {
		what  string
		names []string
		vecs  [][]float32
	}{{"image", images, out.ImageEmbeddings}, {"text", texts, out.TextEmbeddings}} {
		for i, v := range rows.vecs {
			if j := firstNonFinite(v); j >= 0 {
				return fmt.Errorf("the embedding of %s %q has the non-finite value %v at %d: the model (%s) computes NaN or infinity",
					rows.what, rows.names[i], v[j], j, m.Label())
			}
		}
	}
	enc := json.NewEncoder(os.Stdout)
	return enc.Encode(out)
}

// firstNonFinite returns the index of v's first NaN or infinity, or -1.
func firstNonFinite(v []float32) int {
	for i, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return i
		}
	}
	return -1
}
