package preprocess

import (
	"fmt"
	"image"
)

// resizeCropInto runs Resize → CenterCrop → convert("RGB") as torchvision and Pillow do and writes
// the Size×Size crop into dst as RGBA bytes (alpha 255), len(dst) = 4·Size·Size.
//
// Order and mode rules (checked against torchvision 0.29 + Pillow 13):
//   - torchvision's Resize returns the image untouched when its size already matches; otherwise
//     Pillow's Image.resize runs with the requested filter, except:
//   - modes "1" and "P" are always resized with NEAREST;
//   - "RGBA" and "LA" are converted to premultiplied "RGBa"/"La", resized, and converted back
//     (c' = 255·c/a truncated, clipped; alpha 0 and 255 leave c as is);
//   - "I;16" uses the 16-bit path (float weights, 16-bit intermediate).
//   - CenterCrop then cuts the window, and convert("RGB") maps each pixel: "L"/"1"/"LA" replicate
//     the gray value, "P" looks up the palette (ignoring transparency), "RGBA" drops alpha,
//     "RGBa" un-premultiplies, "CMYK" uses Pillow's cmyk2rgb, "I;16" clips to 255.
func resizeCropInto(dst []uint8, img image.Image, cfg Config) (err error) {
	s, err := newSource(img)
	if err != nil {
		return err
	}
	defer func() {
		// Readers index the image's Pix slices; a malformed user-built image (Pix shorter than its
		// bounds claim) must come back as an error, not a crash.
		if r := recover(); r != nil {
			err = fmt.Errorf("preprocess: malformed %T image (%v): %v", img, img.Bounds(), r)
		}
	}()
	n := cfg.Size
	outW, outH := ResizedSize(s.w, s.h, n)
	win := window{
		x0: CropOffset(outW, n, cfg.CropRounding),
		y0: CropOffset(outH, n, cfg.CropRounding),
		w:  n, h: n,
	}
	resize := outW != s.w || outH != s.h
	flt := cfg.Interpolation.filter()

	if s.mode == modeI16 {
		var px []uint16
		if resize {
			px = resample16(s.row16, s.w, s.h, outW, outH, flt, win)
		} else {
			px = cropRows16(s, win)
		}
		for i, v := range px {
			g := uint8(min(v, 255)) // Pillow's I16_RGB: values above 255 become 255
			dst[4*i], dst[4*i+1], dst[4*i+2], dst[4*i+3] = g, g, g, 255
		}
		return nil
	}

	nc := s.mode.channels()
	var px []uint8
	switch {
	case !resize:
		px = cropRows8(s, win)
	case s.mode == mode1 || s.mode == modeP:
		px = nearest8(s.row8, s.w, s.h, nc, outW, outH, win)
	case s.mode == modeRGBA || s.mode == modeLA:
		row := func(y int, line []uint8) {
			s.row8(y, line)
			premultiply(line, nc)
		}
		px = resample8(row, s.w, s.h, nc, outW, outH, flt, win)
		unpremultiply(px, nc)
	default:
		px = resample8(s.row8, s.w, s.h, nc, outW, outH, flt, win)
	}
	toRGB(dst, px, s)
	return nil
}

// cropRows8 reads the window of an image that is not resized.
func cropRows8(s *source, win window) []uint8 {
	nc := s.mode.channels()
	out := make([]uint8, win.w*win.h*nc)
	line := make([]uint8, s.w*nc)
	for j := range win.h {
		s.row8(win.y0+j, line)
		copy(out[j*win.w*nc:(j+1)*win.w*nc], line[win.x0*nc:(win.x0+win.w)*nc])
	}
	return out
}

// cropRows16 is cropRows8 for "I;16".
func cropRows16(s *source, win window) []uint16 {
	out := make([]uint16, win.w*win.h)
	line := make([]uint16, s.w)
	for j := range win.h {
		s.row16(win.y0+j, line)
		copy(out[j*win.w:(j+1)*win.w], line[win.x0:win.x0+win.w])
	}
	return out
}

// mulDiv255 is Pillow's MULDIV255: round(a·b/255) computed with shifts.
func mulDiv255(a, b uint8) uint8 {
	t := uint32(a)*uint32(b) + 128
	return uint8(((t >> 8) + t) >> 8)
}

// premultiply converts "RGBA"/"LA" pixels (alpha last of nc channels) to "RGBa"/"La" in place
// (Pillow's rgbA2rgba / lA2la).
func premultiply(px []uint8, nc int) {
	for i := 0; i+nc <= len(px); i += nc {
		a := px[i+nc-1]
		for c := range nc - 1 {
			px[i+c] = mulDiv255(px[i+c], a)
		}
	}
}

// unpremultiply converts "RGBa"/"La" pixels back in place (Pillow's rgba2rgbA / la2lA).
func unpremultiply(px []uint8, nc int) {
	for i := 0; i+nc <= len(px); i += nc {
		a := px[i+nc-1]
		if a == 0 || a == 255 {
			continue
		}
		for c := range nc - 1 {
			px[i+c] = uint8(min(255*uint32(px[i+c])/uint32(a), 255))
		}
	}
}

// toRGB applies Pillow's convert("RGB") for the source mode to packed pixels px and writes RGBA
// bytes (alpha 255) into dst.
func toRGB(dst, px []uint8, s *source) {
	switch s.mode {
	case modeL, mode1, modeLA:
		nc := s.mode.channels()
		for i := range len(px) / nc {
			g := px[i*nc]
			if s.mode == mode1 && g != 0 {
				g = 255
			}
			dst[4*i], dst[4*i+1], dst[4*i+2], dst[4*i+3] = g, g, g, 255
		}
	case modeP:
		for i, v := range px {
			c := s.pal[v]
			dst[4*i], dst[4*i+1], dst[4*i+2], dst[4*i+3] = c[0], c[1], c[2], 255
		}
	case modeRGB:
		for i := range len(px) / 3 {
			dst[4*i], dst[4*i+1], dst[4*i+2], dst[4*i+3] = px[3*i], px[3*i+1], px[3*i+2], 255
		}
	case modeRGBA:
		for i := range len(px) / 4 {
			dst[4*i], dst[4*i+1], dst[4*i+2], dst[4*i+3] = px[4*i], px[4*i+1], px[4*i+2], 255
		}
	case modeRGBa:
		copy(dst, px)
		unpremultiply(dst, 4)
		for i := 3; i < len(dst); i += 4 {
			dst[i] = 255
		}
	case modeCMYK:
		for i := range len(px) / 4 {
			nk := 255 - int32(px[4*i+3])
			for c := range 3 {
				// Pillow's cmyk2rgb: CLIP8(nk - MULDIV255(ink, nk)).
				t := int32(px[4*i+c])*nk + 128
				v := nk - ((t>>8)+t)>>8
				dst[4*i+c] = uint8(min(max(v, 0), 255))
			}
			dst[4*i+3] = 255
		}
	}
}
