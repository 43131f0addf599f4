package resnet

import (
	"strings"

	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/clipkit/clipkit/cliplib/checkpoint"
	"github.com/clipkit/clipkit/cliplib/model"
	"github.com/clipkit/clipkit/cliplib/model/family"
	"github.com/clipkit/clipkit/cliplib/model/nn"
	"github.com/clipkit/clipkit/weights"
)

// The ResNet family: CLIP's ModifiedResNet image tower under "visual.*" (always ReLU), with its
// BatchNorms folded into the convolutions at load time and OpenAI's preprocessing, OpenAI's
// ResNet architectures (RN50, ...) and the inference of a ModifiedResNet image tower from
// OpenAI-layout tensor shapes.
func init() {
	family.Register(family.Family{
		Name:          "ResNet",
		Architectures: architectures(),
		ImageTowers: map[model.VisionFamily]family.ImageTower{
			model.ResNet: {
				Build: func(ctx *context.Context, cfg *model.Config, pixels *Node) *Node {
					return Encode(ctx.In("visual"), cfg.Vision, pixels)
				},
				Shapes: func(cfg *model.Config) nn.Shapes {
					return ParamShapes(cfg.Vision, cfg.EmbedDim, cfg.Vision.BatchNormFolded)
				},
				Activation: nn.ReLU,
				// Every convolution of the tower is an nn.Conv2dNHWC.
				ConvKernel: func(name string, dims []int) bool {
					return len(dims) == 4 && strings.HasPrefix(name, "visual.") && strings.HasSuffix(name, ".weight")
				},
			},
		},
		Transform:  foldTransform,
		Preprocess: map[string]model.Preprocess{weights.PreprocessOpenAI: model.OpenAIPreprocess},
		Infer:      inference,
	})
}

// clip returns an OpenAI CLIP ModifiedResNet architecture: image size res, blocks per stage, stem
// width (heads: width·32/64), embedding size embed and a QuickGELU CLIP text tower of width
// textWidth. Test configurations (res < 224) get a 2-layer text tower.
func clip(name string, res int, blocks []int, width, embed, textWidth int) *model.Config {
	c := &model.Config{Name: name, EmbedDim: embed,
		Vision: model.VisionConfig{Family: model.ResNet, ImageSize: res, StageBlocks: blocks, Width: width,
			Heads: width * 32 / 64, Activation: nn.ReLU},
		Text: model.CLIPText(textWidth, textWidth/64, nn.QuickGELU)}
	if res < 224 { // test configuration: shallow text tower too
		c.Text.Layers = 2
	}
	return c
}

// architectures returns OpenAI's CLIP ResNet architectures (values: the CLIP paper's model
// tables and open_clip's model_configs/*.json, which agree) and the small "tiny-rn" used by
// tests, smoke mode and fixtures.
func architectures() []*model.Config {
	return []*model.Config{
		clip("RN50", 224, []int{3, 4, 6, 3}, 64, 1024, 512),
		clip("RN101", 224, []int{3, 4, 23, 3}, 64, 512, 512),
		clip("RN50x4", 288, []int{4, 6, 10, 6}, 80, 640, 640),
		clip("RN50x16", 384, []int{6, 8, 18, 8}, 96, 768, 768),
		clip("RN50x64", 448, []int{3, 15, 36, 10}, 128, 1024, 1024),
		clip("tiny-rn", 64, []int{1, 2, 1, 1}, 16, 64, 128),
	}
}

// foldTransform folds the BatchNorms of a ResNet image tower (FoldBatchNorm) and records it in
// cfg.Vision.BatchNormFolded.
func foldTransform(cfg *model.Config, sd checkpoint.StateDict) (checkpoint.StateDict, error) {
	if cfg.Vision.Family != model.ResNet {
		return sd, nil
	}
	sd, err := FoldBatchNorm(sd)
	if err != nil {
		return nil, err
	}
	cfg.Vision.BatchNormFolded = true
	return sd, nil
}
