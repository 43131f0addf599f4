package nn

import (
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/ml/context"
)

// Channels-last (NHWC) convolutions with PyTorch's OIHW kernels.
//
// GoMLX v0.26.0's simplego backend runs ConvGeneral as a generic direct loop over shape
// iterators, several times slower than its DotGeneral for the same arithmetic (a tiny ResNet spent
// 88% of its time there). So on simplego convolutions are computed as matrix products: 1×1 and
// patchify kernels contract the channel axis directly, other dense kernels gather kh·kw shifted
// slices (im2col), and depthwise kernels sum shifted slices times per-channel taps. XLA backends
// have good native convolutions (cuDNN on GPUs), so there ConvGeneral is used. Both compute what
// torch.nn.functional.conv2d computes; the choice is made per context with ParamConvAlgorithm.

// ParamConvAlgorithm is the context parameter (string) selecting how Conv2dNHWC computes:
// ConvMatMul (the default) or ConvNative. The encoder sets ConvNative on XLA backends.
const ParamConvAlgorithm = "clipkit_conv_algorithm"

// Convolution algorithms for ParamConvAlgorithm.
const (
	ConvMatMul = "matmul"
	ConvNative = "native"
)

// ParamConvLayout is the context parameter (string) telling how the kernels that Conv2dNHWC reads
// are stored in the context: LayoutOIHW (the default, PyTorch's [out, in/groups, kh, kw]) or
// LayoutHWIO ([kh, kw, in/groups, out], permuted once when the weights are placed, see
// OIHWToHWIO). Graph code reads them only through ConvKernel, which hides the difference.
//
// Why: XLA's CPU backend runs convolutions through Eigen in NHWC/HWIO. Given an OIHW kernel it
// inserts a transposition of every kernel on every call (RN50: 53 kernels, 23.5M values per
// call, whatever the batch), and its 1×1 convolutions, rewritten as matrix products, read the
// transposed copy. With HWIO kernels both are bitcasts.
const ParamConvLayout = "clipkit_conv_layout"

// Layouts of convolution kernels for ParamConvLayout.
const (
	// LayoutOIHW is PyTorch's layout of nn.Conv2d.weight: [out, in/groups, kh, kw].
	LayoutOIHW = "oihw"
	// LayoutHWIO is the channels-last kernel layout [kh, kw, in/groups, out].
	LayoutHWIO = "hwio"
)

// OIHWToHWIO is the axis permutation that turns an OIHW kernel into an HWIO one (axis i of the
// result is axis OIHWToHWIO[i] of the source), as graph.TransposeAllDims takes it.
var OIHWToHWIO = []int{2, 3, 1, 0}

// hwioToOIHW is the inverse of OIHWToHWIO.
var hwioToOIHW = []int{3, 2, 0, 1}

// NHWC is the axes configuration of a channels-last convolution with an OIHW kernel.
var NHWC = ConvolveAxesConfigNHWC()

// NHWCHWIO is the axes configuration of a channels-last convolution with an HWIO kernel: input
// [B,H,W,C], kernel [kh,kw,I,O], output [B,H,W,O] (the layouts XLA's CPU runtime computes in).
var NHWCHWIO = ConvolveAxesConfig{
	InputBatch: 0, InputChannels: 3, InputSpatial: []int{1, 2},
	KernelOutputChannels: 3, KernelInputChannels: 2, KernelSpatial: []int{0, 1},
	OutputBatch: 0, OutputChannels: 3, OutputSpatial: []int{1, 2},
}

// ConvolveAxesConfigNHWC returns the axes of input [B,H,W,C], kernel [O,I,kh,kw], output [B,H,W,O].
func ConvolveAxesConfigNHWC() ConvolveAxesConfig {
	return ConvolveAxesConfig{
		InputBatch: 0, InputChannels: 3, InputSpatial: []int{1, 2},
		KernelOutputChannels: 0, KernelInputChannels: 1, KernelSpatial: []int{2, 3},
		OutputBatch: 0, OutputChannels: 3, OutputSpatial: []int{1, 2},
	}
}

// ConvOutSize returns the output extent of a convolution along one axis.
func ConvOutSize(in, k, stride, pad int) int { return (in+2*pad-k)/stride + 1 }

// PadNHWC zero-pads x [B, H, W, C] by (top, bottom) rows and (left, right) columns. simplego has
// no Pad op, so zero borders are concatenated.
func PadNHWC(x *Node, top, bottom, left, right int) *Node {
	if top == 0 && bottom == 0 && left == 0 && right == 0 {
		return x
	}
	g := x.Graph()
	d := x.Shape().Dimensions
	b, h, w, c := d[0], d[1], d[2], d[3]
	cat := func(axis int, before, after int, dimsFor func(n int) []int) {
		parts := []*Node{}
		if before > 0 {
			parts = append(parts, Zeros(g, shapes.Make(x.DType(), dimsFor(before)...)))
		}
		parts = append(parts, x)
		if after > 0 {
			parts = append(parts, Zeros(g, shapes.Make(x.DType(), dimsFor(after)...)))
		}
		if len(parts) > 1 {
			x = Concatenate(parts, axis)
		}
	}
	cat(1, top, bottom, func(n int) []int { return []int{b, n, w, c} })
	h += top + bottom
	cat(2, left, right, func(n int) []int { return []int{b, h, n, c} })
	return x
}

// Tap returns, for every output position, the input value under kernel tap (i, j): a strided
// slice of the padded input xp [B, Hp, Wp, C], shaped [B, oh, ow, C].
func Tap(xp *Node, i, j, oh, ow, stride int) *Node {
	return Slice(xp, AxisRange(),
		AxisRange(i, i+(oh-1)*stride+1).Stride(stride),
		AxisRange(j, j+(ow-1)*stride+1).Stride(stride),
		AxisRange())
}

// ConvKernel returns the kernel of a PyTorch Conv2d stored as variable "weight" in ctx, for
// inPerGroup input channels per group, in the dtype of like, together with its layout: the
// context's ParamConvLayout, LayoutOIHW ([out, inPerGroup, kh, kw]) or LayoutHWIO ([kh, kw,
// inPerGroup, out]). Pass both to ConvNHWCLayout.
func ConvKernel(ctx *context.Context, like *Node, inPerGroup int) (w *Node, layout string) {
	g := like.Graph()
	if context.GetParamOr(ctx, ParamConvLayout, LayoutOIHW) == LayoutHWIO {
		return castLike(Weight(ctx, g, "weight", -1, -1, inPerGroup, -1), like), LayoutHWIO
	}
	return castLike(Weight(ctx, g, "weight", -1, inPerGroup, -1, -1), like), LayoutOIHW
}

// Conv2dNHWC applies a PyTorch Conv2d whose "weight" [out, in/groups, kh, kw] (stored as
// ParamConvLayout says; see ConvKernel) and optional "bias" [out] are read from ctx, to x
// [B, H, W, in], returning [B, H', W', out]. Supported groupings: dense (groups = 1) and
// depthwise with a channel multiplier (groups = in, out = m·in, output channel o reading input
// channel o/m); with ParamConvAlgorithm = ConvNative any grouping.
func Conv2dNHWC(ctx *context.Context, x *Node, opt Conv2dOptions) *Node {
	g := x.Graph()
	groups := max(opt.Groups, 1)
	in := x.Shape().Dimensions[3]
	if in%groups != 0 {
		Panicf("conv %q: %d input channels are not divisible by %d groups", ParamName(ctx.Scope(), "weight"), in, groups)
	}
	w, layout := ConvKernel(ctx, x, in/groups)
	var b *Node
	if Has(ctx, "bias") {
		b = castLike(Weight(ctx, g, "bias", kernelDims(w, layout)[0]), x)
	}
	algo := context.GetParamOr(ctx, ParamConvAlgorithm, ConvMatMul)
	return ConvNHWCLayout(x, w, b, opt, algo, layout)
}

// kernelDims returns the dimensions of kernel w in PyTorch's order [out, in/groups, kh, kw],
// whatever its layout.
func kernelDims(w *Node, layout string) [4]int {
	d := w.Shape().Dimensions
	if layout == LayoutHWIO {
		return [4]int{d[3], d[2], d[0], d[1]}
	}
	return [4]int{d[0], d[1], d[2], d[3]}
}

// ConvNHWC is Conv2dNHWC on explicit nodes: x [B,H,W,in], w [out, in/groups, kh, kw], optional b
// [out]; algo is ConvMatMul or ConvNative.
func ConvNHWC(x, w, b *Node, opt Conv2dOptions, algo string) *Node {
	return ConvNHWCLayout(x, w, b, opt, algo, LayoutOIHW)
}

// ConvNHWCLayout is ConvNHWC with the kernel w in the given layout: LayoutOIHW [out, in/groups,
// kh, kw] or LayoutHWIO [kh, kw, in/groups, out]. Both give the same result.
func ConvNHWCLayout(x, w, b *Node, opt Conv2dOptions, algo, layout string) *Node {
	if layout != LayoutOIHW && layout != LayoutHWIO {
		Panicf("unknown convolution kernel layout %q (want %q or %q)", layout, LayoutOIHW, LayoutHWIO)
	}
	d := x.Shape().Dimensions
	h, wd, in := d[1], d[2], d[3]
	kd := kernelDims(w, layout)
	out, kh, kw := kd[0], kd[2], kd[3]
	stride := opt.Stride
	if stride[0] == 0 {
		stride = [2]int{1, 1}
	}
	groups := max(opt.Groups, 1)
	oh, ow := ConvOutSize(h, kh, stride[0], opt.Padding[0]), ConvOutSize(wd, kw, stride[1], opt.Padding[1])
	if oh <= 0 || ow <= 0 {
		Panicf("a %dx%d convolution (stride %v, padding %v) does not fit a %dx%d input", kh, kw, stride, opt.Padding, h, wd)
	}
	var y *Node
	switch {
	case algo == ConvNative:
		axes := NHWC
		if layout == LayoutHWIO {
			axes = NHWCHWIO
		}
		y = ConvGeneral(x, w, axes, stride[:], [][2]int{{opt.Padding[0], opt.Padding[0]}, {opt.Padding[1], opt.Padding[1]}},
			nil, []int{1, 1}, groups, 1)
	case groups == 1:
		y = denseConvNHWC(x, w, layout, opt.Padding, stride, oh, ow)
	case groups == in && out%in == 0:
		if layout == LayoutHWIO {
			w = TransposeAllDims(w, hwioToOIHW...)
		}
		y = depthwiseConvNHWC(x, w, opt.Padding, stride, oh, ow)
	default:
		Panicf("convolution with %d groups over %d input channels (%d outputs) needs ConvNative", groups, in, out)
	}
	if b != nil {
		y = Add(y, ExpandLeftToRank(b, 4))
	}
	return y
}

// denseConvNHWC is a groups = 1 convolution as a matrix product. The patch vector is ordered
// (i, j, c) to match the OIHW kernel transposed to [out, kh, kw, in], or the HWIO kernel as it is.
func denseConvNHWC(x, w *Node, layout string, pad, stride [2]int, oh, ow int) *Node {
	d := x.Shape().Dimensions
	batch, h, wd, in := d[0], d[1], d[2], d[3]
	kd := kernelDims(w, layout)
	out, kh, kw := kd[0], kd[2], kd[3]
	var patches *Node
	switch {
	case kh == 1 && kw == 1 && pad == [2]int{}:
		patches = x
		if stride != [2]int{1, 1} {
			patches = Slice(x, AxisRange(), AxisRange(0, (oh-1)*stride[0]+1).Stride(stride[0]),
				AxisRange(0, (ow-1)*stride[1]+1).Stride(stride[1]), AxisRange())
		}
	case kh == stride[0] && kw == stride[1] && pad == [2]int{} && h == oh*kh && wd == ow*kw:
		patches = Reshape(x, batch, oh, kh, ow, kw, in)
		patches = TransposeAllDims(patches, 0, 1, 3, 2, 4, 5)
		patches = Reshape(patches, batch, oh, ow, kh*kw*in)
	default:
		if stride[0] != stride[1] {
			Panicf("matmul convolution needs equal strides, got %v", stride)
		}
		xp := PadNHWC(x, pad[0], pad[0], pad[1], pad[1])
		taps := make([]*Node, 0, kh*kw)
		for i := 0; i < kh; i++ {
			for j := 0; j < kw; j++ {
				taps = append(taps, Tap(xp, i, j, oh, ow, stride[0]))
			}
		}
		patches = Concatenate(taps, 3)
	}
	if layout == LayoutHWIO {
		wm := Reshape(w, kh*kw*in, out)                              // [kh·kw·in, out]
		return DotGeneral(patches, []int{3}, nil, wm, []int{0}, nil) // [B, oh, ow, out]
	}
	wm := Reshape(TransposeAllDims(w, 0, 2, 3, 1), out, kh*kw*in) // [out, kh·kw·in]
	return DotGeneral(patches, []int{3}, nil, wm, []int{1}, nil)  // [B, oh, ow, out]
}

// depthwiseConvNHWC is a groups = in convolution with channel multiplier m = out/in, computed as
// the sum over kernel taps of shifted input slices times the tap's per-channel weights.
func depthwiseConvNHWC(x, w *Node, pad, stride [2]int, oh, ow int) *Node {
	d := x.Shape().Dimensions
	batch, in := d[0], d[3]
	wdims := w.Shape().Dimensions
	out, kh, kw := wdims[0], wdims[2], wdims[3]
	if stride[0] != stride[1] {
		Panicf("matmul convolution needs equal strides, got %v", stride)
	}
	m := out / in
	xp := PadNHWC(x, pad[0], pad[0], pad[1], pad[1])
	wt := Reshape(w, in, m, kh, kw)
	var acc *Node
	for i := 0; i < kh; i++ {
		for j := 0; j < kw; j++ {
			t := Tap(xp, i, j, oh, ow, stride[0])                                              // [B, oh, ow, in]
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

// BatchNormNHWC applies torch.nn.BatchNorm2d in inference mode ("weight", "bias",
// "running_mean", "running_var" read from ctx) to channels-last x [B, H, W, C].
func BatchNormNHWC(ctx *context.Context, x *Node, eps float64) *Node {
	scale, shift := BatchNormAffine(ctx, x, x.Shape().Dimensions[x.Rank()-1], eps)
	return Add(Mul(x, ExpandLeftToRank(scale, x.Rank())), ExpandLeftToRank(shift, x.Rank()))
}

// AvgPoolNHWC applies torch.nn.AvgPool2d(k) (kernel = stride = k, no padding; rows and columns
// that do not fill a window are dropped) to channels-last x [B, H, W, C], exactly, as a reshape
// and a mean over each k×k window.
func AvgPoolNHWC(x *Node, k int) *Node {
	if k == 1 {
		return x
	}
	d := x.Shape().Dimensions
	h, w := d[1]/k, d[2]/k
	if h == 0 || w == 0 {
		Panicf("AvgPool2d(%d) on a %d×%d feature map", k, d[1], d[2])
	}
	if h*k != d[1] || w*k != d[2] {
		x = Slice(x, AxisRange(), AxisRange(0, h*k), AxisRange(0, w*k), AxisRange())
	}
	x = Reshape(x, d[0], h, k, w, k, d[3])
	return ReduceMean(x, 2, 4)
}
