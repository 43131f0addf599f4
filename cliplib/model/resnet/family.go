package resnet

import (
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/clipkit/clipkit/cliplib/checkpoint"
	"github.com/clipkit/clipkit/cliplib/model"
	"github.com/clipkit/clipkit/cliplib/model/family"
	"github.com/clipkit/clipkit/cliplib/model/nn"
	"github.com/clipkit/clipkit/weights"
)

// The ResNet family: CLIP's ModifiedResNet image tower under "visual.*" (always ReLU), with its
// BatchNorms folded into the convolutions at load time and OpenAI's preprocessing. Its
// architectures (RN50, ...) are in the model package's built-in OpenAI CLIP table.
func init() {
	family.Register(family.Family{
		Name: "ResNet",
		ImageTowers: map[model.VisionFamily]family.ImageTower{
			model.ResNet: {
				Build: func(ctx *context.Context, cfg *model.Config, pixels *Node) *Node {
					return Encode(ctx.In("visual"), cfg.Vision, pixels)
				},
				Shapes: func(cfg *model.Config) nn.Shapes {
					return ParamShapes(cfg.Vision, cfg.EmbedDim, cfg.Vision.BatchNormFolded)
				},
				Activation: nn.ReLU,
			},
		},
		Transform:  foldTransform,
		Preprocess: map[string]model.Preprocess{weights.PreprocessOpenAI: model.OpenAIPreprocess},
	})
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
