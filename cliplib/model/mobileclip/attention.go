package mobileclip

import (
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/clipkit/clipkit/cliplib/checkpoint"
	"github.com/clipkit/clipkit/cliplib/model/nn"
)

// repCPE is the conditional positional encoding in front of the attention stages (timm's
// RepConditionalPosEnc, Apple's RepCPE): x + DWConv_k×k(x) with bias ("pos_enc") at train time;
// folded, one depthwise conv whose kernel has 1 added at the centre tap ("reparam_conv").
type repCPE struct {
	dim, kernel int
}

func (p repCPE) spec() convSpec {
	return convSpec{stride: 1, pad: [2]int{p.kernel / 2, p.kernel / 2}, groups: p.dim, bias: true,
		kernel: [2]int{p.kernel, p.kernel}, in: p.dim, out: p.dim}
}

func (p repCPE) shapes(sh nn.Shapes, prefix string, unfolded bool) {
	if unfolded {
		addConvShapes(sh, prefix+".pos_enc", p.spec())
	} else {
		addConvShapes(sh, prefix+".reparam_conv", p.spec())
	}
}

func (p repCPE) fold(sd checkpoint.StateDict, prefix string) error {
	if hasFolded(sd, prefix) {
		return nil
	}
	w, err := take(sd, prefix+".pos_enc.weight", p.dim, 1, p.kernel, p.kernel)
	if err != nil {
		return err
	}
	b, err := take(sd, prefix+".pos_enc.bias", p.dim)
	if err != nil {
		return err
	}
	k := identityKern(p.dim, 1, p.kernel, p.kernel)
	for i, v := range w {
		k.w[i] += float64(v)
	}
	for i, v := range b {
		k.b[i] = float64(v)
	}
	putFolded(sd, prefix, k)
	return nil
}

func (p repCPE) build(ctx *context.Context, x *Node, unfolded bool) *Node {
	if !unfolded {
		return conv(ctx.In("reparam_conv"), x, p.spec())
	}
	return Add(x, conv(ctx.In("pos_enc"), x, p.spec()))
}

// attentionBlock is FastViT's AttentionBlock over dim channels:
//
//	x = x + γ₁ ⊙ proj(MHSA(qkv(norm(x))));  x = x + γ₂ ⊙ ConvMlp(x)
//
// with norm a BatchNorm2d (mci0..2) or a LayerNorm over channels, eps 1e-5 (mci3/4) ("norm");
// MHSA over the H·W positions in row-major order, qkv a Linear without bias
// ("token_mixer.qkv.weight" [3C, C], rows q, k, v, each split into heads of headDim), scale
// 1/√headDim, proj a Linear with bias ("token_mixer.proj"); γ₁, γ₂ the layer scales
// ("layer_scale_1.gamma", "layer_scale_2.gamma").
type attentionBlock struct {
	dim, headDim int
	norm         Norm
	mlp          convMLP
}

func (a attentionBlock) shapes(sh nn.Shapes, prefix string, _ bool) {
	if a.norm == BatchNorm {
		addBatchNormShapes(sh, prefix+".norm", a.dim)
	} else {
		sh.AddNorm(prefix+".norm", a.dim)
	}
	sh[prefix+".token_mixer.qkv.weight"] = []int{3 * a.dim, a.dim}
	sh.AddLinear(prefix+".token_mixer.proj", a.dim, a.dim, true)
	sh[prefix+".layer_scale_1.gamma"] = []int{a.dim, 1, 1}
	sh[prefix+".layer_scale_2.gamma"] = []int{a.dim, 1, 1}
	a.mlp.shapes(sh, prefix+".mlp")
}

func (a attentionBlock) fold(checkpoint.StateDict, string) error { return nil }

func (a attentionBlock) build(ctx *context.Context, x *Node, _ bool) *Node {
	g := x.Graph()
	d := x.Shape().Dimensions
	c, batch, h, w := d[0], d[1], d[2], d[3]
	tokens := Reshape(TransposeAllDims(x, 1, 2, 3, 0), batch, h*w, c) // row-major positions
	// qkvW is [3C, C] or [C, 3C] (nn.ParamLinearLayout); inAxis runs over the C inputs.
	qkvW, inAxis := nn.LinearWeight(ctx.In("token_mixer").In("qkv"), x, "weight", 3*c, c)
	var qkv *Node
	if a.norm == BatchNorm && scaleOutputs(ctx) {
		// The BN applied to the tokens (see scaleOutputs); XLA fuses it into the transposition
		// that makes them.
		scale, shift := bnAffine(ctx.In("norm"), g, c)
		normed := Add(Mul(tokens, ExpandLeftToRank(castTo(scale, x), 3)), ExpandLeftToRank(castTo(shift, x), 3))
		qkv = DotGeneral(normed, []int{2}, nil, qkvW, []int{inAxis}, nil)
	} else if a.norm == BatchNorm {
		// qkv(x·s + t) = (W·diag(s))·x + W·t: the BN is folded into the projection.
		scale, shift := bnAffine(ctx.In("norm"), g, c)
		scale, shift = castTo(scale, x), castTo(shift, x)
		bias := DotGeneral(qkvW, []int{inAxis}, nil, shift, []int{0}, nil) // [3C]
		qkvW = Mul(qkvW, alongAxis(scale, inAxis))
		qkv = Add(DotGeneral(tokens, []int{2}, nil, qkvW, []int{inAxis}, nil), ExpandLeftToRank(bias, 3))
	} else {
		normed := nn.LayerNorm(ctx.In("norm"), tokens, 1e-5)
		qkv = DotGeneral(normed, []int{2}, nil, qkvW, []int{inAxis}, nil)
	}
	heads := c / a.headDim
	qkv = Reshape(qkv, batch, h*w, 3, heads, a.headDim)
	q := Reshape(Slice(qkv, AxisRange(), AxisRange(), AxisElem(0)), batch, h*w, heads, a.headDim)
	k := Reshape(Slice(qkv, AxisRange(), AxisRange(), AxisElem(1)), batch, h*w, heads, a.headDim)
	v := Reshape(Slice(qkv, AxisRange(), AxisRange(), AxisElem(2)), batch, h*w, heads, a.headDim)
	att := nn.ScaledDotProductAttention(q, k, v, nil) // [B, T, H, D]
	att = Reshape(att, batch, h*w, c)
	// proj, then γ₁ (folded into proj's weights where scaleOutputs says not to scale the
	// activations), computed channels-first: [C, B·H·W].
	gamma1 := layerScale(ctx.In("layer_scale_1"), x, c)
	pw, pIn := nn.LinearWeight(ctx.In("token_mixer").In("proj"), x, "weight", c, c)
	pb := castTo(nn.Weight(ctx.In("token_mixer").In("proj"), g, "bias", c), x)
	if scaleOutputs(ctx) {
		y := DotGeneral(pw, []int{pIn}, nil, att, []int{2}, nil) // [C, B, T]
		x = Add(x, channelScale(channelBias(Reshape(y, c, batch, h, w), pb), gamma1))
	} else {
		pw, pb = Mul(pw, alongAxis(gamma1, 1-pIn)), Mul(pb, gamma1)
		y := DotGeneral(pw, []int{pIn}, nil, att, []int{2}, nil) // [C, B, T]
		x = Add(x, channelBias(Reshape(y, c, batch, h, w), pb))
	}
	gamma2 := layerScale(ctx.In("layer_scale_2"), x, c)
	return Add(x, a.mlp.build(ctx.In("mlp"), x, gamma2))
}

// alongAxis reshapes the vector v [n] to broadcast along axis (0 or 1) of an [n, m] / [m, n] matrix:
// [n, 1] for axis 0, [1, n] for axis 1.
func alongAxis(v *Node, axis int) *Node {
	n := v.Shape().Dimensions[0]
	if axis == 0 {
		return Reshape(v, n, 1)
	}
	return Reshape(v, 1, n)
}
