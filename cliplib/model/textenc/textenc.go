// Package textenc builds CLIP's text transformer (also MobileCLIP's "base" text tower) as a GoMLX
// graph, faithful to OpenAI's CLIP.encode_text:
//
//	token_embedding[ids] + positional_embedding → transformer (causal, pre-LN) → ln_final →
//	row at the end-of-text token (argmax of ids) → @ text_projection
//
// Parameters are read from the context under OpenAI's names, relative to the text tower's root
// scope (the model root for OpenAI/open_clip CLIP, "text" for open_clip's CustomTextCLIP):
// token_embedding.weight [V,W], positional_embedding [L,W], transformer.resblocks.{i}.*,
// ln_final.*, text_projection [W,E].
package textenc

import (
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/clipkit/clipkit/cliplib/model"
	"github.com/clipkit/clipkit/cliplib/model/nn"
)

// Embed looks up token embeddings for ids [B, L] (int32) and adds the first L rows of the
// positional embedding. Returns [B, L, W] in dtype.
func Embed(ctx *context.Context, cfg model.TextConfig, ids *Node, dtype dtypes.DType) *Node {
	g := ids.Graph()
	length := ids.Shape().Dimensions[1]
	if length > cfg.ContextLength {
		nn.Panicf("textenc: %d tokens exceed the context length %d", length, cfg.ContextLength)
	}
	table := nn.Weight(ctx.In("token_embedding"), g, "weight", cfg.VocabSize, cfg.Width)
	pos := nn.Weight(ctx, g, "positional_embedding", cfg.ContextLength, cfg.Width)
	if length < cfg.ContextLength {
		pos = Slice(pos, AxisRange(0, length))
	}
	x := Gather(table, ExpandAxes(ConvertDType(ids, dtypes.Int32), -1)) // [B, L, W]
	x = Add(x, ExpandLeftToRank(pos, 3))
	if x.DType() != dtype {
		x = ConvertDType(x, dtype)
	}
	return x
}

// PoolEOT selects, for each sequence, the row of x [B, L, W] at the position of the largest id in
// ids [B, L] (the end-of-text token 49407; ties resolve to the first, as torch.argmax does).
// Returns [B, W]. The selection is an exact one-hot contraction.
func PoolEOT(x, ids *Node) *Node {
	length := ids.Shape().Dimensions[1]
	eot := ArgMax(ids, 1)
	oneHot := OneHot(eot, length, x.DType()) // [B, L]
	return DotGeneral(oneHot, []int{1}, []int{0}, x, []int{1}, []int{0})
}

// Encode builds the text tower for token ids [B, L] (int32, L ≤ context length) and returns the
// text features [B, E] before L2 normalisation, computing in dtype.
//
// For a causal tower, L may be shorter than the context length (cut after the batch's last
// end-of-text token): the result is identical, since no position attends to later ones. A
// non-causal tower must be given the full context, zero padded, as the reference does.
func Encode(ctx *context.Context, cfg model.TextConfig, ids *Node, dtype dtypes.DType) *Node {
	length := ids.Shape().Dimensions[1]
	if !cfg.Causal && length != cfg.ContextLength {
		nn.Panicf("textenc: a non-causal text tower needs all %d positions, got %d", cfg.ContextLength, length)
	}
	x := Embed(ctx, cfg, ids, dtype)
	var mask *Node
	if cfg.Causal {
		mask = nn.CausalMask(ids.Graph(), dtypes.Float32, length)
	}
	x = nn.Transformer(ctx.In("transformer"), x, cfg.Layers, cfg.Heads, mask, cfg.Activation, cfg.Eps())
	x = PoolEOT(x, ids) // ln_final is per token, so pooling first gives the same result
	x = nn.LayerNorm(ctx.In("ln_final"), x, cfg.Eps())
	return nn.MatMulParam(ctx, x, "text_projection")
}

// ParamShapes returns the parameters the text tower reads, with their shapes, each name prefixed
// by prefix ("" for OpenAI CLIP, "text." for open_clip's CustomTextCLIP).
func ParamShapes(cfg model.TextConfig, embedDim int, prefix string) nn.Shapes {
	w := cfg.Width
	s := nn.Shapes{
		prefix + "token_embedding.weight": {cfg.VocabSize, w},
		prefix + "positional_embedding":   {cfg.ContextLength, w},
		prefix + "text_projection":        {w, embedDim},
	}
	s.AddNorm(prefix+"ln_final", w)
	s.AddTransformer(prefix+"transformer", cfg.Layers, w)
	return s
}
