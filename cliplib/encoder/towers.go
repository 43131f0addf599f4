package encoder

import (
	"fmt"

	"github.com/clipkit/clipkit/cliplib/backend"
	"github.com/clipkit/clipkit/cliplib/model"
	_ "github.com/clipkit/clipkit/cliplib/model/families" // every tower family registers itself
	"github.com/clipkit/clipkit/cliplib/model/family"
	"github.com/clipkit/clipkit/cliplib/model/nn"
)

// ImageTower is how the encoder builds one family of image towers (registered by the family's
// package with family.Register).
type ImageTower = family.ImageTower

// TextTower is how the encoder builds one family of text towers.
type TextTower = family.TextTower

// towers returns the builders of cfg's two towers.
func towers(cfg *model.Config) (ImageTower, TextTower, error) {
	it, ok := family.Image(cfg.Vision.Family)
	if !ok {
		return it, TextTower{}, fmt.Errorf("image tower family %q is not supported by this build", cfg.Vision.Family)
	}
	tt, ok := family.Text(cfg.Text.Family)
	if !ok {
		return it, tt, fmt.Errorf("text tower family %q is not supported by this build", cfg.Text.Family)
	}
	return it, tt, nil
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
	it, tt, err := towers(cfg)
	if err != nil {
		return nil, err
	}
	s := nn.Shapes{"logit_scale": {}}
	s.Merge(it.Shapes(cfg))
	s.Merge(tt.Shapes(cfg))
	return s, nil
}

// backendConfig returns the backend configuration New creates when the caller gave config. For
// towers that ask for it (family.SequentialOnGo: MobileCLIP's MCi and mct towers) on the default
// simplego backend ("go" without options) it asks for sequential op execution: GoMLX v0.26.0's
// simplego can deadlock when several large batched DotGenerals run at once under its parallel
// executor (each waits in workersPool.WaitToStart for a worker while holding one; seen with
// MobileCLIP-S0 at batch 8), and these towers' depthwise convolutions are batched DotGenerals.
// DotGeneral itself still runs on all cores.
func backendConfig(cfg *model.Config, config string) string {
	if family.SequentialOnGo(cfg) && backend.Resolve(config) == "go" {
		return "go:ops_sequential"
	}
	return config
}
