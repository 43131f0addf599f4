package mobileclip

import (
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/clipkit/clipkit/cliplib/checkpoint"
	"github.com/clipkit/clipkit/cliplib/model"
	"github.com/clipkit/clipkit/cliplib/model/family"
	"github.com/clipkit/clipkit/cliplib/model/nn"
	"github.com/clipkit/clipkit/weights"
)

// The MobileCLIP family: the MobileCLIP and MobileCLIP2 architectures, the MCi image towers, the
// ViT with a convolutional stem of the B models and the S0 "mct" text tower (the other
// MobileCLIP text towers are CLIP text transformers under "text."), Apple's and the OpenCLIP hub's
// checkpoint layouts (PrepareWeights: renamed, then re-parameterised unless Options.NoFold), and
// MobileCLIP's two preprocessing recipes. Checkpoint files name their architecture only in their
// path (mobileclip_s0.pt, MobileCLIP-S1-OpenCLIP/...). The MCi and mct towers run their ops
// sequentially on the pure-Go backend (see encoder.New).
func init() {
	family.Register(family.Family{
		Name:          "MobileCLIP",
		Architectures: architectures(),
		ImageTowers: map[model.VisionFamily]family.ImageTower{
			model.MCi: {
				Build: func(ctx *context.Context, cfg *model.Config, pixels *Node) *Node {
					c, err := LookupMCi(cfg.Vision.Variant)
					if err != nil {
						panic(err)
					}
					return EncodeMCi(ctx, c, cfg.EmbedDim, pixels, cfg.Unfolded)
				},
				Shapes:         mustImageShapes,
				SequentialOnGo: true,
			},
			model.MobileViT: {
				Build: func(ctx *context.Context, cfg *model.Config, pixels *Node) *Node {
					return EncodeViT(ctx, cfg.Vision, cfg.EmbedDim, pixels)
				},
				Shapes: mustImageShapes,
			},
		},
		TextTowers: map[model.TextFamily]family.TextTower{
			model.TextMCT: {
				Build: func(ctx *context.Context, cfg *model.Config, ids *Node, dtype dtypes.DType) *Node {
					return EncodeTextMCT(ctx, cfg.Text, ids, dtype, cfg.Unfolded)
				},
				Shapes:         TextParamShapes,
				SequentialOnGo: true,
			},
		},
		Layouts: layouts,
		Prepare: func(cfg *model.Config, raw checkpoint.StateDict, fold bool) (checkpoint.StateDict, checkpoint.Layout, error) {
			cfg.Unfolded = !fold
			return PrepareWeights(cfg, raw)
		},
		Preprocess: map[string]model.Preprocess{
			weights.PreprocessMobileCLIP:        model.MobileCLIPPreprocess,
			weights.PreprocessMobileCLIP2OpenAI: model.MobileCLIP2Preprocess,
		},
		Examples:     []string{"MobileCLIP-S0", "MobileCLIP2-S2"},
		NamesInPaths: true,
	})
}

// mustImageShapes returns the image-tower parameters, panicking on an unknown MCi variant
// (encoder.ParamShapes turns the panic into an error).
func mustImageShapes(cfg *model.Config) nn.Shapes {
	s, err := ImageParamShapes(cfg)
	if err != nil {
		panic(err)
	}
	return s
}

// MobileCLIP and MobileCLIP2 architectures (values: Apple's ml-mobileclip configs and open_clip's
// MobileCLIP*.json, which agree). Image towers: MCi variants at 256 px, or the ViT-B/16 with a
// convolutional stem at 224 px. Text towers: the "mct" hybrid for MobileCLIP-S0, CLIP text
// transformers otherwise, causal only for the B models (the others attend over all 77 positions,
// zero padding included). Every tower uses exact GELU.

func mobileText(width, layers, heads int, causal bool) model.TextConfig {
	return model.TextConfig{Family: model.TextTransformer, ContextLength: model.ContextLength,
		VocabSize: model.VocabSize, Width: width, Layers: layers, Heads: heads, Causal: causal,
		Activation: nn.GELU}
}

func mciModel(name, variant string, res, embed int, text model.TextConfig, pre model.Preprocess) *model.Config {
	return &model.Config{Name: name, EmbedDim: embed, CustomText: true, Preprocess: pre, Text: text,
		Vision: model.VisionConfig{Family: model.MCi, ImageSize: res, Variant: variant, Activation: nn.GELU}}
}

// mobileViTModel is a B model. stemPadding and eps distinguish Apple's original image tower
// (MobileCLIP-B: padding 1, LayerNorm eps 1e-5) from timm's vit_base_mci_224 (MobileCLIP2-B:
// padding 0, eps 1e-6).
func mobileViTModel(name string, res, width, layers, heads, embed, stemPadding int, eps float64, text model.TextConfig) *model.Config {
	return &model.Config{Name: name, EmbedDim: embed, CustomText: true, Preprocess: model.MobileCLIPPreprocess,
		Text: text,
		Vision: model.VisionConfig{Family: model.MobileViT, ImageSize: res, PatchSize: 16, Width: width,
			Layers: layers, Heads: heads, StemPadding: stemPadding, LayerNormEps: eps, Activation: nn.GELU}}
}

// architectures returns the family's registry entries.
func architectures() []*model.Config {
	mct := func(width, layers, heads, vocab int) model.TextConfig {
		return model.TextConfig{Family: model.TextMCT, ContextLength: model.ContextLength, VocabSize: vocab,
			Width: width, Layers: layers, Heads: heads, Causal: false, Activation: nn.GELU}
	}
	text512 := mobileText(512, 12, 8, false)
	text768 := mobileText(768, 12, 12, false)
	// Small test text towers: a 500-token vocabulary keeps the embedding tables small (the towers
	// do not care that the ids are not real CLIP tokens; the end-of-text token is the largest id).
	testText := func(causal bool) model.TextConfig {
		t := mobileText(32, 2, 2, causal)
		t.VocabSize = 500
		return t
	}
	mc, mc2 := model.MobileCLIPPreprocess, model.MobileCLIP2Preprocess
	return []*model.Config{
		// MobileCLIP (v1). The original Apple .pt files map onto these names with
		// ToOpenCLIP; S1, S2, B and B-LT also exist in the OpenCLIP layout.
		mciModel("MobileCLIP-S0", "mci0", 256, 512, mct(512, 4, 8, model.VocabSize), mc),
		mciModel("MobileCLIP-S1", "mci1", 256, 512, text512, mc),
		mciModel("MobileCLIP-S2", "mci2", 256, 512, text512, mc),
		mobileViTModel("MobileCLIP-B", 224, 768, 12, 12, 512, 1, 1e-5, mobileText(512, 12, 8, true)),
		mobileViTModel("MobileCLIP-B-LT", 224, 768, 12, 12, 512, 1, 1e-5, mobileText(512, 12, 8, true)),
		// MobileCLIP2 (trained with open_clip + timm).
		mciModel("MobileCLIP2-S0", "mci0", 256, 512, text512, mc),
		mciModel("MobileCLIP2-S2", "mci2", 256, 512, text512, mc),
		mobileViTModel("MobileCLIP2-B", 224, 768, 12, 12, 512, 0, 1e-6, mobileText(512, 12, 8, true)),
		mciModel("MobileCLIP2-S3", "mci3", 256, 768, text768, mc2),
		mciModel("MobileCLIP2-S4", "mci4", 256, 768, text768, mc2),
		// Small configurations with every block type of the real ones, for tests and the fixtures
		// of tools/reference/make_mobileclip_fixtures.py.
		mciModel("MobileCLIP-test-S0", "mci-test", 80, 32, mct(32, 2, 2, 500), mc),
		mciModel("MobileCLIP-test-S2", "mci-test", 80, 32, testText(false), mc),
		mciModel("MobileCLIP2-test-S3", "mci-test5", 96, 32, testText(false), mc2),
		mobileViTModel("MobileCLIP-test-B", 224, 32, 2, 2, 32, 1, 1e-5, testText(true)),
		mobileViTModel("MobileCLIP2-test-B", 64, 32, 2, 2, 32, 0, 1e-6, testText(true)),
	}
}
