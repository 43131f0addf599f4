package mobileclip

import (
	"fmt"

	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/clipkit/clipkit/cliplib/model"
	"github.com/clipkit/clipkit/cliplib/model/nn"
)

// The image tower of MobileCLIP-B and MobileCLIP2-B: a ViT-B/16 whose patch embedding is a
// convolutional stem (Apple's vit_b16, timm's vit_base_mci_224), with the names of timm under
// ImagePrefix:
//
//	patch_embed.backbone.0   conv 4×4/4 3→S (no bias, padding cfg.StemPadding) + BN ("bn") + GELU
//	patch_embed.backbone.1   conv 2×2/2 S→S (no bias) + BN + GELU
//	patch_embed.backbone.2   conv 2×2/2 S→W (with bias)                  → G×G tokens, G = R/16
//	pos_embed [1, G², W]     added to the patch tokens only
//	cls_token [1, 1, W]      prepended after the positional embedding (it gets none)
//	blocks.{i}               pre-LN blocks: norm1, attn.qkv (with bias), attn.proj, norm2,
//	                         mlp.fc1, GELU, mlp.fc2
//	norm                     final LayerNorm (eps cfg.LayerNormEps), class token taken after it
//	head                     Linear W→E with bias
//
// S = max(32, W/4) (192 for W = 768). Apple's original code pads the first stem conv by 1 and
// uses LayerNorm eps 1e-5; timm pads by 0 and uses eps 1e-6: the registry sets StemPadding and
// LayerNormEps per model.

// stemWidth is the channel count of the first two stem convolutions.
func stemWidth(width int) int { return max(32, width/4) }

// ViTParamShapes returns the parameters of the MobileCLIP ViT image tower with their shapes.
func ViTParamShapes(v model.VisionConfig, embed int) nn.Shapes {
	p := ImagePrefix + "."
	w, s, grid := v.Width, stemWidth(v.Width), v.ImageSize/16
	sh := nn.Shapes{
		p + "patch_embed.backbone.0.conv.weight": {s, 3, 4, 4},
		p + "patch_embed.backbone.1.conv.weight": {s, s, 2, 2},
		p + "patch_embed.backbone.2.conv.weight": {w, s, 2, 2},
		p + "patch_embed.backbone.2.conv.bias":   {w},
		p + "cls_token":                          {1, 1, w},
		p + "pos_embed":                          {1, grid * grid, w},
	}
	sh.AddBatchNorm(p+"patch_embed.backbone.0.bn", s)
	sh.AddBatchNorm(p+"patch_embed.backbone.1.bn", s)
	for i := 0; i < v.Layers; i++ {
		b := fmt.Sprintf("%sblocks.%d.", p, i)
		sh.AddNorm(b+"norm1", w)
		sh.AddLinear(b+"attn.qkv", w, 3*w, true)
		sh.AddLinear(b+"attn.proj", w, w, true)
		sh.AddNorm(b+"norm2", w)
		sh.AddLinear(b+"mlp.fc1", w, 4*w, true)
		sh.AddLinear(b+"mlp.fc2", 4*w, w, true)
	}
	sh.AddNorm(p+"norm", w)
	sh.AddLinear(p+"head", w, embed, true)
	return sh
}

// convStem applies the three stem convolutions to pixels [B, 3, R, R] and returns the patch
// tokens [B, G², W] in row-major grid order.
func convStem(ctx *context.Context, v model.VisionConfig, pixels *Node) *Node {
	d := pixels.Shape().Dimensions
	batch, r := d[0], d[2]
	if len(d) != 4 || d[1] != 3 || d[3] != r || r != v.ImageSize {
		nn.Panicf("mobileclip: model expects pixels [batch, 3, %d, %d], got %v", v.ImageSize, v.ImageSize, d)
	}
	w, s := v.Width, stemWidth(v.Width)
	x := TransposeAllDims(pixels, 1, 0, 2, 3) // [3, B, R, R]
	if p := v.StemPadding; p > 0 {
		// With kernel = stride = 4 the windows start at -p; the last p rows and columns of the
		// padded image are never reached, so padding the top-left and cropping is exact.
		x = pad2d(x, p, 0, p, 0)
		x = Slice(x, AxisRange(), AxisRange(), AxisRange(0, r), AxisRange(0, r))
	}
	bb := ctx.In("patch_embed").In("backbone")
	x = conv(bb.In("0").In("conv"), x, convSpec{stride: 4, kernel: [2]int{4, 4}, in: 3, out: s})
	x = nn.GELU.Apply(batchNorm(bb.In("0").In("bn"), x))
	x = conv(bb.In("1").In("conv"), x, convSpec{stride: 2, kernel: [2]int{2, 2}, in: s, out: s})
	x = nn.GELU.Apply(batchNorm(bb.In("1").In("bn"), x))
	x = conv(bb.In("2").In("conv"), x, convSpec{stride: 2, kernel: [2]int{2, 2}, in: s, out: w, bias: true})
	g := x.Shape().Dimensions[2] // [W, B, G, G]
	return TransposeAllDims(Reshape(x, w, batch, g*g), 1, 2, 0)
}

// vitBlock is timm's pre-LN transformer Block: x + attn(norm1(x)), then x + mlp(norm2(x)).
func vitBlock(ctx *context.Context, x *Node, heads int, eps float64) *Node {
	d := x.Shape().Dimensions
	batch, tokens, width := d[0], d[1], d[2]
	headDim := width / heads
	h := nn.LayerNorm(ctx.In("norm1"), x, eps)
	qkv := nn.Linear(ctx.In("attn").In("qkv"), h) // [B, T, 3W], rows q, k, v
	qkv = Reshape(qkv, batch, tokens, 3, heads, headDim)
	q := Reshape(Slice(qkv, AxisRange(), AxisRange(), AxisElem(0)), batch, tokens, heads, headDim)
	k := Reshape(Slice(qkv, AxisRange(), AxisRange(), AxisElem(1)), batch, tokens, heads, headDim)
	v := Reshape(Slice(qkv, AxisRange(), AxisRange(), AxisElem(2)), batch, tokens, heads, headDim)
	x = Add(x, nn.AttentionOut(ctx.In("attn").In("proj"), nn.ScaledDotProductAttention(q, k, v, nil)))
	h = nn.LayerNorm(ctx.In("norm2"), x, eps)
	h = nn.GELU.Apply(nn.Linear(ctx.In("mlp").In("fc1"), h))
	return Add(x, nn.Linear(ctx.In("mlp").In("fc2"), h))
}

// EncodeViT builds the MobileCLIP ViT image tower for pixels [B, 3, R, R] and returns the image
// features [B, E] before L2 normalisation. ctx is at the model root.
func EncodeViT(ctx *context.Context, v model.VisionConfig, embed int, pixels *Node) *Node {
	ctx = scopeOf(ctx, ImagePrefix)
	g := pixels.Graph()
	batch := pixels.Shape().Dimensions[0]
	x := convStem(ctx, v, pixels)
	tokens := x.Shape().Dimensions[1]
	pos := castTo(nn.Weight(ctx, g, "pos_embed", 1, tokens, v.Width), x)
	x = Add(x, pos)
	cls := castTo(nn.Weight(ctx, g, "cls_token", 1, 1, v.Width), x)
	x = Concatenate([]*Node{BroadcastToDims(cls, batch, 1, v.Width), x}, 1) // [B, G²+1, W]
	for i := 0; i < v.Layers; i++ {
		x = vitBlock(ctx.In("blocks").In(fmt.Sprint(i)), x, v.Heads, v.Eps())
	}
	x = Reshape(Slice(x, AxisRange(), AxisElem(0)), batch, v.Width) // LN is per token: pool first
	x = nn.LayerNorm(ctx.In("norm"), x, v.Eps())
	return nn.Linear(ctx.In("head"), x)
}
