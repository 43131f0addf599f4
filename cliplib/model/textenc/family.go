package textenc

import (
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/clipkit/clipkit/cliplib/model"
	"github.com/clipkit/clipkit/cliplib/model/family"
	"github.com/clipkit/clipkit/cliplib/model/nn"
)

// The text-transformer family: CLIP's text tower, at the model root for OpenAI-style CLIP and
// under "text." for open_clip's CustomTextCLIP (cfg.CustomText: MobileCLIP's "base" towers).
func init() {
	family.Register(family.Family{
		Name: "text transformer",
		TextTowers: map[model.TextFamily]family.TextTower{
			model.TextTransformer: {
				Build: func(ctx *context.Context, cfg *model.Config, ids *Node, dtype dtypes.DType) *Node {
					if cfg.CustomText {
						ctx = ctx.In("text")
					}
					return Encode(ctx, cfg.Text, ids, dtype)
				},
				Shapes: func(cfg *model.Config) nn.Shapes {
					prefix := ""
					if cfg.CustomText {
						prefix = "text."
					}
					return ParamShapes(cfg.Text, cfg.EmbedDim, prefix)
				},
			},
		},
	})
}
