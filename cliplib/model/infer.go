package model

import (
	"fmt"
	"math"
	"regexp"
	"strconv"

	"github.com/clipkit/clipkit/cliplib/model/nn"
)

// Shapes maps internal (OpenAI / open_clip) parameter names to tensor dimensions.
type Shapes map[string][]int

var (
	visionBlockRe = regexp.MustCompile(`^visual\.transformer\.resblocks\.(\d+)\.attn\.in_proj_weight$`)
	textBlockRe   = regexp.MustCompile(`^transformer\.resblocks\.(\d+)\.attn\.in_proj_weight$`)
	resnetBlockRe = regexp.MustCompile(`^visual\.layer([1-4])\.(\d+)\.conv1\.weight$`)
)

func (s Shapes) need(name string, rank int) ([]int, error) {
	d, ok := s[name]
	if !ok {
		return nil, fmt.Errorf("cannot infer the architecture: checkpoint has no tensor %q", name)
	}
	if len(d) != rank {
		return nil, fmt.Errorf("cannot infer the architecture: tensor %q has shape %v, expected rank %d", name, d, rank)
	}
	return d, nil
}

// countBlocks returns 1 + the largest block index matched by re (group 1), or 0.
func (s Shapes) countBlocks(re *regexp.Regexp, group int) int {
	n := 0
	for name := range s {
		if m := re.FindStringSubmatch(name); m != nil {
			i, _ := strconv.Atoi(m[group])
			n = max(n, i+1)
		}
	}
	return n
}

// InferCLIP infers an OpenAI-layout CLIP architecture (ViT or ModifiedResNet image tower, CLIP
// text transformer) from tensor shapes, exactly as OpenAI's build_model does. Activations cannot
// be seen in shapes: act is used for both towers (QuickGELU for OpenAI weights).
func InferCLIP(s Shapes, act nn.Activation) (*Config, error) {
	c := &Config{Name: "inferred"}
	proj, err := s.need("text_projection", 2)
	if err != nil {
		return nil, err
	}
	c.EmbedDim = proj[1]
	tok, err := s.need("token_embedding.weight", 2)
	if err != nil {
		return nil, err
	}
	pos, err := s.need("positional_embedding", 2)
	if err != nil {
		return nil, err
	}
	lnf, err := s.need("ln_final.weight", 1)
	if err != nil {
		return nil, err
	}
	c.Text = TextConfig{Family: TextTransformer, ContextLength: pos[0], VocabSize: tok[0], Width: lnf[0],
		Heads: lnf[0] / 64, Layers: s.countBlocks(textBlockRe, 1), Causal: true, Activation: act}
	if c.Text.Heads == 0 {
		c.Text.Heads = 1
	}

	if _, isViT := s["visual.proj"]; isViT {
		conv, err := s.need("visual.conv1.weight", 4)
		if err != nil {
			return nil, err
		}
		vpos, err := s.need("visual.positional_embedding", 2)
		if err != nil {
			return nil, err
		}
		grid := int(math.Round(math.Sqrt(float64(vpos[0] - 1))))
		if grid*grid+1 != vpos[0] {
			return nil, fmt.Errorf("cannot infer the architecture: visual.positional_embedding has %d rows, not a square grid + 1", vpos[0])
		}
		width, patch := conv[0], conv[3]
		c.Vision = VisionConfig{Family: ViT, ImageSize: patch * grid, PatchSize: patch, Width: width,
			Layers: s.countBlocks(visionBlockRe, 1), Heads: max(width/64, 1), Activation: act}
	} else if _, isRN := s["visual.attnpool.positional_embedding"]; isRN {
		w, err := s.need("visual.layer1.0.conv1.weight", 4)
		if err != nil {
			return nil, err
		}
		apos, err := s.need("visual.attnpool.positional_embedding", 2)
		if err != nil {
			return nil, err
		}
		grid := int(math.Round(math.Sqrt(float64(apos[0] - 1))))
		blocks := make([]int, 4)
		for name := range s {
			if m := resnetBlockRe.FindStringSubmatch(name); m != nil {
				stage, _ := strconv.Atoi(m[1])
				i, _ := strconv.Atoi(m[2])
				blocks[stage-1] = max(blocks[stage-1], i+1)
			}
		}
		c.Vision = VisionConfig{Family: ResNet, ImageSize: grid * 32, StageBlocks: blocks, Width: w[0],
			Heads: max(w[0]*32/64, 1), Activation: nn.ReLU}
	} else {
		return nil, fmt.Errorf("cannot infer the architecture: checkpoint has neither visual.proj (ViT) nor visual.attnpool (ResNet)")
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// CheckShapes compares the sizes of a CLIP configuration (ViT or ModifiedResNet image tower, CLIP
// text transformer), typically read from a config file, with those the checkpoint's tensors
// imply (InferCLIP), before anything is allocated or built from it. The error names the first
// size that differs, as the configuration states it and as the tensors have it. Heads and
// activations cannot be seen in shapes and are not compared; other families are not checked.
func CheckShapes(c *Config, s Shapes) error {
	if (c.Vision.Family != ViT && c.Vision.Family != ResNet) || c.Text.Family != TextTransformer {
		return nil
	}
	got, err := InferCLIP(s, c.Text.Activation)
	if err != nil {
		return fmt.Errorf("the configuration cannot be checked against the checkpoint: %w", err)
	}
	type pair struct {
		what       string
		cfg, ckpt  int
		fromTensor string
	}
	pairs := []pair{
		{"embed dim", c.EmbedDim, got.EmbedDim, "text_projection"},
		{"text context length", c.Text.ContextLength, got.Text.ContextLength, "positional_embedding"},
		{"text vocab size", c.Text.VocabSize, got.Text.VocabSize, "token_embedding.weight"},
		{"text width", c.Text.Width, got.Text.Width, "ln_final.weight"},
		{"text layers", c.Text.Layers, got.Text.Layers, "transformer.resblocks.N"},
	}
	if c.Vision.Family != got.Vision.Family {
		return fmt.Errorf("the configuration describes a %s image tower but the checkpoint holds a %s one", c.Vision.Family, got.Vision.Family)
	}
	switch c.Vision.Family {
	case ViT:
		pairs = append(pairs,
			pair{"vision width", c.Vision.Width, got.Vision.Width, "visual.conv1.weight"},
			pair{"vision patch size", c.Vision.PatchSize, got.Vision.PatchSize, "visual.conv1.weight"},
			pair{"vision image size", c.Vision.ImageSize, got.Vision.ImageSize, "visual.positional_embedding"},
			pair{"vision layers", c.Vision.Layers, got.Vision.Layers, "visual.transformer.resblocks.N"})
	case ResNet:
		pairs = append(pairs,
			pair{"vision width", c.Vision.Width, got.Vision.Width, "visual.layer1.0.conv1.weight"},
			pair{"vision image size", c.Vision.ImageSize, got.Vision.ImageSize, "visual.attnpool.positional_embedding"})
		for i := range 4 {
			var want int
			if i < len(c.Vision.StageBlocks) {
				want = c.Vision.StageBlocks[i]
			}
			pairs = append(pairs, pair{fmt.Sprintf("ResNet stage %d blocks", i+1), want, got.Vision.StageBlocks[i], fmt.Sprintf("visual.layer%d.N", i+1)})
		}
	}
	for _, p := range pairs {
		if p.cfg != p.ckpt {
			return fmt.Errorf("the configuration's %s is %d but the checkpoint's tensors (%s) have %d", p.what, p.cfg, p.fromTensor, p.ckpt)
		}
	}
	return nil
}
