package vit

import (
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/clipkit/clipkit/cliplib/model"
	"github.com/clipkit/clipkit/cliplib/model/family"
	"github.com/clipkit/clipkit/cliplib/model/nn"
	"github.com/clipkit/clipkit/weights"
)

// The ViT family: CLIP's vision transformer image tower under "visual.*", with OpenAI's
// preprocessing. Its architectures (ViT-B/32, ...) are the model package's built-in OpenAI CLIP
// table, which model.InferCLIP and model.ReadConfigFile are checked against.
func init() {
	family.Register(family.Family{
		Name: "ViT",
		ImageTowers: map[model.VisionFamily]family.ImageTower{
			model.ViT: {
				Build: func(ctx *context.Context, cfg *model.Config, pixels *Node) *Node {
					return Encode(ctx.In("visual"), cfg.Vision, pixels)
				},
				Shapes: func(cfg *model.Config) nn.Shapes { return ParamShapes(cfg.Vision, cfg.EmbedDim) },
			},
		},
		Preprocess: map[string]model.Preprocess{weights.PreprocessOpenAI: model.OpenAIPreprocess},
	})
}
