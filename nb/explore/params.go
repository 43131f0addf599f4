package explore

import (
	"fmt"
	"strings"

	"github.com/clipkit/clipkit/cliplib/encoder"
	"github.com/clipkit/clipkit/cliplib/model"
)

// TowerParams counts the parameters of a model per tower, in the inference form the loader uses
// (BatchNorm running statistics, which are buffers rather than parameters, are not counted), so
// that the totals compare with the published ones (ViT-B/32: 151,277,313).
type TowerParams struct {
	Vision int64 // image tower, including its projection
	Text   int64 // text tower: embeddings, transformer, final norm and projection
	Other  int64 // logit_scale
}

// Total is the whole model's parameter count.
func (p TowerParams) Total() int64 { return p.Vision + p.Text + p.Other }

// ParamCounts counts the parameters of an architecture from its parameter shapes, without
// building or loading anything.
func ParamCounts(cfg *model.Config) (TowerParams, error) {
	c := cfg.Clone()
	c.Vision.BatchNormFolded = false // count BatchNorm affine weights as PyTorch does (running stats skipped below)
	shapes, err := encoder.ParamShapes(c)
	if err != nil {
		return TowerParams{}, fmt.Errorf("counting parameters of %q: %w", cfg.Name, err)
	}
	var p TowerParams
	for name, shape := range shapes {
		if strings.HasSuffix(name, ".running_mean") || strings.HasSuffix(name, ".running_var") {
			continue
		}
		n := int64(1)
		for _, d := range shape {
			n *= int64(d)
		}
		switch {
		case strings.HasPrefix(name, "visual."):
			p.Vision += n
		case name == "logit_scale":
			p.Other += n
		default:
			p.Text += n
		}
	}
	return p, nil
}

// ImageTokens is the sequence length of a ViT image tower: one token per patch of the centre-cropped
// image plus the class token ((R/P)² + 1: 50 for ViT-B/32 at 224 px). It is 0 for towers that are
// not ViTs (ResNets see a feature map, not a token sequence).
func ImageTokens(v model.VisionConfig) int {
	if v.Family != model.ViT || v.PatchSize <= 0 {
		return 0
	}
	g := v.ImageSize / v.PatchSize
	return g*g + 1
}

// TestArch reports whether a registered architecture is one of the small configurations made for
// tests and smoke runs ("tiny-vit", "tiny-rn", "MobileCLIP-test-S0", ...) rather than a published
// model: notebooks leave them out of comparisons.
func TestArch(name string) bool { return model.IsTestConfig(name) }
