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
