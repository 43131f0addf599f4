package model

import (
	"fmt"
	"regexp"
	"strconv"

	"github.com/clipkit/clipkit/cliplib/model/nn"
)

// Shapes maps internal (OpenAI / open_clip) parameter names to tensor dimensions.
type Shapes map[string][]int

var textBlockRe = regexp.MustCompile(`^transformer\.resblocks\.(\d+)\.attn\.in_proj_weight$`)

// Need returns the dimensions of tensor name, or an error (for messages that start "cannot infer
// the architecture") when the checkpoint has no such tensor or its rank is not rank.
func (s Shapes) Need(name string, rank int) ([]int, error) {
	d, ok := s[name]
	if !ok {
		return nil, fmt.Errorf("cannot infer the architecture: checkpoint has no tensor %q", name)
	}
	if len(d) != rank {
		return nil, fmt.Errorf("cannot infer the architecture: tensor %q has shape %v, expected rank %d", name, d, rank)
	}
	return d, nil
}

// CountBlocks returns 1 + the largest block index that re matches in a tensor name (submatch
// group), or 0 when no name matches.
func (s Shapes) CountBlocks(re *regexp.Regexp, group int) int {
	n := 0
	for name := range s {
		if m := re.FindStringSubmatch(name); m != nil {
			i, _ := strconv.Atoi(m[group])
			n = max(n, i+1)
		}
	}
	return n
}

// InferCLIPText infers the embedding size and the CLIP text transformer of an OpenAI-layout
// checkpoint from its tensor shapes, as OpenAI's build_model does: embed dim from
// text_projection [W, E], vocabulary from token_embedding.weight [V, W], context length from
// positional_embedding [L, W], width from ln_final.weight [W] (heads W/64, at least 1), layers
// from transformer.resblocks.N. Activations cannot be seen in shapes: act is used. The image
// tower is inferred by its family (family.InferCLIP).
func InferCLIPText(s Shapes, act nn.Activation) (embedDim int, text TextConfig, err error) {
	proj, err := s.Need("text_projection", 2)
	if err != nil {
		return 0, text, err
	}
	tok, err := s.Need("token_embedding.weight", 2)
	if err != nil {
		return 0, text, err
	}
	pos, err := s.Need("positional_embedding", 2)
	if err != nil {
		return 0, text, err
	}
	lnf, err := s.Need("ln_final.weight", 1)
	if err != nil {
		return 0, text, err
	}
	text = TextConfig{Family: TextTransformer, ContextLength: pos[0], VocabSize: tok[0], Width: lnf[0],
		Heads: max(lnf[0]/64, 1), Layers: s.CountBlocks(textBlockRe, 1), Causal: true, Activation: act}
	return proj[1], text, nil
}

// SizeCheck is one size a configuration states and a checkpoint's tensors imply.
type SizeCheck struct {
	What       string // "embed dim", "vision width", ...
	Config     int    // as the configuration states it
	Checkpoint int    // as the tensors have it
	FromTensor string // the tensor(s) it is read from
}

// CLIPTextSizes lists the sizes of the embedding and of the CLIP text transformer that a
// configuration c and the configuration got inferred from a checkpoint must agree on.
func CLIPTextSizes(c, got *Config) []SizeCheck {
	return []SizeCheck{
		{"embed dim", c.EmbedDim, got.EmbedDim, "text_projection"},
		{"text context length", c.Text.ContextLength, got.Text.ContextLength, "positional_embedding"},
		{"text vocab size", c.Text.VocabSize, got.Text.VocabSize, "token_embedding.weight"},
		{"text width", c.Text.Width, got.Text.Width, "ln_final.weight"},
		{"text layers", c.Text.Layers, got.Text.Layers, "transformer.resblocks.N"},
	}
}

// FirstMismatch returns an error naming the first check whose two sizes differ, or nil.
func FirstMismatch(checks []SizeCheck) error {
	for _, p := range checks {
		if p.Config != p.Checkpoint {
			return fmt.Errorf("the configuration's %s is %d but the checkpoint's tensors (%s) have %d", p.What, p.Config, p.FromTensor, p.Checkpoint)
		}
	}
	return nil
}
