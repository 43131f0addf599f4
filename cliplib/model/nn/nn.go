// Package nn holds the building blocks shared by every CLIP and MobileCLIP tower, written as GoMLX
// graph functions over a *context.Context and *graph.Node, with PyTorch's tensor layouts and names.
//
// Weights are never created here: every block reads variables that a checkpoint (or a synthetic
// random state dict) has already placed in the context, under the PyTorch parameter names
// (scope "visual/transformer/resblocks/0/attn", variable "in_proj_weight"). A missing variable
// or one of the wrong shape panics with an error naming the full parameter path; the encoder
// turns such panics into errors at graph-build time.
//
// Layouts follow PyTorch:
//   - Linear weights are [out, in]; activations are [..., in]. A context may instead hold them
//     transposed, [in, out], when ParamLinearLayout is LayoutInOut (see LinearWeight): the encoder
//     does so on XLA's CPU backend, whose matrix products run much faster with that layout.
//   - Convolution inputs are NCHW, kernels OIHW ([out, in/groups, kh, kw]). Towers that run
//     channels-last (Conv2dNHWC) read kernels through ConvKernel, and a context may then hold
//     them as HWIO ([kh, kw, in/groups, out]) when ParamConvLayout is LayoutHWIO: the encoder
//     does so on XLA's CPU backend, which otherwise transposes every kernel on every call.
package nn

import (
	"fmt"
	"math"
	"strings"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/ml/context"
)

// ParamName converts a context scope and a variable name into the dotted PyTorch parameter name,
// e.g. ("/visual/ln_pre", "weight") -> "visual.ln_pre.weight".
func ParamName(scope, name string) string {
	scope = strings.Trim(scope, context.ScopeSeparator)
	if scope == "" {
		return name
	}
	return strings.ReplaceAll(scope, context.ScopeSeparator, ".") + "." + name
}

// Has reports whether the variable name exists in the current scope of ctx.
func Has(ctx *context.Context, name string) bool {
	return ctx.GetVariableByScopeAndName(ctx.Scope(), name) != nil
}

// Weight returns the graph node of the variable name in the current scope of ctx. If dims are
// given, the variable must have exactly those dimensions (a -1 accepts any size on that axis).
// It panics with an error naming the PyTorch parameter when the variable is missing or mis-shaped.
func Weight(ctx *context.Context, g *Graph, name string, dims ...int) *Node {
	v := ctx.GetVariableByScopeAndName(ctx.Scope(), name)
	if v == nil {
		Panicf("checkpoint is missing tensor %q", ParamName(ctx.Scope(), name))
	}
	if dims != nil {
		got := v.Shape().Dimensions
		ok := len(got) == len(dims)
		for i := 0; ok && i < len(dims); i++ {
			ok = dims[i] < 0 || dims[i] == got[i]
		}
		if !ok {
			Panicf("tensor %q has shape %v, the configured architecture expects %v",
				ParamName(ctx.Scope(), name), got, dims)
		}
	}
	return v.ValueGraph(g)
}

// WeightShape returns the dimensions of variable name in the current scope, panicking if absent.
func WeightShape(ctx *context.Context, name string) []int {
	v := ctx.GetVariableByScopeAndName(ctx.Scope(), name)
	if v == nil {
		Panicf("checkpoint is missing tensor %q", ParamName(ctx.Scope(), name))
	}
	return v.Shape().Dimensions
}

// castLike converts w to the dtype of x when they differ (weights kept in float32 while
// activations run in bfloat16, for instance).
func castLike(w, x *Node) *Node {
	if w.DType() != x.DType() {
		return ConvertDType(w, x.DType())
	}
	return w
}

// ParamLinearLayout is the context parameter (string) telling how the weights of torch Linear
// layers (every parameter IsLinearWeight accepts) are stored in the context: LayoutOutIn (the
// default, PyTorch's [out, in]) or LayoutInOut ([in, out], transposed once when the weights are
// placed). Graph code reads them only through LinearWeight, which hides the difference.
//
// Why: XLA's CPU backend runs its matrix products with Eigen, which re-packs the right-hand
// operand of every product on every call; contracting the weight's first axis lets it pack with
// contiguous reads instead of strided ones, which more than halves batch-1 latency of ViT-B/32.
const ParamLinearLayout = "clipkit_linear_layout"

// Layouts of Linear weights for ParamLinearLayout.
const (
	// LayoutOutIn is PyTorch's layout of nn.Linear.weight: [out, in].
	LayoutOutIn = "out_in"
	// LayoutInOut is the transposed layout [in, out].
	LayoutInOut = "in_out"
)

// IsLinearWeight reports whether the parameter name with dimensions dims is the weight of a torch
// Linear layer ([out, in]): every 2-D "*.weight" except embedding tables ("*token_embedding.weight"),
// and the fused attention projections "*.in_proj_weight". These are the tensors a context holds
// transposed under LayoutInOut.
func IsLinearWeight(name string, dims []int) bool {
	if len(dims) != 2 {
		return false
	}
	if strings.HasSuffix(name, "in_proj_weight") {
		return true
	}
	return strings.HasSuffix(name, ".weight") && !strings.HasSuffix(name, "token_embedding.weight")
}

// LinearWeight returns the weight of a torch Linear layer stored as variable name in ctx, for out
// outputs (-1 accepts any) and in inputs, in the dtype of like, together with the axis of the
// returned node that runs over the inputs: 1 for LayoutOutIn ([out, in]), 0 for LayoutInOut
// ([in, out]). Contract that axis: DotGeneral(x, []int{x.Rank()-1}, nil, w, []int{inAxis}, nil).
func LinearWeight(ctx *context.Context, like *Node, name string, out, in int) (w *Node, inAxis int) {
	if context.GetParamOr(ctx, ParamLinearLayout, LayoutOutIn) == LayoutInOut {
		return castLike(Weight(ctx, like.Graph(), name, in, out), like), 0
	}
	return castLike(Weight(ctx, like.Graph(), name, out, in), like), 1
}

// Linear applies y = x·Wᵀ + b with W "weight" [out, in] (stored as ParamLinearLayout says) and
// optional b "bias" [out] read from ctx. x is [..., in]; the result is [..., out].
func Linear(ctx *context.Context, x *Node) *Node {
	in := x.Shape().Dimensions[x.Rank()-1]
	w, inAxis := LinearWeight(ctx, x, "weight", -1, in)
	y := DotGeneral(x, []int{x.Rank() - 1}, nil, w, []int{inAxis}, nil)
	if Has(ctx, "bias") {
		out := w.Shape().Dimensions[1-inAxis]
		b := castLike(Weight(ctx, x.Graph(), "bias", out), x)
		y = Add(y, ExpandLeftToRank(b, y.Rank()))
	}
	return y
}

// MatMulParam computes x·P for a projection parameter P of shape [in, out] stored without the
// Linear convention (CLIP's "proj" and "text_projection"). x is [..., in].
func MatMulParam(ctx *context.Context, x *Node, name string) *Node {
	in := x.Shape().Dimensions[x.Rank()-1]
	p := castLike(Weight(ctx, x.Graph(), name, in, -1), x)
	return DotGeneral(x, []int{x.Rank() - 1}, nil, p, []int{0}, nil)
}

// LayerNorm normalises x over its last axis with "weight" (gain) and "bias" (offset) read from
// ctx, as torch.nn.LayerNorm does. Statistics are computed in float32 whatever the dtype of x,
// as CLIP's LayerNorm subclass does. x is [..., width].
func LayerNorm(ctx *context.Context, x *Node, eps float64) *Node {
	width := x.Shape().Dimensions[x.Rank()-1]
	dtype := x.DType()
	xf := x
	if dtype != dtypes.Float32 {
		xf = ConvertDType(x, dtypes.Float32)
	}
	mean := ReduceAndKeep(xf, ReduceMean, -1)
	centered := Sub(xf, mean)
	variance := ReduceAndKeep(Square(centered), ReduceMean, -1)
	normed := Mul(centered, Rsqrt(AddScalar(variance, eps)))
	gain := Weight(ctx, x.Graph(), "weight", width)
	offset := Weight(ctx, x.Graph(), "bias", width)
	if gain.DType() != dtypes.Float32 {
		gain, offset = ConvertDType(gain, dtypes.Float32), ConvertDType(offset, dtypes.Float32)
	}
	y := Add(Mul(normed, ExpandLeftToRank(gain, x.Rank())), ExpandLeftToRank(offset, x.Rank()))
	if dtype != dtypes.Float32 {
		y = ConvertDType(y, dtype)
	}
	return y
}

// Activation names a pointwise non-linearity used by a tower.
type Activation string

const (
	// QuickGELU is x·sigmoid(1.702·x), used by OpenAI's CLIP weights.
	QuickGELU Activation = "quick_gelu"
	// GELU is the exact (erf) GELU, used by OpenCLIP-trained and MobileCLIP towers.
	GELU Activation = "gelu"
	// ReLU is max(x, 0), used by the ResNet towers.
	ReLU Activation = "relu"
)

// Apply applies the activation to x.
func (a Activation) Apply(x *Node) *Node {
	switch a {
	case QuickGELU:
		return Mul(x, Sigmoid(MulScalar(x, 1.702)))
	case GELU, "":
		// 0.5·x·(1 + erf(x/√2)), exactly as torch.nn.GELU() with approximate="none".
		return Mul(MulScalar(x, 0.5), OnePlus(Erf(MulScalar(x, 1/math.Sqrt2))))
	case ReLU:
		return Max(x, ZerosLike(x))
	}
	Panicf("unknown activation %q", string(a))
	return nil
}

// Validate returns an error if a is not a known activation.
func (a Activation) Validate() error {
	switch a {
	case QuickGELU, GELU, ReLU:
		return nil
	}
	return fmt.Errorf("unknown activation %q (want %q, %q or %q)", string(a), QuickGELU, GELU, ReLU)
}

// CausalMask returns an additive [length, length] mask: 0 on and below the diagonal, -inf above,
// as CLIP's text tower builds it (fill(-inf).triu_(1)).
func CausalMask(g *Graph, dtype dtypes.DType, length int) *Node {
	rows := Iota(g, shapes.Make(dtypes.Int32, length, length), 0)
	cols := Iota(g, shapes.Make(dtypes.Int32, length, length), 1)
	zeros := Zeros(g, shapes.Make(dtype, length, length))
	negInf := AddScalar(zeros, math.Inf(-1))
	return Where(GreaterThan(cols, rows), negInf, zeros)
}

// MultiheadAttention applies torch.nn.MultiheadAttention (self-attention) with the fused
// "in_proj_weight" [3W, W] / "in_proj_bias" [3W] (rows ordered q, k, v) and "out_proj" Linear
// read from ctx. x is [batch, tokens, W]; additiveMask, if not nil, is [tokens, tokens] and is
// added to the attention scores. The head dimension is W/heads. Returns [batch, tokens, W].
func MultiheadAttention(ctx *context.Context, x *Node, heads int, additiveMask *Node) *Node {
	g := x.Graph()
	dims := x.Shape().Dimensions
	batch, tokens, width := dims[0], dims[1], dims[2]
	if width%heads != 0 {
		Panicf("attention width %d is not divisible by %d heads", width, heads)
	}
	headDim := width / heads
	w, inAxis := LinearWeight(ctx, x, "in_proj_weight", 3*width, width)
	qkv := DotGeneral(x, []int{2}, nil, w, []int{inAxis}, nil) // [B, T, 3W]
	if Has(ctx, "in_proj_bias") {
		b := castLike(Weight(ctx, g, "in_proj_bias", 3*width), x)
		qkv = Add(qkv, ExpandLeftToRank(b, 3))
	}
	return attendQKV(ctx.In("out_proj"), qkv, batch, tokens, heads, headDim, additiveMask)
}

// attendQKV runs scaled dot-product attention on a fused [B, T, 3·H·D] projection and applies
// the output projection read from ctx (a Linear). It returns [B, T, H·D].
func attendQKV(outCtx *context.Context, qkv *Node, batch, tokens, heads, headDim int, additiveMask *Node) *Node {
	qkv = Reshape(qkv, batch, tokens, 3, heads, headDim)
	q := Reshape(Slice(qkv, AxisRange(), AxisRange(), AxisElem(0)), batch, tokens, heads, headDim)
	k := Reshape(Slice(qkv, AxisRange(), AxisRange(), AxisElem(1)), batch, tokens, heads, headDim)
	v := Reshape(Slice(qkv, AxisRange(), AxisRange(), AxisElem(2)), batch, tokens, heads, headDim)
	return AttentionOut(outCtx, ScaledDotProductAttention(q, k, v, additiveMask))
}

// ScaledDotProductAttention computes softmax(q·kᵀ/√d + mask)·v for q [B, Tq, H, D] and k, v
// [B, Tk, H, D]; additiveMask, if given, is [Tq, Tk]. Softmax runs in float32. Returns
// [B, Tq, H, D].
func ScaledDotProductAttention(q, k, v, additiveMask *Node) *Node {
	headDim := q.Shape().Dimensions[3]
	scores := DotGeneral(q, []int{3}, []int{0, 2}, k, []int{3}, []int{0, 2}) // [B, H, Tq, Tk]
	dtype := scores.DType()
	if dtype != dtypes.Float32 {
		scores = ConvertDType(scores, dtypes.Float32)
	}
	scores = MulScalar(scores, 1/math.Sqrt(float64(headDim)))
	if additiveMask != nil {
		scores = Add(scores, ExpandLeftToRank(ConvertDType(additiveMask, dtypes.Float32), 4))
	}
	probs := Softmax(scores, -1)
	if dtype != dtypes.Float32 {
		probs = ConvertDType(probs, dtype)
	}
	out := DotGeneral(probs, []int{3}, []int{0, 1}, v, []int{1}, []int{0, 2}) // [B, H, Tq, D]
	return TransposeAllDims(out, 0, 2, 1, 3)                                  // [B, Tq, H, D]
}

// AttentionOut merges heads of a [B, T, H, D] attention result and applies the output Linear
// read from ctx. Returns [B, T, H·D].
func AttentionOut(ctx *context.Context, heads *Node) *Node {
	d := heads.Shape().Dimensions
	return Linear(ctx, Reshape(heads, d[0], d[1], d[2]*d[3]))
}

// ResidualAttentionBlock is CLIP's pre-LN transformer block:
//
//	x = x + attn(ln_1(x)); x = x + mlp.c_proj(act(mlp.c_fc(ln_2(x))))
//
// with torch names ln_1, attn, ln_2, mlp.c_fc, mlp.c_proj under ctx. x is [B, T, W].
func ResidualAttentionBlock(ctx *context.Context, x *Node, heads int, mask *Node, act Activation, eps float64) *Node {
	h := LayerNorm(ctx.In("ln_1"), x, eps)
	x = Add(x, MultiheadAttention(ctx.In("attn"), h, heads, mask))
	h = LayerNorm(ctx.In("ln_2"), x, eps)
	h = act.Apply(Linear(ctx.In("mlp").In("c_fc"), h))
	return Add(x, Linear(ctx.In("mlp").In("c_proj"), h))
}

// Transformer applies "resblocks.{i}" for i in [0, layers) under ctx. x is [B, T, W].
func Transformer(ctx *context.Context, x *Node, layers, heads int, mask *Node, act Activation, eps float64) *Node {
	blocks := ctx.In("resblocks")
	for i := 0; i < layers; i++ {
		x = ResidualAttentionBlock(blocks.In(fmt.Sprint(i)), x, heads, mask, act, eps)
	}
	return x
}

// NCHW is the axes configuration of PyTorch's Conv2d: NCHW input and output, OIHW kernel.
var NCHW = backends.ConvolveAxesConfig{
	InputBatch: 0, InputChannels: 1, InputSpatial: []int{2, 3},
	KernelOutputChannels: 0, KernelInputChannels: 1, KernelSpatial: []int{2, 3},
	OutputBatch: 0, OutputChannels: 1, OutputSpatial: []int{2, 3},
}

// Conv2dOptions are the hyper-parameters of torch.nn.Conv2d.
type Conv2dOptions struct {
	Stride  [2]int // defaults to 1
	Padding [2]int // symmetric zero padding per spatial axis
	Groups  int    // defaults to 1
}

// Conv2d applies a PyTorch Conv2d whose "weight" [out, in/groups, kh, kw] (and optional "bias"
// [out]) are read from ctx. x is [B, in, H, W]; the result is [B, out, H', W'].
func Conv2d(ctx *context.Context, x *Node, opt Conv2dOptions) *Node {
	g := x.Graph()
	groups := max(opt.Groups, 1)
	in := x.Shape().Dimensions[1]
	if in%groups != 0 {
		Panicf("conv %q: %d input channels are not divisible by %d groups",
			ParamName(ctx.Scope(), "weight"), in, groups)
	}
	w := castLike(Weight(ctx, g, "weight", -1, in/groups, -1, -1), x)
	stride := opt.Stride
	if stride[0] == 0 {
		stride = [2]int{1, 1}
	}
	// Kernel dilations are passed explicitly as 1: GoMLX v0.26.0's simplego backend indexes them
	// unconditionally in its grouped-convolution kernel and panics (index out of range, in a worker
	// goroutine) when they are nil and groups > 1. The result is the same as PyTorch's dilation 1.
	y := ConvGeneral(x, w, NCHW, stride[:],
		[][2]int{{opt.Padding[0], opt.Padding[0]}, {opt.Padding[1], opt.Padding[1]}},
		nil, []int{1, 1}, groups, 1)
	if Has(ctx, "bias") {
		out := w.Shape().Dimensions[0]
		b := castLike(Weight(ctx, g, "bias", out), x)
		y = Add(y, Reshape(b, 1, out, 1, 1))
	}
	return y
}

// BatchNorm2d applies torch.nn.BatchNorm2d in inference mode with "weight", "bias",
// "running_mean" and "running_var" read from ctx. x is [B, C, H, W].
func BatchNorm2d(ctx *context.Context, x *Node, eps float64) *Node {
	c := x.Shape().Dimensions[1]
	scale, shift := BatchNormAffine(ctx, x, c, eps)
	return Add(Mul(x, Reshape(scale, 1, c, 1, 1)), Reshape(shift, 1, c, 1, 1))
}

// BatchNormAffine returns inference BatchNorm as a per-channel affine map y = x·scale + shift
// ([c] each, in the dtype of like): scale = γ/√(σ²+ε), shift = β − μ·scale, from "weight",
// "bias", "running_mean" and "running_var" in ctx.
func BatchNormAffine(ctx *context.Context, like *Node, c int, eps float64) (scale, shift *Node) {
	g := like.Graph()
	gamma := Weight(ctx, g, "weight", c)
	beta := Weight(ctx, g, "bias", c)
	mean := Weight(ctx, g, "running_mean", c)
	variance := Weight(ctx, g, "running_var", c)
	scale = Mul(gamma, Rsqrt(AddScalar(variance, eps)))
	shift = Sub(beta, Mul(mean, scale))
	return castLike(scale, like), castLike(shift, like)
}

// NormalizeFeatures divides x [..., E] by its L2 norm over the last axis (computed in float32).
func NormalizeFeatures(x *Node) *Node {
	xf := x
	if x.DType() != dtypes.Float32 {
		xf = ConvertDType(x, dtypes.Float32)
	}
	norm := Sqrt(ReduceAndKeep(Square(xf), ReduceSum, -1))
	return Div(xf, norm)
}

// Panicf panics with an error built from format and args. Graph builders use it for invalid
// shapes and missing weights; the encoder recovers such panics and returns them as errors.
func Panicf(format string, args ...any) {
	panic(fmt.Errorf(format, args...))
}

// Shapes maps PyTorch parameter names to their dimensions. Tower packages describe the parameters
// they expect with it (see vit.ParamShapes), so that a checkpoint can be validated (missing,
// unexpected and mis-shaped tensors) before any graph is built.
type Shapes map[string][]int

// AddLinear records "prefix.weight" [out, in] and, if bias, "prefix.bias" [out].
func (s Shapes) AddLinear(prefix string, in, out int, bias bool) {
	s[prefix+".weight"] = []int{out, in}
	if bias {
		s[prefix+".bias"] = []int{out}
	}
}

// AddNorm records the affine parameters "prefix.weight" and "prefix.bias" of a LayerNorm over width.
func (s Shapes) AddNorm(prefix string, width int) {
	s[prefix+".weight"] = []int{width}
	s[prefix+".bias"] = []int{width}
}

// AddBatchNorm records a BatchNorm2d's weight, bias, running_mean and running_var over channels.
// (num_batches_tracked is a training counter and is not part of the inference parameters.)
func (s Shapes) AddBatchNorm(prefix string, channels int) {
	s.AddNorm(prefix, channels)
	s[prefix+".running_mean"] = []int{channels}
	s[prefix+".running_var"] = []int{channels}
}

// AddTransformer records the parameters of nn.Transformer: layers residual attention blocks of the
// given width with a 4·width MLP, under prefix ("visual.transformer", "transformer", ...).
func (s Shapes) AddTransformer(prefix string, layers, width int) {
	for i := 0; i < layers; i++ {
		p := fmt.Sprintf("%s.resblocks.%d.", prefix, i)
		s.AddNorm(p+"ln_1", width)
		s[p+"attn.in_proj_weight"] = []int{3 * width, width}
		s[p+"attn.in_proj_bias"] = []int{3 * width}
		s.AddLinear(p+"attn.out_proj", width, width, true)
		s.AddNorm(p+"ln_2", width)
		s.AddLinear(p+"mlp.c_fc", width, 4*width, true)
		s.AddLinear(p+"mlp.c_proj", 4*width, width, true)
	}
}

// Merge copies every entry of other into s.
func (s Shapes) Merge(other Shapes) {
	for k, v := range other {
		s[k] = v
	}
}

// AvgPool2d applies torch.nn.AvgPool2d(k) (kernel = stride = k, no padding, trailing rows and
// columns that do not fill a window are dropped) to x [B, C, H, W]. It is computed exactly as a
// reshape and a mean over each k×k window.
func AvgPool2d(x *Node, k int) *Node {
	if k == 1 {
		return x
	}
	d := x.Shape().Dimensions
	h, w := d[2]/k, d[3]/k
	if h == 0 || w == 0 {
		Panicf("AvgPool2d(%d) on a %d×%d feature map", k, d[2], d[3])
	}
	if h*k != d[2] || w*k != d[3] {
		x = Slice(x, AxisRange(), AxisRange(), AxisRange(0, h*k), AxisRange(0, w*k))
	}
	x = Reshape(x, d[0], d[1], h, k, w, k)
	return ReduceMean(x, 3, 5)
}
