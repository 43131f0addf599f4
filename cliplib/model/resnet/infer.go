package resnet

import (
	"fmt"
	"math"
	"regexp"
	"strconv"

	"github.com/clipkit/clipkit/cliplib/model"
	"github.com/clipkit/clipkit/cliplib/model/family"
	"github.com/clipkit/clipkit/cliplib/model/nn"
)

var blockRe = regexp.MustCompile(`^visual\.layer([1-4])\.(\d+)\.conv1\.weight$`)

// inference recognises a CLIP ModifiedResNet image tower by
// visual.attnpool.positional_embedding and infers it as OpenAI's build_model does: stem width w
// from visual.layer1.0.conv1.weight [w, ...], image size 32·G from the square grid of
// visual.attnpool.positional_embedding [G·G+1, 32·w], blocks per stage from
// visual.layer{1..4}.N, heads w·32/64 (at least 1), always ReLU (act is not used).
var inference = &family.Inference{
	Marker: "visual.attnpool.positional_embedding",
	Vision: func(s model.Shapes, _ nn.Activation) (model.VisionConfig, error) {
		w, err := s.Need("visual.layer1.0.conv1.weight", 4)
		if err != nil {
			return model.VisionConfig{}, err
		}
		apos, err := s.Need("visual.attnpool.positional_embedding", 2)
		if err != nil {
			return model.VisionConfig{}, err
		}
		grid := int(math.Round(math.Sqrt(float64(apos[0] - 1))))
		blocks := make([]int, 4)
		for name := range s {
			if m := blockRe.FindStringSubmatch(name); m != nil {
				stage, _ := strconv.Atoi(m[1])
				i, _ := strconv.Atoi(m[2])
				blocks[stage-1] = max(blocks[stage-1], i+1)
			}
		}
		return model.VisionConfig{Family: model.ResNet, ImageSize: grid * 32, StageBlocks: blocks, Width: w[0],
			Heads: max(w[0]*32/64, 1), Activation: nn.ReLU}, nil
	},
	Sizes: func(cfg, got *model.VisionConfig) []model.SizeCheck {
		checks := []model.SizeCheck{
			{What: "vision width", Config: cfg.Width, Checkpoint: got.Width, FromTensor: "visual.layer1.0.conv1.weight"},
			{What: "vision image size", Config: cfg.ImageSize, Checkpoint: got.ImageSize, FromTensor: "visual.attnpool.positional_embedding"},
		}
		for i := range 4 {
			var want int
			if i < len(cfg.StageBlocks) {
				want = cfg.StageBlocks[i]
			}
			checks = append(checks, model.SizeCheck{What: fmt.Sprintf("ResNet stage %d blocks", i+1), Config: want,
				Checkpoint: got.StageBlocks[i], FromTensor: fmt.Sprintf("visual.layer%d.N", i+1)})
		}
		return checks
	},
}
