package encoder

import (
	"fmt"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/clipkit/clipkit/cliplib/model"
	"github.com/clipkit/clipkit/cliplib/model/nn"
	"github.com/clipkit/clipkit/cliplib/model/resnet"
	"github.com/clipkit/clipkit/cliplib/model/textenc"
	"github.com/clipkit/clipkit/cliplib/model/vit"
)

// ImageTower is how the encoder builds one family of image towers.
type ImageTower struct {
	// Build returns the unnormalised image features [B, E] for pixels [B, 3, R, R] in the
	// compute dtype. ctx is at the model root.
	Build func(ctx *context.Context, cfg *model.Config, pixels *Node) *Node
	// Shapes lists the parameters Build reads (full internal names) and their shapes.
	Shapes func(cfg *model.Config) nn.Shapes
}

// TextTower is how the encoder builds one family of text towers.
type TextTower struct {
	// Build returns the unnormalised text features [B, E] for token ids [B, L] (int32).
	Build func(ctx *context.Context, cfg *model.Config, ids *Node, dtype dtypes.DType) *Node
	// Shapes lists the parameters Build reads (full internal names) and their shapes.
	Shapes func(cfg *model.Config) nn.Shapes
}

// imageTowers and textTowers map each family to its builder. Families register here.
var (
	imageTowers = map[model.VisionFamily]ImageTower{
		model.ViT: {
			Build: func(ctx *context.Context, cfg *model.Config, pixels *Node) *Node {
				return vit.Encode(ctx.In("visual"), cfg.Vision, pixels)
			},
			Shapes: func(cfg *model.Config) nn.Shapes { return vit.ParamShapes(cfg.Vision, cfg.EmbedDim) },
		},
		model.ResNet: {
			Build: func(ctx *context.Context, cfg *model.Config, pixels *Node) *Node {
				return resnet.Encode(ctx.In("visual"), cfg.Vision, pixels)
			},
			Shapes: func(cfg *model.Config) nn.Shapes {
				return resnet.ParamShapes(cfg.Vision, cfg.EmbedDim, cfg.Vision.BatchNormFolded)
			},
		},
	}
	textTowers = map[model.TextFamily]TextTower{
		model.TextTransformer: {
			Build: func(ctx *context.Context, cfg *model.Config, ids *Node, dtype dtypes.DType) *Node {
				return textenc.Encode(textScope(ctx, cfg), cfg.Text, ids, dtype)
			},
			Shapes: func(cfg *model.Config) nn.Shapes {
				return textenc.ParamShapes(cfg.Text, cfg.EmbedDim, textPrefix(cfg))
			},
		},
	}
)

// RegisterImageTower adds the builder of an image-tower family (used by the ResNet and MobileCLIP
// packages' wiring in this package).
func RegisterImageTower(f model.VisionFamily, t ImageTower) { imageTowers[f] = t }

// RegisterTextTower adds the builder of a text-tower family.
func RegisterTextTower(f model.TextFamily, t TextTower) { textTowers[f] = t }

// textPrefix is the internal name prefix of the text tower's parameters: "" for OpenAI-style
// CLIP, "text." for open_clip's CustomTextCLIP (MobileCLIP).
func textPrefix(cfg *model.Config) string {
	if cfg.CustomText {
		return "text."
	}
	return ""
}

func textScope(ctx *context.Context, cfg *model.Config) *context.Context {
	if cfg.CustomText {
		return ctx.In("text")
	}
	return ctx
}

// ParamShapes returns every parameter the model reads (image tower, text tower and logit_scale)
// with its shape, under the internal names. A tower's Shapes function may panic with an error
// (an unknown variant, say); it is returned as the error.
func ParamShapes(cfg *model.Config) (shapes nn.Shapes, err error) {
	if cfg == nil {
		return nil, fmt.Errorf("encoder: no model configuration")
	}
	defer func() {
		if r := recover(); r != nil {
			shapes, err = nil, fmt.Errorf("model %q: %v", cfg.Name, r)
		}
	}()
	it, ok := imageTowers[cfg.Vision.Family]
	if !ok {
		return nil, fmt.Errorf("image tower family %q is not supported by this build", cfg.Vision.Family)
	}
	tt, ok := textTowers[cfg.Text.Family]
	if !ok {
		return nil, fmt.Errorf("text tower family %q is not supported by this build", cfg.Text.Family)
	}
	s := nn.Shapes{"logit_scale": {}}
	s.Merge(it.Shapes(cfg))
	s.Merge(tt.Shapes(cfg))
	return s, nil
}
