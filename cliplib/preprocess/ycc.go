package preprocess

import "image"

// Colour conversion of decoded JPEG and lossy WebP images the way the reference's decoders do it.
//
// Go's image/jpeg and x/image/webp return planar Y'CbCr; Pillow gets RGB from libjpeg-turbo and
// libwebp, which upsample the chroma planes with "fancy" (triangle) filters and convert with
// their own fixed-point tables. Go's color.YCbCrToRGB replicates chroma samples and rounds
// differently, and for WebP it even uses the wrong range (JFIF full range, while VP8 is BT.601
// limited range). The functions below re-implement the two libraries' arithmetic (libjpeg-turbo
// jdsample.c/jdcolor.c, libwebp dsp/upsampling.c + dsp/yuv.h, read from their sources), so the
// only remaining difference from the reference is in the IDCT of JPEG (Go's integer IDCT is not
// libjpeg's jidctint). No Go package provides these conversions.

// libjpeg-turbo's YCbCr->RGB tables (SCALEBITS = 16, FIX(x) = int(x*65536+0.5)).
var jpegCrR, jpegCbB [256]int32
var jpegCrG, jpegCbG [256]int32

func init() {
	const half = 1 << 15
	for i := range 256 {
		x := int32(i - 128)
		jpegCrR[i] = (91881*x + half) >> 16  // FIX(1.40200)
		jpegCbB[i] = (116130*x + half) >> 16 // FIX(1.77200)
		jpegCrG[i] = -46802 * x              // FIX(0.71414)
		jpegCbG[i] = -22554*x + half         // FIX(0.34414), with the rounding half folded in
	}
}

func clampByte(v int32) uint8 {
	if v < 0 {
		return 0
	}
	if v > 255 {
		return 255
	}
	return uint8(v)
}

// jpegUpsampler returns, for a chroma plane of cw×ch samples (stride cs), a function that gives
// the fancy-upsampled chroma value at full-resolution pixel (x, y), as libjpeg-turbo computes it
// for the sampling ratio r (h2v1 and h2v2 fall back to replication when cw <= 2; 4:1:1 and 4:1:0
// always replicate).
func jpegUpsampler(r image.YCbCrSubsampleRatio, plane []uint8, cs, cw, ch int) func(x, y int) uint8 {
	at := func(cx, cy int) int32 { return int32(plane[cy*cs+cx]) }
	clampRow := func(cy int) int { return min(max(cy, 0), ch-1) }
	switch {
	case r == image.YCbCrSubsampleRatio422 && cw > 2: // h2v1_fancy_upsample
		return func(x, y int) uint8 {
			c := x / 2
			v := 3 * at(c, y)
			if x%2 == 0 {
				if c == 0 {
					return uint8(at(0, y))
				}
				return uint8((v + at(c-1, y) + 1) >> 2)
			}
			if c == cw-1 {
				return uint8(at(c, y))
			}
			return uint8((v + at(c+1, y) + 2) >> 2)
		}
	case r == image.YCbCrSubsampleRatio440: // h1v2_fancy_upsample
		return func(x, y int) uint8 {
			cy := y / 2
			if y%2 == 0 {
				return uint8((3*at(x, cy) + at(x, clampRow(cy-1)) + 1) >> 2)
			}
			return uint8((3*at(x, cy) + at(x, clampRow(cy+1)) + 2) >> 2)
		}
	case r == image.YCbCrSubsampleRatio420 && cw > 2: // h2v2_fancy_upsample
		return func(x, y int) uint8 {
			cy, c := y/2, x/2
			near := clampRow(cy - 1)
			if y%2 == 1 {
				near = clampRow(cy + 1)
			}
			colsum := func(c int) int32 { return 3*at(c, cy) + at(c, near) }
			this := colsum(c)
			if x%2 == 0 {
				if c == 0 {
					return uint8((this*4 + 8) >> 4)
				}
				return uint8((this*3 + colsum(c-1) + 8) >> 4)
			}
			if c == cw-1 {
				return uint8((this*4 + 7) >> 4)
			}
			return uint8((this*3 + colsum(c+1) + 7) >> 4)
		}
	}
	// Replication (fullsize, h2v1/h2v2 without fancy, int_upsample).
	return func(x, y int) uint8 {
		switch r {
		case image.YCbCrSubsampleRatio422:
			x /= 2
		case image.YCbCrSubsampleRatio420:
			x, y = x/2, y/2
		case image.YCbCrSubsampleRatio440:
			y /= 2
		case image.YCbCrSubsampleRatio411:
			x /= 4
		case image.YCbCrSubsampleRatio410:
			x, y = x/4, y/2
		}
		return plane[y*cs+x]
	}
}

// jpegRGB converts a Y'CbCr image decoded by image/jpeg to RGB with libjpeg-turbo's default
// decompression arithmetic (fancy upsampling, ycc_rgb_convert tables). ok is false for layouts
// it does not handle (a non-zero origin), which then keep Go's conversion.
func jpegRGB(m *image.YCbCr) (*image.RGBA, bool) {
	b := m.Rect
	if b.Min != (image.Point{}) {
		return nil, false
	}
	w, h := b.Dx(), b.Dy()
	cw, ch := chromaSize(m.SubsampleRatio, w, h)
	if len(m.Cb) < (ch-1)*m.CStride+cw || len(m.Cr) < (ch-1)*m.CStride+cw || len(m.Y) < (h-1)*m.YStride+w {
		return nil, false
	}
	upCb := jpegUpsampler(m.SubsampleRatio, m.Cb, m.CStride, cw, ch)
	upCr := jpegUpsampler(m.SubsampleRatio, m.Cr, m.CStride, cw, ch)
	out := image.NewRGBA(b)
	for y := range h {
		row := out.Pix[y*out.Stride : y*out.Stride+4*w]
		for x := range w {
			yy := int32(m.Y[y*m.YStride+x])
			cb, cr := upCb(x, y), upCr(x, y)
			row[4*x] = clampByte(yy + jpegCrR[cr])
			row[4*x+1] = clampByte(yy + (jpegCbG[cb]+jpegCrG[cr])>>16)
			row[4*x+2] = clampByte(yy + jpegCbB[cb])
			row[4*x+3] = 0xff
		}
	}
	return out, true
}

// chromaSize is the size of the chroma planes of a w×h image at origin 0 (libjpeg's
// downsampled_width/height: rounded up).
func chromaSize(r image.YCbCrSubsampleRatio, w, h int) (int, int) {
	switch r {
	case image.YCbCrSubsampleRatio422:
		return (w + 1) / 2, h
	case image.YCbCrSubsampleRatio420:
		return (w + 1) / 2, (h + 1) / 2
	case image.YCbCrSubsampleRatio440:
		return w, (h + 1) / 2
	case image.YCbCrSubsampleRatio411:
		return (w + 3) / 4, h
	case image.YCbCrSubsampleRatio410:
		return (w + 3) / 4, (h + 1) / 2
	}
	return w, h
}

// libwebp's VP8 YUV->RGB (dsp/yuv.h): 14-bit fixed point, BT.601 limited range.
func webpMultHi(v, coeff int32) int32 { return (v * coeff) >> 8 }

func webpClip8(v int32) uint8 {
	const mask = (256 << 6) - 1
	if v&^mask == 0 {
		return uint8(v >> 6)
	}
	if v < 0 {
		return 0
	}
	return 255
}

func webpYUVToRGB(y, u, v uint8, dst []uint8) {
	yy, uu, vv := int32(y), int32(u), int32(v)
	dst[0] = webpClip8(webpMultHi(yy, 19077) + webpMultHi(vv, 26149) - 14234)
	dst[1] = webpClip8(webpMultHi(yy, 19077) - webpMultHi(uu, 6419) - webpMultHi(vv, 13320) + 8708)
	dst[2] = webpClip8(webpMultHi(yy, 19077) + webpMultHi(uu, 33050) - 17685)
}

// webpRGB converts a 4:2:0 Y'CbCr image decoded by x/image/webp to RGBA bytes as libwebp's
// default output does (fancy upsampling of row pairs, dsp/upsampling.c), with alpha from a (or
// 255 when a is nil). It returns *image.RGBA when a is nil and *image.NRGBA otherwise; ok is
// false for layouts it does not handle.
func webpRGB(m *image.YCbCr, a []uint8, aStride int) (image.Image, bool) {
	b := m.Rect
	if b.Min != (image.Point{}) || m.SubsampleRatio != image.YCbCrSubsampleRatio420 {
		return nil, false
	}
	w, h := b.Dx(), b.Dy()
	cw, ch := chromaSize(m.SubsampleRatio, w, h)
	if len(m.Cb) < (ch-1)*m.CStride+cw || len(m.Cr) < (ch-1)*m.CStride+cw || len(m.Y) < (h-1)*m.YStride+w {
		return nil, false
	}
	pix := make([]uint8, 4*w*h)
	cb := func(cy int) []uint8 { return m.Cb[cy*m.CStride : cy*m.CStride+cw] }
	cr := func(cy int) []uint8 { return m.Cr[cy*m.CStride : cy*m.CStride+cw] }
	yrow := func(y int) []uint8 { return m.Y[y*m.YStride : y*m.YStride+w] }
	dst := func(y int) []uint8 { return pix[4*w*y : 4*w*(y+1)] }
	// Row 0 alone (chroma row 0 mirrored), then pairs (2k-1, 2k) between chroma rows k-1 and k,
	// then the last row alone when the height is even.
	webpLinePair(yrow(0), nil, cb(0), cr(0), cb(0), cr(0), dst(0), nil, w)
	y := 0
	for ; y+2 < h; y += 2 {
		k := y/2 + 1
		webpLinePair(yrow(y+1), yrow(y+2), cb(k-1), cr(k-1), cb(k), cr(k), dst(y+1), dst(y+2), w)
	}
	if h%2 == 0 {
		webpLinePair(yrow(h-1), nil, cb(ch-1), cr(ch-1), cb(ch-1), cr(ch-1), dst(h-1), nil, w)
	}
	if a == nil {
		for i := 3; i < len(pix); i += 4 {
			pix[i] = 0xff
		}
		return &image.RGBA{Pix: pix, Stride: 4 * w, Rect: b}, true
	}
	for y := range h {
		for x := range w {
			pix[4*(y*w+x)+3] = a[y*aStride+x]
		}
	}
	return &image.NRGBA{Pix: pix, Stride: 4 * w, Rect: b}, true
}

// webpLinePair is libwebp's UpsampleRgbaLinePair: it writes the top row (and the bottom row when
// botY is not nil) of RGBA pixels, interpolating chroma between the chroma rows tu/tv ("top") and
// cu/cv ("current"). u and v are processed separately here; libwebp packs them in one uint32,
// which gives the same values.
func webpLinePair(topY, botY, tu, tv, cu, cv []uint8, topDst, botDst []uint8, n int) {
	lastPair := (n - 1) >> 1
	tlU, tlV := int32(tu[0]), int32(tv[0])
	lU, lV := int32(cu[0]), int32(cv[0])
	webpYUVToRGB(topY[0], uint8((3*tlU+lU+2)>>2), uint8((3*tlV+lV+2)>>2), topDst[0:])
	if botY != nil {
		webpYUVToRGB(botY[0], uint8((3*lU+tlU+2)>>2), uint8((3*lV+tlV+2)>>2), botDst[0:])
	}
	for x := 1; x <= lastPair; x++ {
		tU, tV := int32(tu[x]), int32(tv[x])
		U, V := int32(cu[x]), int32(cv[x])
		avgU, avgV := tlU+tU+lU+U+8, tlV+tV+lV+V+8
		d12U, d12V := (avgU+2*(tU+lU))>>3, (avgV+2*(tV+lV))>>3
		d03U, d03V := (avgU+2*(tlU+U))>>3, (avgV+2*(tlV+V))>>3
		webpYUVToRGB(topY[2*x-1], uint8((d12U+tlU)>>1), uint8((d12V+tlV)>>1), topDst[4*(2*x-1):])
		webpYUVToRGB(topY[2*x], uint8((d03U+tU)>>1), uint8((d03V+tV)>>1), topDst[4*(2*x):])
		if botY != nil {
			webpYUVToRGB(botY[2*x-1], uint8((d03U+lU)>>1), uint8((d03V+lV)>>1), botDst[4*(2*x-1):])
			webpYUVToRGB(botY[2*x], uint8((d12U+U)>>1), uint8((d12V+V)>>1), botDst[4*(2*x):])
		}
		tlU, tlV, lU, lV = tU, tV, U, V
	}
	if n&1 == 0 {
		webpYUVToRGB(topY[n-1], uint8((3*tlU+lU+2)>>2), uint8((3*tlV+lV+2)>>2), topDst[4*(n-1):])
		if botY != nil {
			webpYUVToRGB(botY[n-1], uint8((3*lU+tlU+2)>>2), uint8((3*lV+tlV+2)>>2), botDst[4*(n-1):])
		}
	}
}
