package mobileclip

import (
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/clipkit/clipkit/cliplib/checkpoint"
	"github.com/clipkit/clipkit/cliplib/model/nn"
)

// layerScale reads a LayerScale2d γ ("gamma", [C, 1, 1]) from ctx as a [C] vector in the dtype of
// like.
func layerScale(ctx *context.Context, like *Node, c int) *Node {
	return castTo(Reshape(nn.Weight(ctx, like.Graph(), "gamma", c, 1, 1), c), like)
}

// repMixer is FastViT's RepMixer token mixer over dim channels with a depthwise kernel:
//
//	train time: x + γ ⊙ (mixer(x) − norm(x))
//
// where mixer is a MobileOne block (depthwise k×k conv+BN, 1×1 scale conv+BN when the kernel has
// more than one row, identity BN; no activation), norm is a MobileOne block with only the
// identity BN, and γ ("layer_scale.gamma") is a per-channel scale. Folded: one depthwise conv
// with bias ("reparam_conv").
type repMixer struct {
	dim    int
	kernel [2]int
}

func (r repMixer) mixer() mobileOne {
	m := newMobileOne(r.dim, r.dim, r.kernel, 1, r.dim, true, 1)
	m.act = false
	return m
}

func (r repMixer) norm() mobileOne {
	m := newMobileOne(r.dim, r.dim, r.kernel, 1, r.dim, false, 0)
	m.act = false
	return m
}

func (r repMixer) shapes(sh nn.Shapes, prefix string, unfolded bool) {
	if !unfolded {
		addConvShapes(sh, prefix+".reparam_conv", r.mixer().spec(r.kernel, true))
		return
	}
	r.mixer().shapes(sh, prefix+".mixer", true)
	r.norm().shapes(sh, prefix+".norm", true)
	sh[prefix+".layer_scale.gamma"] = []int{r.dim, 1, 1}
}

func (r repMixer) fold(sd checkpoint.StateDict, prefix string) error {
	if hasFolded(sd, prefix) {
		return nil
	}
	mixer, err := r.mixer().foldedKernel(sd, prefix+".mixer")
	if err != nil {
		return err
	}
	norm, err := r.norm().foldedKernel(sd, prefix+".norm")
	if err != nil {
		return err
	}
	gamma, err := take(sd, prefix+".layer_scale.gamma", r.dim, 1, 1)
	if err != nil {
		return err
	}
	k := identityKern(r.dim, 1, r.kernel[0], r.kernel[1])
	per := len(k.w) / r.dim
	for c := 0; c < r.dim; c++ {
		g := float64(gamma[c])
		for i := c * per; i < (c+1)*per; i++ {
			k.w[i] += g * (mixer.w[i] - norm.w[i])
		}
		k.b[c] = g * (mixer.b[c] - norm.b[c])
	}
	putFolded(sd, prefix, k)
	return nil
}

func (r repMixer) build(ctx *context.Context, x *Node, unfolded bool) *Node {
	if !unfolded {
		return conv(ctx.In("reparam_conv"), x, r.mixer().spec(r.kernel, true))
	}
	diff := Sub(r.mixer().build(ctx.In("mixer"), x, true), r.norm().build(ctx.In("norm"), x, true))
	return Add(x, Mul(diff, Reshape(layerScale(ctx.In("layer_scale"), x, r.dim), r.dim, 1, 1, 1)))
}

// convMLP is FastViT's ConvMlp (Apple's ConvFFN): a depthwise conv (no bias, padding kernel/2)
// and BN ("conv.conv", "conv.bn"), then a 1×1 conv to hidden channels ("fc1", with bias), GELU,
// and a 1×1 conv back ("fc2", with bias). outScale, if not nil ([C]), multiplies the output
// (the layer scale that follows the MLP in every block; see pointwise).
type convMLP struct {
	dim, hidden int
	kernel      [2]int
}

func (m convMLP) dwSpec() convSpec {
	return convSpec{stride: 1, pad: [2]int{m.kernel[0] / 2, m.kernel[1] / 2}, groups: m.dim, kernel: m.kernel, in: m.dim, out: m.dim}
}

func (m convMLP) shapes(sh nn.Shapes, prefix string) {
	addConvShapes(sh, prefix+".conv.conv", m.dwSpec())
	addBatchNormShapes(sh, prefix+".conv.bn", m.dim)
	addConvShapes(sh, prefix+".fc1", convSpec{kernel: [2]int{1, 1}, in: m.dim, out: m.hidden, bias: true})
	addConvShapes(sh, prefix+".fc2", convSpec{kernel: [2]int{1, 1}, in: m.hidden, out: m.dim, bias: true})
}

// build applies the MLP to x [C, B, H, W]. The BN is folded into the depthwise kernel inside the
// graph (C·kh·kw values); outScale is applied as pointwise says.
func (m convMLP) build(ctx *context.Context, x, outScale *Node) *Node {
	g := x.Graph()
	s := m.dwSpec()
	s.algo = context.GetParamOr(ctx, nn.ParamConvAlgorithm, nn.ConvMatMul)
	w := nn.Weight(ctx.In("conv").In("conv"), g, "weight", m.dim, 1, m.kernel[0], m.kernel[1])
	scale, shift := bnAffine(ctx.In("conv").In("bn"), g, m.dim)
	w = Mul(castTo(w, scale), Reshape(scale, m.dim, 1, 1, 1))
	s.bias = true
	h := conv2d(x, w, shift, s)
	h = nn.GELU.Apply(pointwise(ctx.In("fc1"), h, m.dim, m.hidden, nil))
	return pointwise(ctx.In("fc2"), h, m.hidden, m.dim, outScale)
}

// pointwise applies the 1×1 conv with bias read from ctx ("weight" [out, in, 1, 1], "bias"
// [out]) to x [in, ...] as a matrix product, returning [out, ...]; outScale, if not nil ([out]),
// scales the output.
func pointwise(ctx *context.Context, x *Node, in, out int, outScale *Node) *Node {
	g := x.Graph()
	w := castTo(Reshape(nn.Weight(ctx, g, "weight", out, in, 1, 1), out, in), x)
	b := castTo(nn.Weight(ctx, g, "bias", out), x)
	if outScale != nil && scaleOutputs(ctx) {
		return channelScale(channelBias(DotGeneral(w, []int{1}, nil, x, []int{0}, nil), b), outScale)
	}
	if outScale != nil {
		w = Mul(w, Reshape(castTo(outScale, x), out, 1))
		b = Mul(b, castTo(outScale, x))
	}
	return channelBias(DotGeneral(w, []int{1}, nil, x, []int{0}, nil), b)
}

// repMixerBlock is FastViT's RepMixerBlock: x = token_mixer(x); x = x + γ ⊙ mlp(x), γ being
// "layer_scale.gamma".
type repMixerBlock struct {
	mixer repMixer
	mlp   convMLP
}

func newRepMixerBlock(dim int, mixKernel, mlpKernel [2]int, hidden int) repMixerBlock {
	return repMixerBlock{mixer: repMixer{dim: dim, kernel: mixKernel}, mlp: convMLP{dim: dim, hidden: hidden, kernel: mlpKernel}}
}

func (b repMixerBlock) shapes(sh nn.Shapes, prefix string, unfolded bool) {
	b.mixer.shapes(sh, prefix+".token_mixer", unfolded)
	b.mlp.shapes(sh, prefix+".mlp")
	sh[prefix+".layer_scale.gamma"] = []int{b.mixer.dim, 1, 1}
}

func (b repMixerBlock) fold(sd checkpoint.StateDict, prefix string) error {
	return b.mixer.fold(sd, prefix+".token_mixer")
}

func (b repMixerBlock) build(ctx *context.Context, x *Node, unfolded bool) *Node {
	x = b.mixer.build(ctx.In("token_mixer"), x, unfolded)
	gamma := layerScale(ctx.In("layer_scale"), x, b.mixer.dim)
	return Add(x, b.mlp.build(ctx.In("mlp"), x, gamma))
}

// scaleOutputs reports whether the per-channel factors around a product (a block's layer scale
// after fc2 or the attention's proj, the BatchNorm before the attention's qkv) are applied to the
// activations instead of being folded into the weights. On XLA backends (nn.ParamConvAlgorithm =
// nn.ConvNative) the multiplication fuses into the loop that already adds the bias and the
// residual, while a fold rewrites the weights on every call (MobileCLIP-S0's image tower: 24 MB of
// them), and XLA scheduled those copies early and held them: its buffer of intermediates at
// batch 1 was 36 MiB with the fold and is 13 MiB without, under the 32 MiB from which glibc maps
// every block afresh on each call (docs/performance.md). simplego runs each elementwise op as a
// pass of its own, so there the weights are scaled.
func scaleOutputs(ctx *context.Context) bool {
	return context.GetParamOr(ctx, nn.ParamConvAlgorithm, nn.ConvMatMul) == nn.ConvNative
}
