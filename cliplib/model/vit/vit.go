// Package vit builds CLIP's Vision Transformer image tower (ViT-B/32, B/16, L/14, L/14@336px) as a
// GoMLX graph, faithful to OpenAI's VisionTransformer:
//
//	conv1 (patchify, no bias) → [class_embedding; patches] + positional_embedding → ln_pre →
//	transformer (pre-LN blocks) → ln_post(token 0) → @ proj
//
// Parameters are read from the context under OpenAI's names, relative to the "visual" scope:
// conv1.weight [W,3,P,P], class_embedding [W], positional_embedding [G²+1,W], ln_pre.*,
// transformer.resblocks.{i}.*, ln_post.*, proj [W,E].
package vit

import (
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/clipkit/clipkit/cliplib/model"
	"github.com/clipkit/clipkit/cliplib/model/nn"
)

// PatchEmbed applies the patch convolution "conv1" (kernel = stride = P, no bias) to pixels
// [B, 3, R, R] and returns the patch tokens [B, G², W] in row-major grid order (G = R/P).
//
// The convolution is computed as an exact reshape + matrix product (non-overlapping patches),
// which is what the convolution reduces to and is much faster on the pure-Go backend.
func PatchEmbed(ctx *context.Context, pixels *Node, patch, width int) *Node {
	dims := pixels.Shape().Dimensions
	batch, channels, res := dims[0], dims[1], dims[2]
	if dims[3] != res || res%patch != 0 {
		nn.Panicf("vit: pixels must be [batch, 3, R, R] with R a multiple of %d, got %v", patch, dims)
	}
	grid := res / patch
	w := Weight(ctx, pixels, width, channels, patch)
	x := Reshape(pixels, batch, channels, grid, patch, grid, patch)
	x = TransposeAllDims(x, 0, 2, 4, 1, 3, 5) // [B, G, G, C, P, P]
	x = Reshape(x, batch, grid*grid, channels*patch*patch)
	return DotGeneral(x, []int{2}, nil, w, []int{1}, nil) // [B, G², W]
}

// Weight returns conv1.weight flattened to [W, C·P·P] in the dtype of like.
func Weight(ctx *context.Context, like *Node, width, channels, patch int) *Node {
	w := nn.Weight(ctx.In("conv1"), like.Graph(), "weight", width, channels, patch, patch)
	if w.DType() != like.DType() {
		w = ConvertDType(w, like.DType())
	}
	return Reshape(w, width, channels*patch*patch)
}

// Encode builds the image tower for pixels [B, 3, R, R] (already normalised) and returns the
// image features [B, E] before L2 normalisation. ctx must be at the "visual" scope.
func Encode(ctx *context.Context, cfg model.VisionConfig, pixels *Node) *Node {
	g := pixels.Graph()
	batch := pixels.Shape().Dimensions[0]
	if pixels.Shape().Dimensions[2] != cfg.ImageSize {
		nn.Panicf("vit: model expects %d×%d images, got pixels of shape %v", cfg.ImageSize, cfg.ImageSize,
			pixels.Shape().Dimensions)
	}
	grid := cfg.ImageSize / cfg.PatchSize
	x := PatchEmbed(ctx, pixels, cfg.PatchSize, cfg.Width)
	cls := nn.Weight(ctx, g, "class_embedding", cfg.Width)
	pos := nn.Weight(ctx, g, "positional_embedding", grid*grid+1, cfg.Width)
	if cls.DType() != x.DType() {
		cls, pos = ConvertDType(cls, x.DType()), ConvertDType(pos, x.DType())
	}
	cls = BroadcastToDims(Reshape(cls, 1, 1, cfg.Width), batch, 1, cfg.Width)
	x = Concatenate([]*Node{cls, x}, 1) // [B, G²+1, W]
	x = Add(x, ExpandLeftToRank(pos, 3))
	x = nn.LayerNorm(ctx.In("ln_pre"), x, cfg.Eps())
	x = nn.Transformer(ctx.In("transformer"), x, cfg.Layers, cfg.Heads, nil, cfg.Activation, cfg.Eps())
	x = Reshape(Slice(x, AxisRange(), AxisElem(0)), batch, cfg.Width)
	x = nn.LayerNorm(ctx.In("ln_post"), x, cfg.Eps())
	return nn.MatMulParam(ctx, x, "proj")
}

// ParamShapes returns the parameters the image tower reads, with their shapes, under the
// "visual." prefix, for a joint embedding of size embedDim.
func ParamShapes(cfg model.VisionConfig, embedDim int) nn.Shapes {
	w, grid := cfg.Width, cfg.ImageSize/cfg.PatchSize
	s := nn.Shapes{
		"visual.conv1.weight":         {w, 3, cfg.PatchSize, cfg.PatchSize},
		"visual.class_embedding":      {w},
		"visual.positional_embedding": {grid*grid + 1, w},
		"visual.proj":                 {w, embedDim},
	}
	s.AddNorm("visual.ln_pre", w)
	s.AddNorm("visual.ln_post", w)
	s.AddTransformer("visual.transformer", cfg.Layers, w)
	return s
}
