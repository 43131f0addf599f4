package model

import "github.com/clipkit/clipkit/cliplib/model/nn"

// MobileCLIP and MobileCLIP2 architectures (values: Apple's ml-mobileclip configs and open_clip's
// MobileCLIP*.json, which agree). Image towers: MCi variants (package
// mobileclip) at 256 px, or the ViT-B/16 with a convolutional stem at 224 px. Text towers: the
// "mct" hybrid for MobileCLIP-S0, CLIP text transformers otherwise, causal only for the B models
// (the others attend over all 77 positions, zero padding included). Every tower uses exact GELU.

// MobileCLIPPreprocess is the preprocessing of MobileCLIP S0–S2, B and MobileCLIP2 S0, S2, B:
// bilinear resize of the shortest side, centre crop, pixels in [0, 1] without normalisation.
var MobileCLIPPreprocess = Preprocess{Interpolation: "bilinear", Mean: [3]float32{0, 0, 0}, Std: [3]float32{1, 1, 1}}

// MobileCLIP2Preprocess is the preprocessing of MobileCLIP2-S3 and -S4: bilinear, OpenAI mean/std.
var MobileCLIP2Preprocess = Preprocess{Interpolation: "bilinear", Mean: OpenAIMean, Std: OpenAIStd}

func mobileText(width, layers, heads int, causal bool) TextConfig {
	return TextConfig{Family: TextTransformer, ContextLength: ContextLength, VocabSize: VocabSize,
		Width: width, Layers: layers, Heads: heads, Causal: causal, Activation: nn.GELU}
}

func mciModel(name, variant string, res, embed int, text TextConfig, pre Preprocess) *Config {
	return &Config{Name: name, EmbedDim: embed, CustomText: true, Preprocess: pre, Text: text,
		Vision: VisionConfig{Family: MCi, ImageSize: res, Variant: variant, Activation: nn.GELU}}
}

// mobileViTModel is a B model. stemPadding and eps distinguish Apple's original image tower
// (MobileCLIP-B: padding 1, LayerNorm eps 1e-5) from timm's vit_base_mci_224 (MobileCLIP2-B:
// padding 0, eps 1e-6).
func mobileViTModel(name string, res, width, layers, heads, embed, stemPadding int, eps float64, text TextConfig) *Config {
	return &Config{Name: name, EmbedDim: embed, CustomText: true, Preprocess: MobileCLIPPreprocess, Text: text,
		Vision: VisionConfig{Family: MobileViT, ImageSize: res, PatchSize: 16, Width: width, Layers: layers,
			Heads: heads, StemPadding: stemPadding, LayerNormEps: eps, Activation: nn.GELU}}
}

func init() {
	mct := func(width, layers, heads, vocab int) TextConfig {
		return TextConfig{Family: TextMCT, ContextLength: ContextLength, VocabSize: vocab, Width: width,
			Layers: layers, Heads: heads, Causal: false, Activation: nn.GELU}
	}
	text512 := mobileText(512, 12, 8, false)
	text768 := mobileText(768, 12, 12, false)
	// Small test text towers: a 500-token vocabulary keeps the embedding tables small (the towers
	// do not care that the ids are not real CLIP tokens; the end-of-text token is the largest id).
	testText := func(causal bool) TextConfig {
		t := mobileText(32, 2, 2, causal)
		t.VocabSize = 500
		return t
	}
	for _, c := range []*Config{
		// MobileCLIP (v1). The original Apple .pt files map onto these names with
		// checkpoint.MobileCLIPToOpenCLIP; S1, S2, B and B-LT also exist in the OpenCLIP layout.
		mciModel("MobileCLIP-S0", "mci0", 256, 512, mct(512, 4, 8, VocabSize), MobileCLIPPreprocess),
		mciModel("MobileCLIP-S1", "mci1", 256, 512, text512, MobileCLIPPreprocess),
		mciModel("MobileCLIP-S2", "mci2", 256, 512, text512, MobileCLIPPreprocess),
		mobileViTModel("MobileCLIP-B", 224, 768, 12, 12, 512, 1, 1e-5, mobileText(512, 12, 8, true)),
		mobileViTModel("MobileCLIP-B-LT", 224, 768, 12, 12, 512, 1, 1e-5, mobileText(512, 12, 8, true)),
		// MobileCLIP2 (trained with open_clip + timm).
		mciModel("MobileCLIP2-S0", "mci0", 256, 512, text512, MobileCLIPPreprocess),
		mciModel("MobileCLIP2-S2", "mci2", 256, 512, text512, MobileCLIPPreprocess),
		mobileViTModel("MobileCLIP2-B", 224, 768, 12, 12, 512, 0, 1e-6, mobileText(512, 12, 8, true)),
		mciModel("MobileCLIP2-S3", "mci3", 256, 768, text768, MobileCLIP2Preprocess),
		mciModel("MobileCLIP2-S4", "mci4", 256, 768, text768, MobileCLIP2Preprocess),
		// Small configurations with every block type of the real ones, for tests and the fixtures
		// of tools/reference/make_mobileclip_fixtures.py.
		mciModel("MobileCLIP-test-S0", "mci-test", 80, 32, mct(32, 2, 2, 500), MobileCLIPPreprocess),
		mciModel("MobileCLIP-test-S2", "mci-test", 80, 32, testText(false), MobileCLIPPreprocess),
		mciModel("MobileCLIP2-test-S3", "mci-test5", 96, 32, testText(false), MobileCLIP2Preprocess),
		mobileViTModel("MobileCLIP-test-B", 224, 32, 2, 2, 32, 1, 1e-5, testText(true)),
		mobileViTModel("MobileCLIP2-test-B", 64, 32, 2, 2, 32, 0, 1e-6, testText(true)),
	} {
		Register(c)
	}
}
