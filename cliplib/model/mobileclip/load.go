package mobileclip

import (
	"fmt"

	"github.com/clipkit/clipkit/cliplib/checkpoint"
	"github.com/clipkit/clipkit/cliplib/model"
)

// IsMobileCLIP reports whether cfg has a MobileCLIP tower (MCi or MobileViT image tower, or the
// mct text tower), i.e. whether its weights go through PrepareWeights.
func IsMobileCLIP(cfg *model.Config) bool {
	return cfg.Vision.Family == model.MCi || cfg.Vision.Family == model.MobileViT || cfg.Text.Family == model.TextMCT
}

// PrepareWeights turns the tensors of a MobileCLIP checkpoint file, in Apple's original layout
// or in the OpenCLIP / timm hub layout, into the weights encoder.New expects for cfg: names
// mapped to the internal layout (ToOpenCLIP), then the re-parameterisable
// branches folded (Reparameterize) unless cfg.Unfolded is set. It returns the layout the file
// was in. raw is not modified.
func PrepareWeights(cfg *model.Config, raw checkpoint.StateDict) (checkpoint.StateDict, checkpoint.Layout, error) {
	if !IsMobileCLIP(cfg) {
		return nil, "", fmt.Errorf("model %q is not a MobileCLIP architecture", cfg.Name)
	}
	sd, layout, err := ToOpenCLIP(raw)
	if err != nil {
		return nil, layout, err
	}
	if cfg.Unfolded {
		return sd, layout, nil
	}
	sd, err = Reparameterize(cfg, sd)
	return sd, layout, err
}
