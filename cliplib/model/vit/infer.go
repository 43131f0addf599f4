package vit

import (
	"fmt"
	"math"
	"regexp"

	"github.com/clipkit/clipkit/cliplib/model"
	"github.com/clipkit/clipkit/cliplib/model/family"
	"github.com/clipkit/clipkit/cliplib/model/nn"
)

var blockRe = regexp.MustCompile(`^visual\.transformer\.resblocks\.(\d+)\.attn\.in_proj_weight$`)

// inference recognises a CLIP ViT image tower by visual.proj and infers it as OpenAI's
// build_model does: width and patch size from visual.conv1.weight [W, 3, P, P], image size from
// the square grid of visual.positional_embedding [G·G+1, W], layers from
// visual.transformer.resblocks.N, heads W/64 (at least 1).
var inference = &family.Inference{
	Marker: "visual.proj",
	Vision: func(s model.Shapes, act nn.Activation) (model.VisionConfig, error) {
		conv, err := s.Need("visual.conv1.weight", 4)
		if err != nil {
			return model.VisionConfig{}, err
		}
		vpos, err := s.Need("visual.positional_embedding", 2)
		if err != nil {
			return model.VisionConfig{}, err
		}
		grid := int(math.Round(math.Sqrt(float64(vpos[0] - 1))))
		if grid*grid+1 != vpos[0] {
			return model.VisionConfig{}, fmt.Errorf("cannot infer the architecture: visual.positional_embedding has %d rows, not a square grid + 1", vpos[0])
		}
		width, patch := conv[0], conv[3]
		return model.VisionConfig{Family: model.ViT, ImageSize: patch * grid, PatchSize: patch, Width: width,
			Layers: s.CountBlocks(blockRe, 1), Heads: max(width/64, 1), Activation: act}, nil
	},
	Sizes: func(cfg, got *model.VisionConfig) []model.SizeCheck {
		return []model.SizeCheck{
			{What: "vision width", Config: cfg.Width, Checkpoint: got.Width, FromTensor: "visual.conv1.weight"},
			{What: "vision patch size", Config: cfg.PatchSize, Checkpoint: got.PatchSize, FromTensor: "visual.conv1.weight"},
			{What: "vision image size", Config: cfg.ImageSize, Checkpoint: got.ImageSize, FromTensor: "visual.positional_embedding"},
			{What: "vision layers", Config: cfg.Layers, Checkpoint: got.Layers, FromTensor: "visual.transformer.resblocks.N"},
		}
	},
}
