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
// preprocessing, OpenAI's ViT architectures (ViT-B/32, ...) with open_clip's and the HF hub's
// names for them, and the inference of a ViT image tower from OpenAI-layout tensor shapes.
func init() {
	family.Register(family.Family{
		Name:          "ViT",
		Architectures: architectures(),
		Aliases: map[string]string{
			"ViT-B-32": "ViT-B/32", "ViT-B-16": "ViT-B/16", "ViT-L-14": "ViT-L/14",
			"ViT-L-14-336": "ViT-L/14@336px", "ViT-L/14@336": "ViT-L/14@336px",
			"ViT-B-32-quickgelu": "ViT-B/32", "ViT-B-16-quickgelu": "ViT-B/16", "ViT-L-14-quickgelu": "ViT-L/14",
		},
		ImageTowers: map[model.VisionFamily]family.ImageTower{
			model.ViT: {
				Build: func(ctx *context.Context, cfg *model.Config, pixels *Node) *Node {
					return Encode(ctx.In("visual"), cfg.Vision, pixels)
				},
				Shapes: func(cfg *model.Config) nn.Shapes { return ParamShapes(cfg.Vision, cfg.EmbedDim) },
			},
		},
		Preprocess: map[string]model.Preprocess{weights.PreprocessOpenAI: model.OpenAIPreprocess},
		Infer:      inference,
	})
}

// clip returns an OpenAI CLIP ViT architecture: image size res, patch size patch, vision width
// and layers (heads: width/64), embedding size embed, a CLIP text tower of width textWidth and
// activation act in both towers. Shallow test configurations (layers < 12) get as many text
// layers as vision ones.
func clip(name string, res, patch, width, layers, embed, textWidth int, act nn.Activation) *model.Config {
	c := &model.Config{Name: name, EmbedDim: embed,
		Vision: model.VisionConfig{Family: model.ViT, ImageSize: res, PatchSize: patch, Width: width, Layers: layers,
			Heads: width / 64, Activation: act},
		Text: model.CLIPText(textWidth, textWidth/64, act)}
	if layers < 12 { // test configurations are shallow in both towers
		c.Text.Layers = layers
	}
	return c
}

// architectures returns OpenAI's CLIP ViT architectures (values: the CLIP paper's model tables
// and open_clip's model_configs/*.json, which agree; OpenAI weights use QuickGELU in both towers)
// and the small "tiny-vit" used by tests, smoke mode and fixtures (heads follow CLIP's width/64
// rule so that they can be inferred from shapes).
func architectures() []*model.Config {
	return []*model.Config{
		clip("ViT-B/32", 224, 32, 768, 12, 512, 512, nn.QuickGELU),
		clip("ViT-B/16", 224, 16, 768, 12, 512, 512, nn.QuickGELU),
		clip("ViT-L/14", 224, 14, 1024, 24, 768, 768, nn.QuickGELU),
		clip("ViT-L/14@336px", 336, 14, 1024, 24, 768, 768, nn.QuickGELU),
		clip("tiny-vit", 32, 8, 128, 2, 64, 128, nn.QuickGELU),
	}
}
