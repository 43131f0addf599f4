package mobileclip

import (
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/clipkit/clipkit/cliplib/model/nn"
)

// Convolutions on channels-last activations.
//
// GoMLX v0.26.0's simplego backend runs ConvGeneral as a direct loop, about ten times slower
// than its DotGeneral on 1×1 convolutions and much slower still with groups (measured in
// conv_test.go's benchmarks). MobileCLIP's convolutions are therefore written here as matrix
// products (1×1 and dense convolutions, through an im2col built from slices) and as sums of
// shifted slices times per-channel taps (depthwise convolutions, with or without a channel
// multiplier). All of them compute exactly what torch.nn.functional.conv2d computes.

// convSpec are the hyper-parameters of a PyTorch Conv2d.
type convSpec struct {
	stride  int
	pad     [2]int // zero padding (rows, columns), symmetric
	groups  int
	bias    bool
	kernel  [2]int // (kh, kw)
	in, out int
}

// outSize returns the output extent of a convolution along one axis.
func outSize(in, k, stride, pad int) int { return (in+2*pad-k)/stride + 1 }

// pad2d zero-pads x [B, H, W, C] by (top, bottom) rows and (left, right) columns. simplego has no
// Pad op, so the borders are concatenated.
func pad2d(x *Node, top, bottom, left, right int) *Node {
	if top == 0 && bottom == 0 && left == 0 && right == 0 {
		return x
	}
	g := x.Graph()
	d := x.Shape().Dimensions
	b, h, w, c := d[0], d[1], d[2], d[3]
	parts := []*Node{}
	if top > 0 {
		parts = append(parts, Zeros(g, shapes.Make(x.DType(), b, top, w, c)))
	}
	parts = append(parts, x)
	if bottom > 0 {
		parts = append(parts, Zeros(g, shapes.Make(x.DType(), b, bottom, w, c)))
	}
	if len(parts) > 1 {
		x = Concatenate(parts, 1)
	}
	h += top + bottom
	parts = parts[:0]
	if left > 0 {
		parts = append(parts, Zeros(g, shapes.Make(x.DType(), b, h, left, c)))
	}
	parts = append(parts, x)
	if right > 0 {
		parts = append(parts, Zeros(g, shapes.Make(x.DType(), b, h, right, c)))
	}
	if len(parts) > 1 {
		x = Concatenate(parts, 2)
	}
	return x
}

// tap returns, for every output position, the input value under kernel tap (i, j): a strided
// slice of the padded input xp [B, Hp, Wp, C], shaped [B, oh, ow, C].
func tap(xp *Node, i, j, oh, ow, stride int) *Node {
	return Slice(xp, AxisRange(),
		AxisRange(i, i+(oh-1)*stride+1).Stride(stride),
		AxisRange(j, j+(ow-1)*stride+1).Stride(stride),
		AxisRange())
}

// castTo converts w to the dtype of like when they differ.
func castTo(w, like *Node) *Node {
	if w.DType() != like.DType() {
		return ConvertDType(w, like.DType())
	}
	return w
}

// conv2dNHWC applies a PyTorch Conv2d with kernel w [out, in/groups, kh, kw] (OIHW) and optional
// bias b [out] to x [B, H, W, in], returning [B, H', W', out]. Supported groupings: dense
// (groups = 1) and depthwise with a channel multiplier (groups = in, out = m·in, output channel
// o reading input channel o/m), which are the only ones MobileCLIP uses.
func conv2dNHWC(x, w, b *Node, s convSpec) *Node {
	d := x.Shape().Dimensions
	batch, h, wd, in := d[0], d[1], d[2], d[3]
	kh, kw := s.kernel[0], s.kernel[1]
	stride := max(s.stride, 1)
	oh, ow := outSize(h, kh, stride, s.pad[0]), outSize(wd, kw, stride, s.pad[1])
	if oh <= 0 || ow <= 0 {
		nn.Panicf("mobileclip: a %dx%d convolution (stride %d, padding %v) does not fit a %dx%d input", kh, kw, stride, s.pad, h, wd)
	}
	w = castTo(w, x)
	var y *Node
	switch {
	case s.groups <= 1:
		y = denseConv(x, w, s, oh, ow)
	case s.groups == in && s.out%in == 0:
		y = depthwiseConv(x, w, s, oh, ow)
	default:
		nn.Panicf("mobileclip: convolution with %d groups over %d input channels (%d outputs) is not supported", s.groups, in, s.out)
	}
	_ = batch
	if b != nil {
		y = Add(y, ExpandLeftToRank(castTo(b, y), 4))
	}
	return y
}

// denseConv is a groups = 1 convolution as a matrix product: 1×1 kernels contract the channel
// axis directly; non-overlapping kernels (kernel = stride, no padding) reshape the patches out of
// the input; other kernels gather kh·kw shifted slices (im2col). The patch vector is ordered
// (i, j, c) to match the OIHW kernel transposed to [out, kh, kw, in].
func denseConv(x, w *Node, s convSpec, oh, ow int) *Node {
	d := x.Shape().Dimensions
	batch, h, wd, in := d[0], d[1], d[2], d[3]
	kh, kw, stride := s.kernel[0], s.kernel[1], max(s.stride, 1)
	var patches *Node
	switch {
	case kh == 1 && kw == 1 && s.pad == [2]int{}:
		patches = x
		if stride > 1 {
			patches = tap(x, 0, 0, oh, ow, stride)
		}
	case kh == stride && kw == stride && s.pad == [2]int{} && h == oh*kh && wd == ow*kw:
		patches = Reshape(x, batch, oh, kh, ow, kw, in)
		patches = TransposeAllDims(patches, 0, 1, 3, 2, 4, 5)
		patches = Reshape(patches, batch, oh, ow, kh*kw*in)
	default:
		xp := pad2d(x, s.pad[0], s.pad[0], s.pad[1], s.pad[1])
		taps := make([]*Node, 0, kh*kw)
		for i := 0; i < kh; i++ {
			for j := 0; j < kw; j++ {
				taps = append(taps, tap(xp, i, j, oh, ow, stride))
			}
		}
		patches = Concatenate(taps, 3)
	}
	out := w.Shape().Dimensions[0]
	wm := Reshape(TransposeAllDims(w, 0, 2, 3, 1), out, kh*kw*in) // [out, kh·kw·in]
	return DotGeneral(patches, []int{3}, nil, wm, []int{1}, nil)  // [B, oh, ow, out]
}

// depthwiseConv is a groups = in convolution with channel multiplier m = out/in, computed as the
// sum over kernel taps of shifted input slices times the tap's per-channel weights.
func depthwiseConv(x, w *Node, s convSpec, oh, ow int) *Node {
	d := x.Shape().Dimensions
	batch, in := d[0], d[3]
	kh, kw, stride := s.kernel[0], s.kernel[1], max(s.stride, 1)
	m := s.out / in
	xp := pad2d(x, s.pad[0], s.pad[0], s.pad[1], s.pad[1])
	wt := Reshape(w, in, m, kh, kw)
	var acc *Node
	for i := 0; i < kh; i++ {
		for j := 0; j < kw; j++ {
			t := tap(xp, i, j, oh, ow, stride)                                                 // [B, oh, ow, in]
			k := Reshape(Slice(wt, AxisRange(), AxisRange(), AxisElem(i), AxisElem(j)), in, m) // [in, m]
			var term *Node
			if m == 1 {
				term = Mul(t, ExpandLeftToRank(Reshape(k, in), 4))
			} else {
				term = Mul(ExpandAxes(t, -1), ExpandLeftToRank(k, 5)) // [B, oh, ow, in, m]
			}
			if acc == nil {
				acc = term
			} else {
				acc = Add(acc, term)
			}
		}
	}
	if m > 1 {
		acc = Reshape(acc, batch, oh, ow, in*m)
	}
	return acc
}

// conv applies the Conv2d whose "weight" (and "bias" when s.bias) are read from ctx.
func conv(ctx *context.Context, x *Node, s convSpec) *Node {
	g := x.Graph()
	w := nn.Weight(ctx, g, "weight", s.out, s.in/max(s.groups, 1), s.kernel[0], s.kernel[1])
	var b *Node
	if s.bias {
		b = nn.Weight(ctx, g, "bias", s.out)
	}
	return conv2dNHWC(x, w, b, s)
}

// addConvShapes records the parameters of the Conv2d s under prefix.
func addConvShapes(sh nn.Shapes, prefix string, s convSpec) {
	sh[prefix+".weight"] = []int{s.out, s.in / max(s.groups, 1), s.kernel[0], s.kernel[1]}
	if s.bias {
		sh[prefix+".bias"] = []int{s.out}
	}
}

// bnAffine returns the per-channel scale γ/√(σ²+ε) and shift β − μ·scale of the inference
// BatchNorm2d read from ctx ("weight", "bias", "running_mean", "running_var"), in float32, [C].
func bnAffine(ctx *context.Context, g *Graph, c int) (scale, shift *Node) {
	gamma := nn.Weight(ctx, g, "weight", c)
	beta := nn.Weight(ctx, g, "bias", c)
	mean := nn.Weight(ctx, g, "running_mean", c)
	variance := nn.Weight(ctx, g, "running_var", c)
	if gamma.DType() != dtypes.Float32 {
		gamma, beta = ConvertDType(gamma, dtypes.Float32), ConvertDType(beta, dtypes.Float32)
		mean, variance = ConvertDType(mean, dtypes.Float32), ConvertDType(variance, dtypes.Float32)
	}
	scale = Mul(gamma, Rsqrt(AddScalar(variance, bnEps)))
	shift = Sub(beta, Mul(mean, scale))
	return scale, shift
}

// bnEps is the BatchNorm epsilon of every MobileCLIP BatchNorm2d (PyTorch's default).
const bnEps = 1e-5

// batchNorm applies the inference BatchNorm2d read from ctx to x [..., C] (channels last).
func batchNorm(ctx *context.Context, x *Node) *Node {
	c := x.Shape().Dimensions[x.Rank()-1]
	scale, shift := bnAffine(ctx, x.Graph(), c)
	return Add(Mul(x, ExpandLeftToRank(castTo(scale, x), x.Rank())), ExpandLeftToRank(castTo(shift, x), x.Rank()))
}

// addBatchNormShapes records a BatchNorm2d's parameters.
func addBatchNormShapes(sh nn.Shapes, prefix string, c int) { sh.AddBatchNorm(prefix, c) }

// squeezeExcite applies timm's SqueezeExcite (Apple's SEBlock) read from ctx: x·sigmoid(fc2(
// ReLU(fc1(mean_HW(x))))), fc1 and fc2 being 1×1 convolutions with bias. x is [B, H, W, C].
func squeezeExcite(ctx *context.Context, x *Node, rd int) *Node {
	g := x.Graph()
	c := x.Shape().Dimensions[3]
	pooled := ReduceMean(x, 1, 2) // [B, C]
	w1 := castTo(Reshape(nn.Weight(ctx.In("fc1"), g, "weight", rd, c, 1, 1), rd, c), x)
	b1 := castTo(nn.Weight(ctx.In("fc1"), g, "bias", rd), x)
	w2 := castTo(Reshape(nn.Weight(ctx.In("fc2"), g, "weight", c, rd, 1, 1), c, rd), x)
	b2 := castTo(nn.Weight(ctx.In("fc2"), g, "bias", c), x)
	h := Add(DotGeneral(pooled, []int{1}, nil, w1, []int{1}, nil), ExpandLeftToRank(b1, 2))
	h = nn.ReLU.Apply(h)
	h = Add(DotGeneral(h, []int{1}, nil, w2, []int{1}, nil), ExpandLeftToRank(b2, 2))
	gate := Sigmoid(h) // [B, C]
	return Mul(x, Reshape(gate, gate.Shape().Dimensions[0], 1, 1, c))
}

// addSEShapes records a squeeze-excite's parameters over c channels with hidden width rd.
func addSEShapes(sh nn.Shapes, prefix string, c, rd int) {
	sh[prefix+".fc1.weight"] = []int{rd, c, 1, 1}
	sh[prefix+".fc1.bias"] = []int{rd}
	sh[prefix+".fc2.weight"] = []int{c, rd, 1, 1}
	sh[prefix+".fc2.bias"] = []int{c}
}
