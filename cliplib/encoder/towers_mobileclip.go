package encoder

import (
	"github.com/gomlx/gomlx/pkg/core/dtypes"

	"github.com/clipkit/clipkit/cliplib/backend"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/clipkit/clipkit/cliplib/model"
	"github.com/clipkit/clipkit/cliplib/model/mobileclip"
	"github.com/clipkit/clipkit/cliplib/model/nn"
)

// MobileCLIP towers: the MCi image encoders, the ViT with a convolutional stem of the B models
// and the S0 "mct" text tower. (The other MobileCLIP text towers are the CLIP text transformer,
// already registered, under "text.".) Weights must be in the folded form that
// mobileclip.Reparameterize produces, unless cfg.Unfolded is set.
func init() {
	RegisterImageTower(model.MCi, ImageTower{
		Build: func(ctx *context.Context, cfg *model.Config, pixels *Node) *Node {
			c, err := mobileclip.LookupMCi(cfg.Vision.Variant)
			if err != nil {
				panic(err)
			}
			return mobileclip.EncodeMCi(ctx, c, cfg.EmbedDim, pixels, cfg.Unfolded)
		},
		Shapes: mustImageShapes,
	})
	RegisterImageTower(model.MobileViT, ImageTower{
		Build: func(ctx *context.Context, cfg *model.Config, pixels *Node) *Node {
			return mobileclip.EncodeViT(ctx, cfg.Vision, cfg.EmbedDim, pixels)
		},
		Shapes: mustImageShapes,
	})
	RegisterTextTower(model.TextMCT, TextTower{
		Build: func(ctx *context.Context, cfg *model.Config, ids *Node, dtype dtypes.DType) *Node {
			return mobileclip.EncodeTextMCT(ctx, cfg.Text, ids, dtype, cfg.Unfolded)
		},
		Shapes: mobileclip.TextParamShapes,
	})
}

// mustImageShapes returns the image-tower parameters, panicking on an unknown MCi variant
// (ParamShapes turns the panic into an error).
func mustImageShapes(cfg *model.Config) nn.Shapes {
	s, err := mobileclip.ImageParamShapes(cfg)
	if err != nil {
		panic(err)
	}
	return s
}

// backendConfig returns the backend configuration New creates when the caller gave config. For
// MCi and mct towers on the default simplego backend ("go" without options) it asks for
// sequential op execution: GoMLX v0.26.0's simplego can deadlock when several large batched
// DotGenerals run at once under its parallel executor (each waits in workersPool.WaitToStart for
// a worker while holding one; seen with MobileCLIP-S0 at batch 8), and these towers' depthwise
// convolutions are batched DotGenerals. DotGeneral itself still runs on all cores.
func backendConfig(cfg *model.Config, config string) string {
	if (cfg.Vision.Family == model.MCi || cfg.Text.Family == model.TextMCT) && backend.Resolve(config) == "go" {
		return "go:ops_sequential"
	}
	return config
}
