package mobileclip

import (
	"slices"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/clipkit/clipkit/cliplib/model/nn"
)

// Convolutions on channels-first activations, [C, B, H, W].
//
// GoMLX v0.26.0's simplego backend runs ConvGeneral as a direct loop, about ten times slower
// than its DotGeneral on 1×1 convolutions and much slower still with groups (it also panics on
// grouped convolutions without explicit dilations; see nn.Conv2d). Its only optimised op is
// DotGeneral; elementwise ops with broadcasting and slices go through generic index iterators.
// MobileCLIP's convolutions are therefore written as matrix products:
//
//   - dense convolutions (groups = 1): [out, kh·kw·in] · patches [kh·kw·in, B·H'·W'], the patches
//     gathered from kh·kw shifted slices (a 1×1 conv needs none);
//   - depthwise convolutions (groups = in, with a channel multiplier m by repeating the input
//     channels): per channel, a product of kh row-shifted input tiles with a Toeplitz (banded)
//     matrix built from the kernel row, one output tile of toeplitzTile columns at a time. This
//     costs kh·(T+kw−1) multiply-adds per output instead of kh·kw, but runs in DotGeneral; on
//     simplego it measured 2–4× faster than summing kh·kw shifted slices (BenchmarkDepthwise7x7 in conv_test.go).
//
// XLA backends (nn.ParamConvAlgorithm = nn.ConvNative, set by the encoder) compute depthwise
// convolutions as sums of kh·kw shifted slices instead (depthwiseTaps): XLA fuses that sum into
// one loop, 6–16× faster than the Toeplitz products there (BenchmarkDepthwise7x7), and written
// with affine indices only (depthwisePhaseTaps, every convolution MobileCLIP's towers run) that
// loop is vectorised. XLA's own grouped convolution (feature_group_count = C) is slower still on
// its CPU runtime.
//
// All of them compute exactly what torch.nn.functional.conv2d computes (up to float rounding).
// The channels-first layout makes every 1×1 convolution a plain [out, in]·[in, N] product with
// no transposition, and lets DotGeneral batch the depthwise products over the leading axis.

// toeplitzTile is the number of output columns per Toeplitz product in depthwise convolutions.
const toeplitzTile = 8

// convSpec are the hyper-parameters of a PyTorch Conv2d.
type convSpec struct {
	stride  int
	pad     [2]int // zero padding (rows, columns), symmetric
	groups  int
	bias    bool
	kernel  [2]int // (kh, kw)
	in, out int
	// algo is nn.ParamConvAlgorithm of the context that builds the conv: nn.ConvNative (set on
	// XLA backends) computes depthwise convolutions as sums of shifted taps, anything else as
	// Toeplitz products (see depthwiseConv).
	algo string
}

// outSize returns the output extent of a convolution along one axis.
func outSize(in, k, stride, pad int) int { return (in+2*pad-k)/stride + 1 }

// pad2d zero-pads x [C, B, H, W] by (top, bottom) rows and (left, right) columns. simplego has no
// Pad op, so the borders are concatenated.
func pad2d(x *Node, top, bottom, left, right int) *Node {
	g := x.Graph()
	d := x.Shape().Dimensions
	c, b, h, w := d[0], d[1], d[2], d[3]
	if top > 0 || bottom > 0 {
		parts := []*Node{}
		if top > 0 {
			parts = append(parts, Zeros(g, shapes.Make(x.DType(), c, b, top, w)))
		}
		parts = append(parts, x)
		if bottom > 0 {
			parts = append(parts, Zeros(g, shapes.Make(x.DType(), c, b, bottom, w)))
		}
		x = Concatenate(parts, 2)
		h += top + bottom
	}
	if left > 0 || right > 0 {
		parts := []*Node{}
		if left > 0 {
			parts = append(parts, Zeros(g, shapes.Make(x.DType(), c, b, h, left)))
		}
		parts = append(parts, x)
		if right > 0 {
			parts = append(parts, Zeros(g, shapes.Make(x.DType(), c, b, h, right)))
		}
		x = Concatenate(parts, 3)
	}
	return x
}

// tap returns, for every output position, the input value under kernel tap (i, j): a strided
// slice of the padded input xp [C, B, Hp, Wp], shaped [C, B, oh, ow].
func tap(xp *Node, i, j, oh, ow, stride int) *Node {
	return Slice(xp, AxisRange(), AxisRange(),
		AxisRange(i, i+(oh-1)*stride+1).Stride(stride),
		AxisRange(j, j+(ow-1)*stride+1).Stride(stride))
}

// castTo converts w to the dtype of like when they differ.
func castTo(w, like *Node) *Node {
	if w.DType() != like.DType() {
		return ConvertDType(w, like.DType())
	}
	return w
}

// channelBias adds a per-channel vector b [C] to x [C, ...].
func channelBias(x, b *Node) *Node { return Add(x, perChannel(b, x)) }

// channelScale multiplies x [C, ...] by s [C] along its first axis.
func channelScale(x, s *Node) *Node { return Mul(x, perChannel(s, x)) }

// perChannel reshapes v [C] to [C, 1, …, 1] (the rank of x [C, ...]), in x's dtype.
func perChannel(v, x *Node) *Node {
	dims := make([]int, x.Rank())
	for i := range dims {
		dims[i] = 1
	}
	dims[0] = x.Shape().Dimensions[0]
	return Reshape(castTo(v, x), dims...)
}

// conv2d applies a PyTorch Conv2d with kernel w [out, in/groups, kh, kw] (OIHW) and optional bias
// b [out] to x [in, B, H, W], returning [out, B, H', W']. Supported groupings: dense (groups = 1)
// and depthwise with a channel multiplier (groups = in, out = m·in, output channel o reading
// input channel o/m), which are the only ones MobileCLIP uses.
func conv2d(x, w, b *Node, s convSpec) *Node {
	d := x.Shape().Dimensions
	in, h, wd := d[0], d[2], d[3]
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
	case s.groups == in && s.out%in == 0 && s.algo == nn.ConvNative:
		y = depthwiseTaps(x, w, s, oh, ow)
	case s.groups == in && s.out%in == 0:
		y = depthwiseConv(x, w, s, oh, ow)
	default:
		nn.Panicf("mobileclip: convolution with %d groups over %d input channels (%d outputs) is not supported", s.groups, in, s.out)
	}
	if b != nil {
		y = channelBias(y, b)
	}
	return y
}

// denseConv is a groups = 1 convolution as a matrix product. The patch rows are ordered
// (i, j, c) to match the OIHW kernel transposed to [out, kh, kw, in].
func denseConv(x, w *Node, s convSpec, oh, ow int) *Node {
	d := x.Shape().Dimensions
	in, batch, h, wd := d[0], d[1], d[2], d[3]
	kh, kw, stride := s.kernel[0], s.kernel[1], max(s.stride, 1)
	var patches *Node // [kh·kw·in, B, oh, ow]
	switch {
	case kh == 1 && kw == 1 && s.pad == [2]int{}:
		patches = x
		if stride > 1 {
			patches = tap(x, 0, 0, oh, ow, stride)
		}
	case kh == stride && kw == stride && s.pad == [2]int{} && h == oh*kh && wd == ow*kw:
		// Non-overlapping windows: the patches are a reshape and a transposition.
		patches = Reshape(x, in, batch, oh, kh, ow, kw)
		patches = TransposeAllDims(patches, 3, 5, 0, 1, 2, 4)
		patches = Reshape(patches, kh*kw*in, batch, oh, ow)
	default:
		xp := pad2d(x, s.pad[0], s.pad[0], s.pad[1], s.pad[1])
		taps := make([]*Node, 0, kh*kw)
		for i := 0; i < kh; i++ {
			for j := 0; j < kw; j++ {
				taps = append(taps, tap(xp, i, j, oh, ow, stride))
			}
		}
		patches = Concatenate(taps, 0)
	}
	out := w.Shape().Dimensions[0]
	wm := w
	if kh*kw > 1 {
		wm = TransposeAllDims(w, 0, 2, 3, 1)
	}
	wm = Reshape(wm, out, kh*kw*in)
	return DotGeneral(wm, []int{1}, nil, patches, []int{0}, nil) // [out, B, oh, ow]
}

// depthwiseConv is a groups = in convolution with channel multiplier m = out/in, computed per
// channel as Toeplitz matrix products (see the comment at the top of this file).
func depthwiseConv(x, w *Node, s convSpec, oh, ow int) *Node {
	g := x.Graph()
	d := x.Shape().Dimensions
	in, batch, wd := d[0], d[1], d[3]
	kh, kw, stride := s.kernel[0], s.kernel[1], max(s.stride, 1)
	c := s.out
	x = repeatChannels(x, s.out/in)
	tile := min(toeplitzTile, ow)
	ntiles := (ow + tile - 1) / tile
	tileIn := (tile-1)*stride + kw // input columns one output tile reads
	need := (ntiles-1)*tile*stride + tileIn
	xp := pad2d(x, s.pad[0], s.pad[0], s.pad[1], max(0, need-wd-s.pad[1]))
	// rows [C, B, oh, kh, Wp]: the input rows each kernel row meets.
	rows := make([]*Node, kh)
	for i := range rows {
		r := Slice(xp, AxisRange(), AxisRange(), AxisRange(i, i+(oh-1)*stride+1).Stride(stride), AxisRange())
		rows[i] = ExpandAxes(r, 3)
	}
	stacked := rows[0]
	if kh > 1 {
		stacked = Concatenate(rows, 3)
	}
	// lhs [C, B·oh·ntiles, kh·tileIn]: the input window of every output tile.
	tiles := make([]*Node, ntiles)
	for t := range tiles {
		start := t * tile * stride
		tiles[t] = ExpandAxes(Slice(stacked, AxisRange(), AxisRange(), AxisRange(), AxisRange(),
			AxisRange(start, start+tileIn)), 3)
	}
	lhs := tiles[0]
	if ntiles > 1 {
		lhs = Concatenate(tiles, 3)
	}
	lhs = Reshape(lhs, c, batch*oh*ntiles, kh*tileIn)
	// Toeplitz matrices [C, kh·tileIn, tile]: entry (i, u, v) is k[c, i, u − v·stride] where
	// 0 ≤ u − v·stride < kw, built as k · sel with sel[j, u, v] = [u = v·stride + j].
	shape := shapes.Make(dtypes.Int32, kw, tileIn, tile)
	j, u, v := Iota(g, shape, 0), Iota(g, shape, 1), Iota(g, shape, 2)
	sel := ConvertDType(Equal(u, Add(MulScalar(v, float64(stride)), j)), x.DType())
	k := Reshape(w, c, kh, kw)
	toeplitz := Reshape(DotGeneral(k, []int{2}, nil, sel, []int{0}, nil), c, kh*tileIn, tile)
	y := DotGeneral(lhs, []int{2}, []int{0}, toeplitz, []int{1}, []int{0}) // [C, B·oh·ntiles, tile]
	y = Reshape(y, c, batch, oh, ntiles*tile)
	if ntiles*tile != ow {
		y = Slice(y, AxisRange(), AxisRange(), AxisRange(), AxisRange(0, ow))
	}
	return y
}

// depthwiseTaps is a groups = in convolution with channel multiplier m = out/in computed as the
// sum over the kh·kw kernel taps of a shifted (strided) slice of the zero-padded input times the
// tap's per-channel weight. XLA fuses the whole sum into one loop over the output that reads the
// input in place; on xla:cpu it measured 6–16× faster than the Toeplitz products
// (BenchmarkDepthwise7x7 with CLIPKIT_TEST_BACKEND=xla:cpu). simplego runs each term as a
// separate pass and keeps depthwiseConv. The sum is materialised (fusionBarrier) so that XLA
// does not recompute it inside the taps of the next convolution.
//
// Convolutions whose output has the shape of the input after subsampling ("same" padding, the
// only ones MobileCLIP uses on even feature maps) go to depthwisePhaseTaps, whose loop XLA's CPU
// backend vectorises. Otherwise, with stride 1 the taps are 1-D shifts of the flattened padded
// image [C, B, Hp·Wp] by i·Wp + j, computed over oh·Wp positions (the Wp − ow columns past each
// row's end are dropped at the end): 1.7–1.9× faster than 2-D taps in BenchmarkDepthwise7x7 on
// xla:cpu, but still scalar code; with stride > 1, strided 2-D taps.
func depthwiseTaps(x, w *Node, s convSpec, oh, ow int) *Node {
	in, batch := x.Shape().Dimensions[0], x.Shape().Dimensions[1]
	kh, kw, stride := s.kernel[0], s.kernel[1], max(s.stride, 1)
	c := s.out
	x = repeatChannels(x, s.out/in)
	k := Reshape(w, c, kh, kw)
	// sum returns Σ_ij tap(i, j) · k[:, i, j], the taps having rank r (channels first).
	sum := func(r int, tap func(i, j int) *Node) *Node {
		dims := make([]int, r)
		for i := range dims {
			dims[i] = 1
		}
		dims[0] = c
		var acc *Node
		for i := 0; i < kh; i++ {
			for j := 0; j < kw; j++ {
				term := Mul(tap(i, j), Reshape(Slice(k, AxisRange(), AxisElem(i), AxisElem(j)), dims...))
				if acc == nil {
					acc = term
				} else {
					acc = Add(acc, term)
				}
			}
		}
		return fusionBarrier(acc, k)
	}
	// One-row inputs (the text tower's 1×11 RepMixers over 77 tokens) keep the padded-row form
	// below: with them the phase form measured 3–8% slower (`ab_workers.py`, text batch 8 and 32).
	if h, wd := x.Shape().Dimensions[2], x.Shape().Dimensions[3]; h > 1 && h%stride == 0 && wd%stride == 0 &&
		oh == h/stride && ow == wd/stride {
		return depthwisePhaseTaps(x, k, s, oh, ow)
	}
	if stride > 1 {
		xp := pad2d(x, s.pad[0], s.pad[0], s.pad[1], s.pad[1])
		return sum(4, func(i, j int) *Node { return tap(xp, i, j, oh, ow, stride) })
	}
	extra := 0
	if kw > 1 {
		extra = 1 // one more zero row keeps the last tap's shifted window inside the image
	}
	xp := pad2d(x, s.pad[0], s.pad[0]+extra, s.pad[1], s.pad[1])
	hp, wp := xp.Shape().Dimensions[2], xp.Shape().Dimensions[3]
	flat := Reshape(xp, c, batch, hp*wp)
	n := oh * wp
	y := sum(3, func(i, j int) *Node {
		off := i*wp + j
		return Slice(flat, AxisRange(), AxisRange(), AxisRange(off, off+n))
	})
	y = Reshape(y, c, batch, oh, wp)
	if wp != ow {
		y = Slice(y, AxisRange(), AxisRange(), AxisRange(), AxisRange(0, ow))
	}
	return y
}

// depthwisePhaseTaps is depthwiseTaps written so that every index of XLA's fused loop is affine
// in the output position, which lets XLA's CPU backend vectorise the loop (with the padded rows
// of depthwiseTaps' flattened form, or with 2-D taps, it emitted scalar code: the output
// position had to be split into image, row and column by divisions to find its input). It
// needs the output to have the shape of the input after subsampling: "same" padding with
// stride 1 ((oh, ow) = (H, W)), or stride s with H and W multiples of s and (oh, ow) = (H/s,
// W/s).
//
// The input is split into its s² phase images x[:, :, a::s, b::s] (stride 1: x itself), each
// [C, B, oh, ow]. Tap (i, j) reads, for output (y, x), input (s·y + i − ph, s·x + j − pw): in
// phase (a, b) = ((i − ph) mod s, (j − pw) mod s), position (y + di, x + dj) with di = ⌊(i −
// ph)/s⌋, dj = ⌊(j − pw)/s⌋. Each phase image is flattened, batch included, to one axis of
// B·oh·ow values with a few zeros before and after, so that a tap is the 1-D shift by di·ow + dj
// of the whole batch. Where that shift leaves the image (a row y + di outside [0, oh), which with
// one image only reaches the zeros at the ends, or a column x + dj outside [0, ow)) it would
// read a neighbouring row or image instead of the zero padding, so those values are selected
// away by conditions on the output position computed from an iota (fused into the loop, no
// buffer): per tap for rows, per partial sum over the taps of equal dj for columns.
func depthwisePhaseTaps(x, k *Node, s convSpec, oh, ow int) *Node {
	g := x.Graph()
	d := x.Shape().Dimensions
	c, batch, h, wd := d[0], d[1], d[2], d[3]
	kh, kw, st := s.kernel[0], s.kernel[1], max(s.stride, 1)
	floorMod := func(v int) int { return ((v % st) + st) % st }
	type tapRef struct{ i, j, phase, di, dj int }
	var taps []tapRef
	for j := 0; j < kw; j++ {
		for i := 0; i < kh; i++ {
			ri, rj := i-s.pad[0], j-s.pad[1]
			a, b := floorMod(ri), floorMod(rj)
			taps = append(taps, tapRef{i: i, j: j, phase: a*st + b, di: (ri - a) / st, dj: (rj - b) / st})
		}
	}
	total := batch * oh * ow
	// Output position q = (image·oh + row)·ow + column, and whether row + delta (column + delta)
	// stays inside the image.
	q := Iota(g, shapes.Make(dtypes.Int32, total), 0)
	col := Mod(q, Scalar(g, dtypes.Int32, ow))
	row := Mod(Div(q, Scalar(g, dtypes.Int32, ow)), Scalar(g, dtypes.Int32, oh))
	inside := func(v *Node, delta, size int) *Node {
		v = AddScalar(v, float64(delta))
		ok := LogicalAnd(GreaterOrEqual(v, ScalarZero(g, dtypes.Int32)), LessThan(v, Scalar(g, dtypes.Int32, size)))
		return BroadcastToDims(ExpandAxes(ok, 0), c, total)
	}
	zero := ScalarZero(g, x.DType())
	// Per phase: its flattened image with zeros before (front) and after.
	type phaseFlat struct {
		flat  *Node
		front int
	}
	flats := map[int]phaseFlat{}
	for _, t := range taps {
		if _, ok := flats[t.phase]; ok {
			continue
		}
		lo, hi := 0, 0
		for _, u := range taps {
			if u.phase == t.phase {
				lo, hi = min(lo, u.di*ow+u.dj), max(hi, u.di*ow+u.dj)
			}
		}
		src := x
		if st > 1 {
			a, b := t.phase/st, t.phase%st
			src = Slice(x, AxisRange(), AxisRange(), AxisRange(a, h).Stride(st), AxisRange(b, wd).Stride(st))
		}
		parts := []*Node{}
		if lo < 0 {
			parts = append(parts, Zeros(g, shapes.Make(x.DType(), c, -lo)))
		}
		parts = append(parts, Reshape(src, c, total))
		if hi > 0 {
			parts = append(parts, Zeros(g, shapes.Make(x.DType(), c, hi)))
		}
		flat := parts[0]
		if len(parts) > 1 {
			// Fused into the tap loop, the concatenation is a choice among zeros, image and
			// zeros inside every one of the kh·kw taps; read from a buffer, each tap is a
			// plain shifted load. XLA writes the concatenation to its own buffer when a
			// multiplication by run-time ones (keepApart) consumes it; the multiplication then
			// costs a multiply per tap (3×3, where XLA fuses it) or one more pass over the image
			// (7×7, where it gets a kernel of its own). (fusionBarrier's division did the
			// same for 7×7 kernels, but XLA fused it into the 3×3 tap loops: nine divisions
			// per output.) docs/performance.md has the measurements.
			flat = keepApart(Concatenate(parts, 1), k)
		}
		flats[t.phase] = phaseFlat{flat: flat, front: -lo}
	}
	// Partial sums per column shift dj, in increasing dj (taps are ordered by j, then i).
	var shifts []int
	partials := map[int]*Node{}
	for _, t := range taps {
		f := flats[t.phase]
		off := f.front + t.di*ow + t.dj
		term := Mul(Slice(f.flat, AxisRange(), AxisRange(off, off+total)),
			Reshape(Slice(k, AxisRange(), AxisElem(t.i), AxisElem(t.j)), c, 1))
		if t.di != 0 && batch > 1 {
			term = Where(inside(row, t.di, oh), term, zero)
		}
		if p, ok := partials[t.dj]; ok {
			partials[t.dj] = Add(p, term)
		} else {
			partials[t.dj] = term
			shifts = append(shifts, t.dj)
		}
	}
	slices.Sort(shifts)
	var acc *Node
	for _, dj := range shifts {
		p := partials[dj]
		if dj != 0 {
			p = Where(inside(col, dj, ow), p, zero)
		}
		if acc == nil {
			acc = p
		} else {
			acc = Add(acc, p)
		}
	}
	return Reshape(fusionBarrier(acc, k), c, batch, oh, ow)
}

// fusionBarrier returns y [C, ...] unchanged (y/1 is exact), computed as a division by a run-time
// vector of ones derived from the kernel k [C, ...] (1 + 0·k[c, 0, …], which XLA cannot fold
// away). XLA fuses cheap elementwise producers into every consumer, even consumers that read
// each element many times: without this, the shifted-tap sum of one depthwise convolution is
// recomputed inside the next one for each of its taps (and through the residual stream, across
// blocks), which made the MCi image tower 2× slower than with the Toeplitz products. A division
// is one of the operations XLA treats as expensive and does not duplicate, so the sum is
// materialised once. GoMLX exposes no optimisation-barrier op. A kernel holding a NaN or ±Inf in
// a channel's first tap makes that channel NaN, as the convolution itself would (NaN) or may (Inf).
func fusionBarrier(y, k *Node) *Node {
	return Div(y, runtimeOnes(y, k))
}

// keepApart returns y [C, ...] unchanged (y·1 is exact), multiplied by run-time ones derived from
// the kernel k [C, ...] like fusionBarrier's. XLA's CPU backend then computes y (a concatenation,
// in depthwisePhaseTaps) in a kernel of its own instead of fusing it into the consumers of the
// product; the cheap multiplication it may fuse into them or compute apart. NaN or ±Inf in a channel's first tap
// makes that channel NaN, as with fusionBarrier.
func keepApart(y, k *Node) *Node {
	return Mul(y, runtimeOnes(y, k))
}

// runtimeOnes returns ones of shape [C, 1, …, 1] (the rank of y) computed as 1 + 0·k[c, 0, …] from
// the kernel k [C, ...], which XLA cannot fold to a constant.
func runtimeOnes(y, k *Node) *Node {
	c := k.Shape().Dimensions[0]
	first := Slice(Reshape(k, c, -1), AxisRange(), AxisElem(0)) // [C, 1]
	one := AddScalar(MulScalar(first, 0), 1)
	dims := make([]int, y.Rank())
	for i := range dims {
		dims[i] = 1
	}
	dims[0] = c
	return Reshape(one, dims...)
}

// conv applies the Conv2d whose "weight" (and "bias" when s.bias) are read from ctx.
func conv(ctx *context.Context, x *Node, s convSpec) *Node {
	s.algo = context.GetParamOr(ctx, nn.ParamConvAlgorithm, nn.ConvMatMul)
	g := x.Graph()
	w := nn.Weight(ctx, g, "weight", s.out, s.in/max(s.groups, 1), s.kernel[0], s.kernel[1])
	var b *Node
	if s.bias {
		b = nn.Weight(ctx, g, "bias", s.out)
	}
	return conv2d(x, w, b, s)
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

// batchNorm applies the inference BatchNorm2d read from ctx to x [C, ...] (channels first).
func batchNorm(ctx *context.Context, x *Node) *Node {
	c := x.Shape().Dimensions[0]
	scale, shift := bnAffine(ctx, x.Graph(), c)
	dims := make([]int, x.Rank())
	for i := range dims {
		dims[i] = 1
	}
	dims[0] = c
	return Add(Mul(x, Reshape(castTo(scale, x), dims...)), Reshape(castTo(shift, x), dims...))
}

// addBatchNormShapes records a BatchNorm2d's parameters.
func addBatchNormShapes(sh nn.Shapes, prefix string, c int) { sh.AddBatchNorm(prefix, c) }

// squeezeExcite applies timm's SqueezeExcite (Apple's SEBlock) read from ctx: x·sigmoid(fc2(
// ReLU(fc1(mean_HW(x))))), fc1 and fc2 being 1×1 convolutions with bias. x is [C, B, H, W].
func squeezeExcite(ctx *context.Context, x *Node, rd int) *Node {
	g := x.Graph()
	d := x.Shape().Dimensions
	c, batch := d[0], d[1]
	pooled := ReduceMean(x, 2, 3) // [C, B]
	w1 := castTo(Reshape(nn.Weight(ctx.In("fc1"), g, "weight", rd, c, 1, 1), rd, c), x)
	w2 := castTo(Reshape(nn.Weight(ctx.In("fc2"), g, "weight", c, rd, 1, 1), c, rd), x)
	h := channelBias(DotGeneral(w1, []int{1}, nil, pooled, []int{0}, nil), nn.Weight(ctx.In("fc1"), g, "bias", rd))
	h = nn.ReLU.Apply(h)
	h = channelBias(DotGeneral(w2, []int{1}, nil, h, []int{0}, nil), nn.Weight(ctx.In("fc2"), g, "bias", c))
	return Mul(x, Reshape(Sigmoid(h), c, batch, 1, 1))
}

// addSEShapes records a squeeze-excite's parameters over c channels with hidden width rd.
func addSEShapes(sh nn.Shapes, prefix string, c, rd int) {
	sh[prefix+".fc1.weight"] = []int{rd, c, 1, 1}
	sh[prefix+".fc1.bias"] = []int{rd}
	sh[prefix+".fc2.weight"] = []int{c, rd, 1, 1}
	sh[prefix+".fc2.bias"] = []int{c}
}

// repeatChannels turns x [in, B, H, W] into [in·m, B, H, W] where output channel o = i·m + r is
// input channel i (a depthwise convolution with channel multiplier m); m <= 1 returns x.
func repeatChannels(x *Node, m int) *Node {
	if m <= 1 {
		return x
	}
	d := x.Shape().Dimensions
	in, batch, h, wd := d[0], d[1], d[2], d[3]
	return Reshape(BroadcastToDims(ExpandAxes(x, 1), in, m, batch, h, wd), in*m, batch, h, wd)
}
