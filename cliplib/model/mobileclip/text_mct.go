package mobileclip

import (
	"fmt"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/clipkit/clipkit/cliplib/model"
	"github.com/clipkit/clipkit/cliplib/model/nn"
	"github.com/clipkit/clipkit/cliplib/model/textenc"
)

// The "mct" text encoder of MobileCLIP-S0 (Apple's TextTransformer with model_name "mct"):
//
//	token_embedding[ids] + positional_embedding                      [B, L, W]
//	transformer.resblocks.0            RepMixerBlock, 1×11 kernels, over the L positions
//	transformer.resblocks.1..Layers    CLIP pre-LN transformer blocks (GELU), no mask at all
//	transformer.resblocks.Layers+1     RepMixerBlock
//	ln_final, row at argmax(ids), @ text_projection [W, E]
//
// names under "text." (TextPrefix). open_clip has no such tower; these names keep Apple's block
// indices and follow open_clip's text names for the transformer blocks and timm's RepMixerBlock
// names (token_mixer.{mixer,norm,layer_scale}, mlp.{conv,fc1,fc2}, layer_scale) for the mixers,
// which is what ToOpenCLIP produces from Apple's text_encoder.* keys.
//
// A RepMixerBlock sees the sequence as a 1×L image with W channels: the depthwise 1×11 kernels
// (padding 5) mix each position with its 5 neighbours on either side, padding tokens included,
// exactly as the reference does; the RepMixer has no 1×1 scale branch (its kernel has one row).

// TextPrefix is the parameter-name prefix of MobileCLIP text towers (open_clip CustomTextCLIP).
const TextPrefix = "text"

// mctKernel is the kernel width of the text RepMixer blocks (Apple's RepMixerBlock default).
const mctKernel = 11

func mctMixer(t model.TextConfig) repMixerBlock {
	k := [2]int{1, mctKernel}
	return newRepMixerBlock(t.Width, k, k, 4*t.Width)
}

// mctModules lists the two RepMixer blocks of the mct tower with their prefixes.
func mctModules(t model.TextConfig) []namedBlock {
	p := TextPrefix + ".transformer.resblocks."
	return []namedBlock{
		{p + "0", mctMixer(t)},
		{fmt.Sprintf("%s%d", p, t.Layers+1), mctMixer(t)},
	}
}

// MCTParamShapes returns the parameters of the mct text tower (folded or train-time RepMixers)
// with their shapes, for a joint embedding of size embed.
func MCTParamShapes(t model.TextConfig, embed int, unfolded bool) nn.Shapes {
	p := TextPrefix + "."
	w := t.Width
	sh := nn.Shapes{
		p + "token_embedding.weight": {t.VocabSize, w},
		p + "positional_embedding":   {t.ContextLength, w},
		p + "text_projection":        {w, embed},
	}
	sh.AddNorm(p+"ln_final", w)
	for _, m := range mctModules(t) {
		m.block.shapes(sh, m.prefix, unfolded)
	}
	for i := 1; i <= t.Layers; i++ {
		b := fmt.Sprintf("%stransformer.resblocks.%d.", p, i)
		sh.AddNorm(b+"ln_1", w)
		sh[b+"attn.in_proj_weight"] = []int{3 * w, w}
		sh[b+"attn.in_proj_bias"] = []int{3 * w}
		sh.AddLinear(b+"attn.out_proj", w, w, true)
		sh.AddNorm(b+"ln_2", w)
		sh.AddLinear(b+"mlp.c_fc", w, 4*w, true)
		sh.AddLinear(b+"mlp.c_proj", 4*w, w, true)
	}
	return sh
}

// EncodeTextMCT builds the mct text tower for token ids [B, L] (int32; L must be the full
// context length, zero padded) and returns the text features [B, E] before L2 normalisation,
// computing in dtype. ctx is at the model root.
func EncodeTextMCT(ctx *context.Context, t model.TextConfig, ids *Node, dtype dtypes.DType, unfolded bool) *Node {
	length := ids.Shape().Dimensions[1]
	if length != t.ContextLength {
		nn.Panicf("mobileclip: the mct text tower attends over all %d positions, got %d", t.ContextLength, length)
	}
	tctx := ctx.In(TextPrefix)
	x := textenc.Embed(tctx, t, ids, dtype) // [B, L, W]
	batch, w := x.Shape().Dimensions[0], t.Width
	mods := mctModules(t)
	mixer := func(m namedBlock, x *Node) *Node {
		// [B, L, W] -> a 1×L image with W channels, channels first: [W, B, 1, L].
		img := Reshape(TransposeAllDims(x, 2, 0, 1), w, batch, 1, length)
		y := m.block.build(scopeOf(ctx, m.prefix), img, unfolded)
		return TransposeAllDims(Reshape(y, w, batch, length), 1, 2, 0)
	}
	x = mixer(mods[0], x)
	blocks := tctx.In("transformer").In("resblocks")
	for i := 1; i <= t.Layers; i++ {
		x = nn.ResidualAttentionBlock(blocks.In(fmt.Sprint(i)), x, t.Heads, nil, t.Activation, t.Eps())
	}
	x = mixer(mods[1], x)
	x = textenc.PoolEOT(x, ids) // ln_final is per token, so pooling first gives the same result
	x = nn.LayerNorm(tctx.In("ln_final"), x, t.Eps())
	return nn.MatMulParam(tctx, x, "text_projection")
}

// TextParamShapes returns the parameters of the mct text tower of cfg.
func TextParamShapes(cfg *model.Config) nn.Shapes {
	return MCTParamShapes(cfg.Text, cfg.EmbedDim, cfg.Unfolded)
}
