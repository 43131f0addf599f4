package preprocess

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// pngHeader returns a PNG signature and IHDR chunk for a w×h RGB image, with no pixel data.
func pngHeader(w, h uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 2
	binary.Write(&b, binary.BigEndian, uint32(len(ihdr)))
	chunk := append([]byte("IHDR"), ihdr...)
	b.Write(chunk)
	binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(chunk))
	return b.Bytes()
}

// gifHeader returns a GIF header with a w×h logical screen and nothing else.
func gifHeader(w, h uint16) []byte {
	b := []byte("GIF89a")
	b = binary.LittleEndian.AppendUint16(b, w)
	b = binary.LittleEndian.AppendUint16(b, h)
	return append(b, 0, 0, 0)
}

// jpegHeader returns SOI, a JFIF APP0 and a baseline SOF0 for a w×h 3-component image.
func jpegHeader(w, h uint16) []byte {
	b := []byte{0xff, 0xd8, 0xff, 0xe0, 0, 16, 'J', 'F', 'I', 'F', 0, 1, 1, 0, 0, 1, 0, 1, 0, 0}
	b = append(b, 0xff, 0xc0, 0, 17, 8)
	b = binary.BigEndian.AppendUint16(b, h)
	b = binary.BigEndian.AppendUint16(b, w)
	b = append(b, 3)
	for id := byte(1); id <= 3; id++ {
		b = append(b, id, 0x11, 0)
	}
	return append(b, 0xff, 0xd9)
}

func TestDecodeRefusesHugeImagesBeforeDecoding(t *testing.T) {
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"png wide", pngHeader(20000, 10), "exceeds 16384"},
		{"png many pixels", pngHeader(12000, 12000), "more than"},
		{"gif screen", gifHeader(65535, 65535), "exceeds 16384"},
		{"jpeg", jpegHeader(65000, 100), "exceeds 16384"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := DecodeBytes(tc.data, tc.name+".bin", DefaultLimits)
			if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.name+".bin") {
				t.Fatalf("error = %v, want ErrTooLarge naming the input and %q", err, tc.want)
			}
		})
	}
	// Zero limits mean the defaults.
	if _, _, err := DecodeBytes(pngHeader(20000, 10), "zero.png", Limits{}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("zero Limits: error %v, want ErrTooLarge from the default MaxSide", err)
	}
	// A custom limit applies too.
	var buf bytes.Buffer
	png.Encode(&buf, image.NewGray(image.Rect(0, 0, 300, 20)))
	if _, _, err := DecodeBytes(buf.Bytes(), "small.png", Limits{MaxSide: 256, MaxPixels: 1 << 20, MaxBytes: 1 << 20}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("300×20 PNG under MaxSide 256: error %v, want ErrTooLarge", err)
	}
}

func TestDecodeErrorsNameTheInput(t *testing.T) {
	var good bytes.Buffer
	png.Encode(&good, testImage(40, 30))
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"text.dat", []byte("hello, world"), "unrecognised image format"},
		{"empty.dat", nil, "unrecognised image format"},
		{"truncated.png", good.Bytes()[:good.Len()/2], "decoding png"},
		{"header-only.png", pngHeader(10, 10), "png"},
		{"bad.jpg", []byte{0xff, 0xd8, 0xff, 0xd9}, "jpeg"},
		{"bad.gif", []byte("GIF89a\x01\x00\x01\x00\x00\x00\x00;"), "gif"},
		{"bad.webp", []byte("RIFF\x04\x00\x00\x00WEBP"), "webp"},
		{"bad.bmp", []byte("BM\x00\x00"), "bmp"},
		{"bad.tif", []byte("II*\x00\x08\x00\x00\x00\x00\x00"), "tiff"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := DecodeBytes(tc.data, tc.name, DefaultLimits)
			if err == nil || !strings.Contains(err.Error(), tc.name) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want one naming %q and containing %q", err, tc.name, tc.want)
			}
		})
	}
}

func TestDecodeFileAndReaderNames(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "not-an-image.txt")
	if err := os.WriteFile(path, []byte("plain text"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := DecodeFile(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("DecodeFile error = %v, want one naming %s", err, path)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, _, err := Decode(f); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("Decode(*os.File) error = %v, want one naming %s", err, path)
	}
	if _, _, err := Decode(strings.NewReader("x")); err == nil || !strings.Contains(err.Error(), "input") {
		t.Errorf("Decode(reader) error = %v, want one naming \"input\"", err)
	}
	if _, _, err := DecodeFile(filepath.Join(dir, "missing.png")); err == nil || !strings.Contains(err.Error(), "missing.png") {
		t.Errorf("DecodeFile(missing) error = %v", err)
	}
	var big bytes.Buffer
	png.Encode(&big, testImage(64, 64))
	if _, _, err := DecodeReader(&big, "big.png", Limits{MaxSide: 100, MaxPixels: 1e4, MaxBytes: 100}); err == nil || !strings.Contains(err.Error(), "100-byte limit") {
		t.Errorf("DecodeReader over MaxBytes: error %v", err)
	}
}

func TestDecodeRecordsPillowModes(t *testing.T) {
	enc := func(f func(*bytes.Buffer) error) []byte {
		var b bytes.Buffer
		if err := f(&b); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	r := image.Rect(0, 0, 20, 10)
	gray16 := image.NewGray16(r)
	translucent := image.NewNRGBA(r)
	bw := image.NewPaletted(r, color.Palette{color.Black, color.White})
	for _, tc := range []struct {
		name, format, mode string
		data               []byte
	}{
		{"gray png", "png", "L", enc(func(b *bytes.Buffer) error { return png.Encode(b, image.NewGray(r)) })},
		{"16-bit gray png", "png", "I;16", enc(func(b *bytes.Buffer) error { return png.Encode(b, gray16) })},
		{"RGBA png", "png", "RGBA", enc(func(b *bytes.Buffer) error { return png.Encode(b, translucent) })},
		{"opaque png", "png", "RGB", enc(func(b *bytes.Buffer) error { return png.Encode(b, testImage(20, 10)) })},
		{"paletted png", "png", "P", enc(func(b *bytes.Buffer) error { return png.Encode(b, bw) })},
		{"gif", "gif", "P", enc(func(b *bytes.Buffer) error { return gif.Encode(b, bw, nil) })},
		{"gray jpeg", "jpeg", "L", enc(func(b *bytes.Buffer) error { return jpeg.Encode(b, image.NewGray(r), nil) })},
		{"color jpeg", "jpeg", "RGB", enc(func(b *bytes.Buffer) error { return jpeg.Encode(b, testImage(20, 10), nil) })},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img, format, err := DecodeBytes(tc.data, tc.name, DefaultLimits)
			if err != nil {
				t.Fatal(err)
			}
			if format != tc.format {
				t.Errorf("format %q, want %q", format, tc.format)
			}
			if m := img.(*Decoded).Mode(); m != tc.mode {
				t.Errorf("mode %q, want %q", m, tc.mode)
			}
			if b := img.Bounds(); b != r {
				t.Errorf("bounds %v, want %v", b, r)
			}
		})
	}
}

func TestJPEGColourConversionIsLibjpegs(t *testing.T) {
	// For a flat 4:4:4 image the upsampling is trivial, so the RGB is libjpeg-turbo's
	// ycc_rgb_convert of the decoded samples. Check a few hand-computed table values.
	for _, tc := range []struct {
		y, cb, cr uint8
		r, g, b   uint8
	}{
		{128, 128, 128, 128, 128, 128},
		// G = 0 + (22554·128 + 46802·128 + 32768) >> 16 = 135; R, B clamp at 0.
		{0, 0, 0, 0, 135, 0},
		// G = 255 + (-22554·127 + 32768 - 46802·127) >> 16 = 255 - 134 (arithmetic shift floors).
		{255, 255, 255, 255, 121, 255},
		// R = 100 + (91881·(-78) + 32768) >> 16 = 100 - 109 → 0; G = 100 + 31; B = 100 + 128.
		{100, 200, 50, 0, 131, 228},
	} {
		m := image.NewYCbCr(image.Rect(0, 0, 2, 2), image.YCbCrSubsampleRatio444)
		for i := range m.Y {
			m.Y[i] = tc.y
		}
		for i := range m.Cb {
			m.Cb[i], m.Cr[i] = tc.cb, tc.cr
		}
		rgb, ok := jpegRGB(m)
		if !ok {
			t.Fatal("jpegRGB refused a plain 4:4:4 image")
		}
		if got := rgb.RGBAAt(1, 1); got != (color.RGBA{tc.r, tc.g, tc.b, 255}) {
			t.Errorf("YCbCr(%d,%d,%d) → %v, want (%d,%d,%d)", tc.y, tc.cb, tc.cr, got, tc.r, tc.g, tc.b)
		}
	}
}

func TestJPEGFancyUpsamplingInterpolatesChroma(t *testing.T) {
	// 4:2:0 with a chroma step: libjpeg-turbo's triangle filter gives the 3/4–1/4 blends
	// (rounded with biases 8 and 7 over 16) instead of Go's replicated samples.
	m := image.NewYCbCr(image.Rect(0, 0, 8, 2), image.YCbCrSubsampleRatio420)
	for i := range m.Y {
		m.Y[i] = 128
	}
	for i := range m.Cb {
		m.Cb[i], m.Cr[i] = 128, 128
	}
	m.Cr[2], m.Cr[3] = 228, 228 // chroma columns 2,3 (pixels 4..7) high
	up := jpegUpsampler(m.SubsampleRatio, m.Cr, m.CStride, 4, 1)
	// colsum = 4·Cr (both rows equal); pixel 3 (odd, c=1): (3·512 + 4·228 + 7) >> 4 = 153;
	// pixel 4 (even, c=2): (3·912 + 512 + 8) >> 4 = 203.
	for x, want := range map[int]uint8{0: 128, 2: 128, 3: 153, 4: 203, 7: 228} {
		if got := up(x, 0); got != want {
			t.Errorf("upsampled Cr at x=%d: %d, want %d", x, got, want)
		}
	}
}
