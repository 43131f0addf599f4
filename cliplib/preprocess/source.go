package preprocess

import (
	"fmt"
	"image"
	"image/color"
)

// pilMode is the Pillow image mode a source is processed as. It decides the resize filter
// (nearest for "1"/"P"), the premultiplication around the resize ("LA", "RGBA") and the final
// conversion to RGB.
type pilMode uint8

const (
	mode1    pilMode = iota // bilevel, stored as 0/255 bytes
	modeL                   // 8-bit grayscale
	modeP                   // 8-bit palette indices
	modeLA                  // grayscale + alpha (not premultiplied)
	modeRGB                 // 8-bit RGB
	modeRGBA                // RGB + alpha (not premultiplied)
	modeRGBa                // RGB + alpha, premultiplied
	modeCMYK                // 8-bit CMYK, 0 = no ink
	modeI16                 // 16-bit unsigned grayscale ("I;16")
)

var pilModeNames = [...]string{"1", "L", "P", "LA", "RGB", "RGBA", "RGBa", "CMYK", "I;16"}

// String returns Pillow's name for the mode.
func (m pilMode) String() string {
	if int(m) < len(pilModeNames) {
		return pilModeNames[m]
	}
	return fmt.Sprintf("pilMode(%d)", int(m))
}

// channels is the number of interleaved bytes (or uint16 for I;16) per pixel in a row buffer.
func (m pilMode) channels() int {
	switch m {
	case modeLA:
		return 2
	case modeRGB:
		return 3
	case modeRGBA, modeRGBa, modeCMYK:
		return 4
	}
	return 1
}

// source is an image seen through Pillow's storage for its mode: rows of interleaved uint8
// channels (or uint16 for I;16), plus the palette for "P".
type source struct {
	mode pilMode
	w, h int
	// pal maps palette indices to RGB for modeP (Pillow's p2rgb).
	pal *[256][3]uint8
	// row8 writes row y (0-based, all w pixels) into dst, len(dst) = w*mode.channels().
	row8 func(y int, dst []uint8)
	// row16 writes row y into dst (modeI16 only).
	row16 func(y int, dst []uint16)
}

// newSource wraps img. The mode comes from a *Decoded (what Pillow would open the file as) or is
// inferred from the Go image type (see inferMode).
func newSource(img image.Image) (*source, error) {
	if img == nil {
		return nil, fmt.Errorf("preprocess: nil image")
	}
	var pal *[256][3]uint8
	mode, ok := pilMode(0), false
	if d, isDecoded := img.(*Decoded); isDecoded {
		if d == nil || d.Image == nil {
			return nil, fmt.Errorf("preprocess: empty *Decoded image")
		}
		mode, ok, pal = d.mode, true, d.pal
		img = d.Image
	}
	b := img.Bounds()
	if b.Dx() <= 0 || b.Dy() <= 0 {
		return nil, fmt.Errorf("preprocess: %w (bounds %v)", errNoPixels, b)
	}
	if !ok {
		mode = inferMode(img)
	}
	s := &source{mode: mode, w: b.Dx(), h: b.Dy(), pal: pal}
	if mode == modeP && s.pal == nil {
		p, isPaletted := img.(*image.Paletted)
		if !isPaletted {
			return nil, fmt.Errorf("preprocess: mode P needs an *image.Paletted, got %T", img)
		}
		s.pal = paletteRGB(p.Palette)
	}
	if mode == modeI16 {
		s.row16 = reader16(img)
	} else {
		s.row8 = reader8(img, mode)
	}
	return s, nil
}

// inferMode returns the Pillow mode that best matches a Go image type, for images that did not
// come from Decode. Types with alpha are treated as opaque RGB when every pixel is opaque (Pillow
// gives the same crop for an opaque RGBA image as for the RGB one).
func inferMode(img image.Image) pilMode {
	opaque := func() bool {
		o, ok := img.(interface{ Opaque() bool })
		return ok && o.Opaque()
	}
	switch img.(type) {
	case *image.Gray:
		return modeL
	case *image.Gray16:
		return modeI16
	case *image.Paletted:
		return modeP
	case *image.CMYK:
		return modeCMYK
	case *image.YCbCr:
		return modeRGB
	case *image.RGBA, *image.RGBA64:
		if opaque() {
			return modeRGB
		}
		return modeRGBa
	}
	if opaque() {
		return modeRGB
	}
	return modeRGBA
}

// paletteRGB converts a Go palette into Pillow's 256-entry RGB palette. Pillow's conversion from
// "P" to "RGB" ignores palette alpha, so non-premultiplied colours are used as they are. Entries
// past the end of the palette are opaque black, as Go's PNG decoder makes them.
func paletteRGB(p color.Palette) *[256][3]uint8 {
	var out [256][3]uint8
	for i, c := range p {
		if i >= 256 {
			break
		}
		out[i] = colorRGB(c)
	}
	return &out
}

// colorRGB returns the non-premultiplied 8-bit RGB of c, ignoring alpha.
func colorRGB(c color.Color) [3]uint8 {
	switch c := c.(type) {
	case color.NRGBA:
		return [3]uint8{c.R, c.G, c.B}
	case color.RGBA:
		if c.A == 0xff {
			return [3]uint8{c.R, c.G, c.B}
		}
	case color.Gray:
		return [3]uint8{c.Y, c.Y, c.Y}
	}
	n := color.NRGBAModel.Convert(c).(color.NRGBA)
	return [3]uint8{n.R, n.G, n.B}
}

// reader8 returns a row reader that yields Pillow's storage of mode for img. Fast paths read the
// Pix slices of the common concrete types; anything else goes through color models.
func reader8(img image.Image, mode pilMode) func(y int, dst []uint8) {
	b := img.Bounds()
	w := b.Dx()
	switch mode {
	case modeL, mode1, modeP:
		switch m := img.(type) {
		case *image.Gray:
			return func(y int, dst []uint8) {
				i := m.PixOffset(b.Min.X, b.Min.Y+y)
				copy(dst[:w], m.Pix[i:i+w])
			}
		case *image.Paletted: // "P", or a GIF/BMP whose palette is the identity gray ramp ("L")
			return func(y int, dst []uint8) {
				i := m.PixOffset(b.Min.X, b.Min.Y+y)
				copy(dst[:w], m.Pix[i:i+w])
			}
		case *image.NRGBA: // gray PNG with a tRNS chunk: Go expands it to NRGBA, Pillow keeps "L"
			return func(y int, dst []uint8) {
				i := m.PixOffset(b.Min.X, b.Min.Y+y)
				for x := range w {
					dst[x] = m.Pix[i+4*x]
				}
			}
		}
		return func(y int, dst []uint8) {
			for x := range w {
				dst[x] = color.GrayModel.Convert(img.At(b.Min.X+x, b.Min.Y+y)).(color.Gray).Y
			}
		}
	case modeLA: // 8-bit gray+alpha PNG (Pillow opens 16-bit ones as "RGBA")
		switch m := img.(type) {
		case *image.NRGBA:
			return func(y int, dst []uint8) {
				i := m.PixOffset(b.Min.X, b.Min.Y+y)
				for x := range w {
					dst[2*x], dst[2*x+1] = m.Pix[i+4*x], m.Pix[i+4*x+3]
				}
			}
		}
		return func(y int, dst []uint8) {
			for x := range w {
				c := color.NRGBAModel.Convert(img.At(b.Min.X+x, b.Min.Y+y)).(color.NRGBA)
				dst[2*x], dst[2*x+1] = c.R, c.A
			}
		}
	case modeRGB, modeRGBA, modeRGBa:
		nc := mode.channels()
		switch m := img.(type) {
		case *image.RGBA: // premultiplied; equals straight RGB when opaque
			if mode == modeRGBA {
				break
			}
			return func(y int, dst []uint8) {
				i := m.PixOffset(b.Min.X, b.Min.Y+y)
				copy4(dst, m.Pix[i:i+4*w], nc)
			}
		case *image.NRGBA:
			if mode == modeRGBa {
				break
			}
			return func(y int, dst []uint8) {
				i := m.PixOffset(b.Min.X, b.Min.Y+y)
				copy4(dst, m.Pix[i:i+4*w], nc)
			}
		case *image.RGBA64:
			if mode == modeRGBA {
				break
			}
			return func(y int, dst []uint8) {
				i := m.PixOffset(b.Min.X, b.Min.Y+y)
				high4(dst, m.Pix[i:i+8*w], nc)
			}
		case *image.NRGBA64: // 16-bit PNG: Pillow's "RGB;16B"/"RGBA;16B" keep the high bytes
			if mode == modeRGBa {
				break
			}
			return func(y int, dst []uint8) {
				i := m.PixOffset(b.Min.X, b.Min.Y+y)
				high4(dst, m.Pix[i:i+8*w], nc)
			}
		case *image.YCbCr:
			if mode == modeRGBa {
				break
			}
			return func(y int, dst []uint8) {
				for x := range w {
					yi := m.YOffset(b.Min.X+x, b.Min.Y+y)
					ci := m.COffset(b.Min.X+x, b.Min.Y+y)
					r, g, bb := color.YCbCrToRGB(m.Y[yi], m.Cb[ci], m.Cr[ci])
					dst[nc*x], dst[nc*x+1], dst[nc*x+2] = r, g, bb
					if nc == 4 {
						dst[nc*x+3] = 0xff
					}
				}
			}
		case *image.NYCbCrA:
			if mode == modeRGBa {
				break
			}
			return func(y int, dst []uint8) {
				for x := range w {
					yi := m.YOffset(b.Min.X+x, b.Min.Y+y)
					ci := m.COffset(b.Min.X+x, b.Min.Y+y)
					r, g, bb := color.YCbCrToRGB(m.Y[yi], m.Cb[ci], m.Cr[ci])
					dst[nc*x], dst[nc*x+1], dst[nc*x+2] = r, g, bb
					if nc == 4 {
						dst[nc*x+3] = m.A[m.AOffset(b.Min.X+x, b.Min.Y+y)]
					}
				}
			}
		}
		model := color.NRGBAModel
		if mode == modeRGBa {
			model = color.RGBAModel
		}
		return func(y int, dst []uint8) {
			for x := range w {
				var r, g, bb, a uint8
				switch c := model.Convert(img.At(b.Min.X+x, b.Min.Y+y)).(type) {
				case color.NRGBA:
					r, g, bb, a = c.R, c.G, c.B, c.A
				case color.RGBA:
					r, g, bb, a = c.R, c.G, c.B, c.A
				}
				dst[nc*x], dst[nc*x+1], dst[nc*x+2] = r, g, bb
				if nc == 4 {
					dst[nc*x+3] = a
				}
			}
		}
	case modeCMYK:
		if m, ok := img.(*image.CMYK); ok {
			return func(y int, dst []uint8) {
				i := m.PixOffset(b.Min.X, b.Min.Y+y)
				copy(dst[:4*w], m.Pix[i:i+4*w])
			}
		}
		return func(y int, dst []uint8) {
			for x := range w {
				c := color.CMYKModel.Convert(img.At(b.Min.X+x, b.Min.Y+y)).(color.CMYK)
				dst[4*x], dst[4*x+1], dst[4*x+2], dst[4*x+3] = c.C, c.M, c.Y, c.K
			}
		}
	}
	panic(fmt.Sprintf("preprocess: no 8-bit reader for mode %v", mode))
}

// copy4 copies 4-byte pixels from src into dst with nc (3 or 4) bytes per pixel.
func copy4(dst, src []uint8, nc int) {
	if nc == 4 {
		copy(dst, src)
		return
	}
	n := len(src) / 4
	for x := range n {
		dst[3*x], dst[3*x+1], dst[3*x+2] = src[4*x], src[4*x+1], src[4*x+2]
	}
}

// high4 copies the high bytes of big-endian 16-bit 4-channel pixels into nc-byte pixels.
func high4(dst, src []uint8, nc int) {
	n := len(src) / 8
	for x := range n {
		dst[nc*x], dst[nc*x+1], dst[nc*x+2] = src[8*x], src[8*x+2], src[8*x+4]
		if nc == 4 {
			dst[nc*x+3] = src[8*x+6]
		}
	}
}

// reader16 returns a row reader of 16-bit gray values.
func reader16(img image.Image) func(y int, dst []uint16) {
	b := img.Bounds()
	w := b.Dx()
	switch m := img.(type) {
	case *image.Gray16:
		return func(y int, dst []uint16) {
			i := m.PixOffset(b.Min.X, b.Min.Y+y)
			for x := range w {
				dst[x] = uint16(m.Pix[i+2*x])<<8 | uint16(m.Pix[i+2*x+1])
			}
		}
	case *image.NRGBA64: // 16-bit gray PNG with tRNS: Go expands it, Pillow keeps "I;16"
		return func(y int, dst []uint16) {
			i := m.PixOffset(b.Min.X, b.Min.Y+y)
			for x := range w {
				dst[x] = uint16(m.Pix[i+8*x])<<8 | uint16(m.Pix[i+8*x+1])
			}
		}
	}
	return func(y int, dst []uint16) {
		for x := range w {
			dst[x] = color.Gray16Model.Convert(img.At(b.Min.X+x, b.Min.Y+y)).(color.Gray16).Y
		}
	}
}
