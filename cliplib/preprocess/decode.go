package preprocess

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"

	"github.com/clipkit/clipkit/internal/readlimit"

	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"
	"golang.org/x/image/webp"
)

// Limits bounds what Decode accepts, checked before any pixel memory is allocated. A zero field
// takes its value from DefaultLimits.
type Limits struct {
	// MaxSide is the largest width or height, in pixels.
	MaxSide int
	// MaxPixels is the largest width·height.
	MaxPixels int64
	// MaxBytes is the largest encoded input, in bytes.
	MaxBytes int64
}

// DefaultLimits are the limits of Decode and DecodeFile: 16384 pixels per side, 128·2^20
// (about 134 million) pixels and 256 MiB of encoded data.
var DefaultLimits = Limits{MaxSide: 16384, MaxPixels: 128 << 20, MaxBytes: 256 << 20}

// Decoded is an image returned by Decode. It embeds the decoded Go image (use it as any
// image.Image) and remembers the mode Pillow opens the same file in, which Apply and ResizeCrop
// need to reproduce the reference exactly (for example a 1-bit PNG is Pillow mode "1" and is
// resized with nearest neighbour, and a gray PNG with a tRNS chunk stays "L" although Go expands
// it to NRGBA).
type Decoded struct {
	image.Image
	mode pilMode
	pal  *[256][3]uint8 // RGB palette as Pillow sees it, when it differs from the Go palette
}

// Mode returns Pillow's name for the mode the reference opens this image in: "1", "L", "P",
// "LA", "RGB", "RGBA", "RGBa", "CMYK" or "I;16".
func (d *Decoded) Mode() string { return d.mode.String() }

// Decode reads a PNG, JPEG, GIF (first frame), WebP, BMP or TIFF image under DefaultLimits. It
// returns a *Decoded and the format name ("png", "jpeg", "gif", "webp", "bmp", "tiff"). Errors
// name the input (the file name when r has a Name method, as *os.File does, else "input").
//
// The pixels are what Pillow would hold: Y'CbCr JPEGs and lossy WebPs come back as RGB(A)
// converted with libjpeg-turbo's / libwebp's upsampling and tables (not Go's color.YCbCrToRGB),
// a GIF's first frame is placed on its logical screen, and the Pillow mode is recorded. Pixel
// memory is only allocated after the header passed the limits; a decoder panic on malformed data
// is returned as an error.
func Decode(r io.Reader) (image.Image, string, error) {
	name := "input"
	if n, ok := r.(interface{ Name() string }); ok {
		name = n.Name()
	}
	return DecodeReader(r, name, DefaultLimits)
}

// DecodeFile is Decode for the file at path, which must be a regular file (not a FIFO or device).
func DecodeFile(path string) (image.Image, string, error) {
	data, err := ReadFileLimited(path, DefaultLimits)
	if err != nil {
		return nil, "", err
	}
	return DecodeBytes(data, path, DefaultLimits)
}

// DecodeReader is Decode with an explicit input name (used in errors) and limits.
func DecodeReader(r io.Reader, name string, lim Limits) (image.Image, string, error) {
	lim = lim.orDefaults()
	data, err := io.ReadAll(io.LimitReader(r, lim.MaxBytes+1))
	if err != nil {
		return nil, "", fmt.Errorf("%s: reading image: %w", name, err)
	}
	if int64(len(data)) > lim.MaxBytes {
		return nil, "", fmt.Errorf("%s: image file is larger than the %d-byte limit", name, lim.MaxBytes)
	}
	return DecodeBytes(data, name, lim)
}

// ErrTooLarge is wrapped by the errors for images over the Limits.
var ErrTooLarge = errors.New("image too large")

// ErrUnknownFormat is wrapped by the error for data that is none of the supported formats.
var ErrUnknownFormat = errors.New("unrecognised image format (want PNG, JPEG, GIF, WebP, BMP or TIFF)")

// DecodeBytes decodes an image held in memory; name is used in errors.
func DecodeBytes(data []byte, name string, lim Limits) (img image.Image, format string, err error) {
	lim = lim.orDefaults()
	// Size, format and header limits first: no pixel memory for a file that claims too much.
	if _, format, err = DecodeConfigBytes(data, name, lim); err != nil {
		return nil, format, err
	}
	defer func() {
		// The decoders are not ours; a crafted file must not crash the caller.
		if r := recover(); r != nil {
			img, err = nil, fmt.Errorf("%s: %s decoder failed on malformed data: %v", name, format, r)
		}
	}()
	d, err := decodeFormat(format, data)
	if err != nil {
		return nil, format, fmt.Errorf("%s: decoding %s: %w", name, format, err)
	}
	if b := d.Bounds(); b.Dx() <= 0 || b.Dy() <= 0 {
		return nil, format, fmt.Errorf("%s: %s %w (%d×%d)", name, format, errNoPixels, b.Dx(), b.Dy())
	} else if err := lim.check(b.Dx(), b.Dy()); err != nil {
		return nil, format, fmt.Errorf("%s: decoded %s is %d×%d: %w", name, format, b.Dx(), b.Dy(), err)
	}
	return d, format, nil
}

// DecodeConfigBytes reads only the header of an image held in memory: its size and format, under
// the same sniffing, limits and panic recovery as DecodeBytes. It allocates no pixel memory.
func DecodeConfigBytes(data []byte, name string, lim Limits) (cfg image.Config, format string, err error) {
	lim = lim.orDefaults()
	if int64(len(data)) > lim.MaxBytes {
		return cfg, "", fmt.Errorf("%s: image data is larger than the %d-byte limit", name, lim.MaxBytes)
	}
	format = sniffFormat(data)
	if format == "" {
		head := data[:min(len(data), 12)]
		return cfg, "", fmt.Errorf("%s: %w; first bytes %q", name, ErrUnknownFormat, head)
	}
	defer func() {
		if r := recover(); r != nil {
			cfg, err = image.Config{}, fmt.Errorf("%s: %s decoder failed on malformed data: %v", name, format, r)
		}
	}()
	cfg, err = decodeConfig(format, data)
	if err != nil {
		return image.Config{}, format, fmt.Errorf("%s: reading %s header: %w", name, format, err)
	}
	if err := lim.check(cfg.Width, cfg.Height); err != nil {
		return image.Config{}, format, fmt.Errorf("%s: %s is %d×%d: %w", name, format, cfg.Width, cfg.Height, err)
	}
	return cfg, format, nil
}

// ReadFileLimited reads a whole file of at most lim.MaxBytes bytes (DefaultLimits' when zero),
// refusing anything that is not a regular file (a FIFO or device would block or never end).
func ReadFileLimited(path string, lim Limits) ([]byte, error) {
	data, err := readlimit.ReadFile(path, lim.orDefaults().MaxBytes)
	if errors.Is(err, readlimit.ErrTooLarge) {
		return nil, fmt.Errorf("%w (%w)", err, ErrTooLarge)
	}
	return data, err
}

func (lim Limits) orDefaults() Limits {
	if lim.MaxSide <= 0 {
		lim.MaxSide = DefaultLimits.MaxSide
	}
	if lim.MaxPixels <= 0 {
		lim.MaxPixels = DefaultLimits.MaxPixels
	}
	if lim.MaxBytes <= 0 {
		lim.MaxBytes = DefaultLimits.MaxBytes
	}
	return lim
}

func (lim Limits) check(w, h int) error {
	if w > lim.MaxSide || h > lim.MaxSide {
		return fmt.Errorf("%w: a side exceeds %d pixels", ErrTooLarge, lim.MaxSide)
	}
	if int64(w)*int64(h) > lim.MaxPixels {
		return fmt.Errorf("%w: more than %d pixels", ErrTooLarge, lim.MaxPixels)
	}
	return nil
}

// sniffFormat recognises the supported formats by their magic bytes.
func sniffFormat(b []byte) string {
	switch {
	case bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")):
		return "png"
	case bytes.HasPrefix(b, []byte("\xff\xd8")):
		return "jpeg"
	case bytes.HasPrefix(b, []byte("GIF87a")), bytes.HasPrefix(b, []byte("GIF89a")):
		return "gif"
	case len(b) >= 12 && string(b[:4]) == "RIFF" && string(b[8:12]) == "WEBP":
		return "webp"
	case bytes.HasPrefix(b, []byte("BM")):
		return "bmp"
	case bytes.HasPrefix(b, []byte("II*\x00")), bytes.HasPrefix(b, []byte("MM\x00*")):
		return "tiff"
	}
	return ""
}

func decodeConfig(format string, data []byte) (image.Config, error) {
	r := bytes.NewReader(data)
	switch format {
	case "png":
		return png.DecodeConfig(r)
	case "jpeg":
		return jpeg.DecodeConfig(r)
	case "gif":
		return gif.DecodeConfig(r)
	case "webp":
		return webp.DecodeConfig(r)
	case "bmp":
		return bmp.DecodeConfig(r)
	case "tiff":
		return tiff.DecodeConfig(r)
	}
	return image.Config{}, ErrUnknownFormat
}

// decodeFormat decodes data and attaches the Pillow mode of the file.
func decodeFormat(format string, data []byte) (*Decoded, error) {
	r := bytes.NewReader(data)
	var (
		img image.Image
		err error
	)
	switch format {
	case "png":
		img, err = png.Decode(r)
	case "jpeg":
		img, err = jpeg.Decode(r)
	case "gif":
		return decodeGIF(data)
	case "webp":
		img, err = webp.Decode(r)
	case "bmp":
		img, err = bmp.Decode(r)
	case "tiff":
		img, err = tiff.Decode(r)
	default:
		err = ErrUnknownFormat
	}
	if err != nil {
		return nil, err
	}
	// Reproduce the reference decoders' chroma upsampling and colour conversion (see ycc.go).
	switch m := img.(type) {
	case *image.YCbCr:
		if format == "jpeg" {
			if rgb, ok := jpegRGB(m); ok {
				img = rgb
			}
		} else if format == "webp" {
			if rgb, ok := webpRGB(m, nil, 0); ok {
				img = rgb
			}
		}
	case *image.NYCbCrA:
		if format == "webp" {
			if rgba, ok := webpRGB(&m.YCbCr, m.A, m.AStride); ok {
				img = rgba
			}
		}
	}
	d := &Decoded{Image: img, mode: inferMode(img)}
	switch format {
	case "png":
		if m, ok := pngMode(data); ok {
			d.mode = m
		}
	case "bmp":
		d.mode = bmpMode(data, img, d.mode)
	case "tiff":
		if tiffBilevel(data) {
			d.mode = mode1
		}
	}
	return d, nil
}

// pngMode returns the mode Pillow opens a PNG in, from its IHDR: gray 1-bit "1", gray 2/4/8-bit
// "L", gray 16-bit "I;16", truecolor "RGB" (16-bit too: Pillow keeps the high bytes), palette "P",
// gray+alpha "LA" (16-bit: "RGBA"), truecolor+alpha "RGBA". A tRNS chunk does not change
// Pillow's mode.
func pngMode(b []byte) (pilMode, bool) {
	// 8-byte signature, 4-byte length, "IHDR", width, height, depth, color type.
	if len(b) < 26 || string(b[12:16]) != "IHDR" {
		return 0, false
	}
	depth, ct := b[24], b[25]
	switch ct {
	case 0:
		switch depth {
		case 1:
			return mode1, true
		case 16:
			return modeI16, true
		}
		return modeL, true
	case 2:
		return modeRGB, true
	case 3:
		return modeP, true
	case 4:
		if depth == 16 {
			return modeRGBA, true // Pillow unpacks 16-bit gray+alpha ("LA;16B") into RGBA
		}
		return modeLA, true
	case 6:
		return modeRGBA, true
	}
	return 0, false
}

// bmpMode applies Pillow's BMP rules: a palette that is exactly the gray ramp (or black/white
// for two colours) is opened as "L" (or "1"), and a 32-bit BMP is "RGBA" only with
// BI_BITFIELDS compression (an alpha mask); otherwise Pillow ignores the fourth byte.
func bmpMode(b []byte, img image.Image, inferred pilMode) pilMode {
	if len(b) < 34 {
		return inferred
	}
	switch m := img.(type) {
	case *image.Paletted:
		n := len(m.Palette)
		for i, c := range m.Palette {
			want := uint8(i)
			if n == 2 {
				want = []uint8{0, 255}[i]
			}
			if colorRGB(c) != [3]uint8{want, want, want} {
				return modeP
			}
		}
		if n <= 2 {
			return mode1
		}
		return modeL
	case *image.NRGBA:
		if binary.LittleEndian.Uint32(b[30:34]) == 3 && !m.Opaque() {
			return modeRGBA
		}
		return modeRGB
	}
	return inferred
}

// tiffBilevel reports whether the first IFD of a TIFF has one sample of one bit per pixel with
// a WhiteIsZero or BlackIsZero photometric, which Pillow opens as mode "1" (Go decodes it to gray).
func tiffBilevel(b []byte) bool {
	if len(b) < 8 {
		return false
	}
	var bo binary.ByteOrder = binary.LittleEndian
	if b[0] == 'M' {
		bo = binary.BigEndian
	}
	off := int64(bo.Uint32(b[4:8]))
	if off < 8 || off+2 > int64(len(b)) {
		return false
	}
	n := int64(bo.Uint16(b[off:]))
	bits, spp, photometric := uint32(1), uint32(1), uint32(99)
	for i := range n {
		e := off + 2 + 12*i
		if e+12 > int64(len(b)) {
			return false
		}
		tag, typ, count := bo.Uint16(b[e:]), bo.Uint16(b[e+2:]), bo.Uint32(b[e+4:])
		if count != 1 {
			if tag == 258 { // several BitsPerSample values: not bilevel
				return false
			}
			continue
		}
		var v uint32
		switch typ {
		case 3: // SHORT
			v = uint32(bo.Uint16(b[e+8:]))
		case 4: // LONG
			v = bo.Uint32(b[e+8:])
		default:
			continue
		}
		switch tag {
		case 258:
			bits = v
		case 262:
			photometric = v
		case 277:
			spp = v
		}
	}
	return bits == 1 && spp == 1 && photometric <= 1
}

// gifInfo is what Pillow uses from a GIF to build its first frame.
type gifInfo struct {
	screen      image.Rectangle
	table       []byte // raw RGB colour table of the first frame (local, else global)
	transparent int    // transparency index of the first frame, -1 if none
}

// parseGIF walks the blocks of a GIF up to the first image descriptor.
func parseGIF(b []byte) (gifInfo, error) {
	info := gifInfo{transparent: -1}
	errShort := errors.New("truncated GIF header")
	if len(b) < 13 {
		return info, errShort
	}
	info.screen = image.Rect(0, 0, int(binary.LittleEndian.Uint16(b[6:])), int(binary.LittleEndian.Uint16(b[8:])))
	p := 13
	table := func(flags byte) ([]byte, error) {
		if flags&0x80 == 0 {
			return nil, nil
		}
		n := 3 << (flags&7 + 1)
		if p+n > len(b) {
			return nil, errShort
		}
		t := b[p : p+n]
		p += n
		return t, nil
	}
	var err error
	if info.table, err = table(b[10]); err != nil {
		return info, err
	}
	for p < len(b) {
		switch b[p] {
		case 0x21: // extension: label, then sub-blocks
			if p+2 > len(b) {
				return info, errShort
			}
			label := b[p+1]
			p += 2
			first := true
			for {
				if p >= len(b) {
					return info, errShort
				}
				size := int(b[p])
				p++
				if size == 0 {
					break
				}
				if p+size > len(b) {
					return info, errShort
				}
				if label == 0xf9 && first && size >= 4 && b[p]&1 != 0 {
					info.transparent = int(b[p+3]) // as in Pillow, a later GCE without the flag keeps it
				}
				first = false
				p += size
			}
		case 0x2c: // image descriptor
			if p+10 > len(b) {
				return info, errShort
			}
			p += 10
			local, err := table(b[p-1])
			if err != nil {
				return info, err
			}
			if local != nil {
				info.table = local
			}
			return info, nil
		default:
			return info, errors.New("no image in GIF")
		}
	}
	return info, errShort
}

// decodeGIF decodes the first frame the way Pillow presents it: on a canvas of the logical
// screen size, filled with the transparency index (or 0) outside the frame, in mode "P" with the
// file's colour table (Go blanks the transparent entry, Pillow's convert("RGB") uses its colour),
// or in mode "L" when the table is absent or is the identity gray ramp.
func decodeGIF(data []byte) (*Decoded, error) {
	info, err := parseGIF(data)
	if err != nil {
		return nil, err
	}
	img, err := gif.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	frame, ok := img.(*image.Paletted)
	if !ok {
		return nil, fmt.Errorf("unexpected GIF frame type %T", img)
	}
	canvas := frame
	if frame.Rect != info.screen && frame.Rect.In(info.screen) {
		// Go's decoder rejects frames that leave the screen, so the canvas is the screen.
		canvas = image.NewPaletted(info.screen, frame.Palette)
		if fill := info.transparent; fill > 0 {
			for i := range canvas.Pix {
				canvas.Pix[i] = uint8(fill)
			}
		}
		for y := frame.Rect.Min.Y; y < frame.Rect.Max.Y; y++ {
			copy(canvas.Pix[canvas.PixOffset(frame.Rect.Min.X, y):], frame.Pix[frame.PixOffset(frame.Rect.Min.X, y):frame.PixOffset(frame.Rect.Max.X, y)])
		}
	}
	d := &Decoded{Image: canvas, mode: modeP}
	gray := true
	for i := 0; i+2 < len(info.table); i += 3 {
		if v := uint8(i / 3); info.table[i] != v || info.table[i+1] != v || info.table[i+2] != v || i/3 > 255 {
			gray = false
			break
		}
	}
	if gray {
		d.mode = modeL
		return d, nil
	}
	var pal [256][3]uint8
	for i := 0; i+2 < len(info.table) && i/3 < 256; i += 3 {
		pal[i/3] = [3]uint8{info.table[i], info.table[i+1], info.table[i+2]}
	}
	d.pal = &pal
	return d, nil
}
