package preprocess

import "math"

// This file re-implements Pillow's convolution resampler (libImaging/Resample.c, Pillow 13) and
// its nearest-neighbour scaling (libImaging/Geometry.c, ImagingScaleAffine) in Go. No Go library
// reproduces Pillow's uint8 arithmetic (x/image/draw's CatmullRom uses a = -0.5 too, but float
// weights, no uint8 intermediate and different support rounding), and bit-exact parity with the
// reference preprocessing needs exactly this arithmetic, so it is written here from the algorithm.
//
// Summary of the algorithm (per axis, input length in, output length out):
//
//	scale = in/out; filterscale = max(scale, 1); support = filter.support * filterscale
//	for each output i: center = (i+0.5)*scale
//	    xmin = max(0, int(center-support+0.5)); xmax = min(in, int(center+support+0.5))
//	    w[x] = filter((x+xmin-center+0.5)/filterscale) for x in [0, xmax-xmin), normalised to sum 1
//	8-bit: weights -> int32 with 22 fractional bits (round half away from zero);
//	       acc = 2^21 + sum(pixel*w); out = clip(acc >> 22, 0, 255)
//	16-bit ("I;16"): acc = sum(pixel*w) in float64; out = clip(round half away from zero, 0, 65535)
//
// The horizontal pass runs first over just the rows the vertical pass needs and stores a uint8
// (or uint16) intermediate; a pass whose size does not change is skipped (it would be the
// identity). Every output pixel depends only on its own taps, so computing just the center-crop
// window of the resized image gives the same bytes as resizing everything and cropping after.

const precisionBits = 32 - 8 - 2 // Pillow's PRECISION_BITS

// filter is a resampling kernel with its support radius at scale 1.
type filter struct {
	support float64
	f       func(float64) float64
}

// Explicit float64 conversions below keep the compiler from fusing a*b+c into FMA instructions
// (allowed by the Go spec on some architectures), so every operation rounds as in Pillow's C.

func bicubicKernel(x float64) float64 {
	const a = -0.5
	if x < 0 {
		x = -x
	}
	if x < 1 {
		return float64(float64(float64(float64((a+2)*x)-(a+3))*x)*x) + 1
	}
	if x < 2 {
		return float64(float64(float64(float64(x-5)*x)+8)*x-4) * a
	}
	return 0
}

func bilinearKernel(x float64) float64 {
	if x < 0 {
		x = -x
	}
	if x < 1 {
		return 1 - x
	}
	return 0
}

var (
	bicubicFilter  = filter{support: 2, f: bicubicKernel}
	bilinearFilter = filter{support: 1, f: bilinearKernel}
)

func (i Interpolation) filter() filter {
	if i == Bilinear {
		return bilinearFilter
	}
	return bicubicFilter
}

// coeffs holds the taps of a contiguous range of output positions [first, first+len(start)).
type coeffs struct {
	ksize int       // taps per output position (stride of w and fixed)
	start []int     // first input index of each output position
	count []int     // number of taps of each output position
	w     []float64 // normalised weights, ksize per position (used by the 16-bit path)
	fixed []int32   // the same weights in 22-bit fixed point (8-bit path)
}

// precompute returns the taps for output positions [first, first+n) of a resize from inSize to
// outSize samples, as Pillow's precompute_coeffs and normalize_coeffs_8bpc compute them.
func precompute(inSize, outSize, first, n int, flt filter) coeffs {
	scale := float64(inSize) / float64(outSize)
	filterscale := max(scale, 1)
	support := flt.support * filterscale
	ksize := int(math.Ceil(support))*2 + 1
	invFilterscale := 1 / filterscale
	c := coeffs{
		ksize: ksize,
		start: make([]int, n),
		count: make([]int, n),
		w:     make([]float64, n*ksize),
		fixed: make([]int32, n*ksize),
	}
	for j := range n {
		xx := first + j
		center := float64(float64(xx)+0.5) * scale
		xmin := int(center - support + 0.5)
		xmin = max(xmin, 0)
		xmax := int(center + support + 0.5)
		xmax = min(xmax, inSize)
		xmax -= xmin
		k := c.w[j*ksize : (j+1)*ksize]
		ww := 0.0
		for x := range xmax {
			w := flt.f(float64(float64(x+xmin)-center+0.5) * invFilterscale)
			k[x] = w
			ww += w
		}
		if ww != 0 {
			for x := range xmax {
				k[x] /= ww
			}
		}
		fk := c.fixed[j*ksize : (j+1)*ksize]
		for x := range xmax {
			v := float64(k[x] * (1 << precisionBits))
			if k[x] < 0 {
				fk[x] = int32(-0.5 + v)
			} else {
				fk[x] = int32(0.5 + v)
			}
		}
		c.start[j] = xmin
		c.count[j] = xmax
	}
	return c
}

// clip8 maps a fixed-point accumulator to a byte like Pillow's clip8 (arithmetic shift, clamp).
func clip8(acc int32) uint8 {
	v := acc >> precisionBits
	if v < 0 {
		return 0
	}
	if v > 255 {
		return 255
	}
	return uint8(v)
}

// window is the part [x0, x0+w) × [y0, y0+h) of a resized image that is kept.
type window struct{ x0, y0, w, h int }

// resample8 resizes an inW×inH image with nc interleaved uint8 channels (read row by row through
// row) to outW×outH and returns only the pixels of win, packed (win.w*win.h*nc bytes).
func resample8(row func(y int, dst []uint8), inW, inH, nc, outW, outH int, flt filter, win window) []uint8 {
	needH, needV := outW != inW, outH != inH
	// Source rows feeding the window.
	var vert coeffs
	y0, y1 := win.y0, win.y0+win.h
	if needV {
		vert = precompute(inH, outH, win.y0, win.h, flt)
		y0 = vert.start[0]
		y1 = vert.start[win.h-1] + vert.count[win.h-1]
	}
	// Horizontal pass into tmp: (y1-y0) rows of win.w pixels.
	rowW := win.w * nc
	tmp := make([]uint8, (y1-y0)*rowW)
	line := make([]uint8, inW*nc)
	var horiz coeffs
	if needH {
		horiz = precompute(inW, outW, win.x0, win.w, flt)
	}
	for y := y0; y < y1; y++ {
		row(y, line)
		dst := tmp[(y-y0)*rowW : (y-y0+1)*rowW]
		if needH {
			horizontal8(dst, line, nc, &horiz)
		} else {
			copy(dst, line[win.x0*nc:(win.x0+win.w)*nc])
		}
	}
	if !needV {
		return tmp
	}
	out := make([]uint8, win.h*rowW)
	vertical8(out, tmp, rowW, y0, &vert)
	return out
}

// horizontal8 filters one row: dst has len(c.start) pixels of nc channels.
func horizontal8(dst, line []uint8, nc int, c *coeffs) {
	const half = int32(1) << (precisionBits - 1)
	ks := c.ksize
	switch nc {
	case 1:
		for j, xmin := range c.start {
			k := c.fixed[j*ks : j*ks+c.count[j]]
			in := line[xmin : xmin+len(k)]
			ss := half
			for x, w := range k {
				ss += int32(in[x]) * w
			}
			dst[j] = clip8(ss)
		}
	case 3:
		for j, xmin := range c.start {
			k := c.fixed[j*ks : j*ks+c.count[j]]
			in := line[3*xmin : 3*(xmin+len(k))]
			s0, s1, s2 := half, half, half
			for x, w := range k {
				p := in[3*x : 3*x+3]
				s0 += int32(p[0]) * w
				s1 += int32(p[1]) * w
				s2 += int32(p[2]) * w
			}
			dst[3*j], dst[3*j+1], dst[3*j+2] = clip8(s0), clip8(s1), clip8(s2)
		}
	default:
		var ss [4]int32
		for j, xmin := range c.start {
			k := c.fixed[j*ks : j*ks+c.count[j]]
			in := line[nc*xmin : nc*(xmin+len(k))]
			for ch := range nc {
				ss[ch] = half
			}
			for x, w := range k {
				for ch := range nc {
					ss[ch] += int32(in[nc*x+ch]) * w
				}
			}
			for ch := range nc {
				dst[nc*j+ch] = clip8(ss[ch])
			}
		}
	}
}

// vertical8 filters columns of tmp (rows of rowW bytes starting at source row y0) into out.
func vertical8(out, tmp []uint8, rowW, y0 int, c *coeffs) {
	const half = int32(1) << (precisionBits - 1)
	ks := c.ksize
	acc := make([]int32, rowW)
	for j, ymin := range c.start {
		k := c.fixed[j*ks : j*ks+c.count[j]]
		for i := range acc {
			acc[i] = half
		}
		for y, w := range k {
			in := tmp[(ymin-y0+y)*rowW : (ymin-y0+y+1)*rowW]
			for i, v := range in {
				acc[i] += int32(v) * w
			}
		}
		dst := out[j*rowW : (j+1)*rowW]
		for i, a := range acc {
			dst[i] = clip8(a)
		}
	}
}

// roundUp16 is Pillow's CLIP16(ROUND_UP(ss)).
func roundUp16(ss float64) uint16 {
	var v int
	if ss >= 0 {
		v = int(ss + 0.5)
	} else {
		v = int(ss - 0.5)
	}
	return uint16(min(max(v, 0), 65535))
}

// resample16 is resample8 for one-channel 16-bit images ("I;16"): float64 weights and
// accumulation, rounding half away from zero, a uint16 intermediate.
func resample16(row func(y int, dst []uint16), inW, inH, outW, outH int, flt filter, win window) []uint16 {
	needH, needV := outW != inW, outH != inH
	var vert coeffs
	y0, y1 := win.y0, win.y0+win.h
	if needV {
		vert = precompute(inH, outH, win.y0, win.h, flt)
		y0 = vert.start[0]
		y1 = vert.start[win.h-1] + vert.count[win.h-1]
	}
	tmp := make([]uint16, (y1-y0)*win.w)
	line := make([]uint16, inW)
	var horiz coeffs
	if needH {
		horiz = precompute(inW, outW, win.x0, win.w, flt)
	}
	for y := y0; y < y1; y++ {
		row(y, line)
		dst := tmp[(y-y0)*win.w : (y-y0+1)*win.w]
		if !needH {
			copy(dst, line[win.x0:win.x0+win.w])
			continue
		}
		for j, xmin := range horiz.start {
			k := horiz.w[j*horiz.ksize : j*horiz.ksize+horiz.count[j]]
			ss := 0.0
			for x, w := range k {
				ss += float64(float64(line[xmin+x]) * w)
			}
			dst[j] = roundUp16(ss)
		}
	}
	if !needV {
		return tmp
	}
	out := make([]uint16, win.h*win.w)
	for j, ymin := range vert.start {
		k := vert.w[j*vert.ksize : j*vert.ksize+vert.count[j]]
		for x := range win.w {
			ss := 0.0
			for y, w := range k {
				ss += float64(float64(tmp[(ymin-y0+y)*win.w+x]) * w)
			}
			out[j*win.w+x] = roundUp16(ss)
		}
	}
	return out
}

// nearestIndex returns, for output positions [first, first+n), the source index Pillow's
// nearest-neighbour resize (ImagingScaleAffine) picks, or -1 where it leaves the pixel at 0. It
// accumulates in float64 from position 0 (x = a/2, then x += a with a = in/out) and truncates,
// so the table is built from 0 to keep the exact rounding of the running sum.
func nearestIndex(inSize, outSize, first, n int) []int {
	a := float64(inSize) / float64(outSize)
	idx := make([]int, n)
	xo := a * 0.5
	for x := range first + n {
		if x >= first {
			if xi := int(xo); xo >= 0 && xi < inSize {
				idx[x-first] = xi
			} else {
				idx[x-first] = -1
			}
		}
		xo += a
	}
	return idx
}

// nearest8 is Pillow's NEAREST resize (used for modes "1" and "P"), restricted to win.
func nearest8(row func(y int, dst []uint8), inW, inH, nc, outW, outH int, win window) []uint8 {
	xs := nearestIndex(inW, outW, win.x0, win.w)
	ys := nearestIndex(inH, outH, win.y0, win.h)
	out := make([]uint8, win.w*win.h*nc)
	line := make([]uint8, inW*nc)
	prev := -1
	for j, y := range ys {
		if y < 0 {
			continue
		}
		if y != prev {
			row(y, line)
			prev = y
		}
		dst := out[j*win.w*nc : (j+1)*win.w*nc]
		for i, x := range xs {
			if x >= 0 {
				copy(dst[i*nc:(i+1)*nc], line[x*nc:(x+1)*nc])
			}
		}
	}
	return out
}
