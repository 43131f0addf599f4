package preprocess

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// fuzzLimits keep each fuzz input cheap: the default limits allow half-gigabyte images, which a
// crafted 30-byte header can claim; here the same checks run with smaller bounds.
var fuzzLimits = Limits{MaxSide: 4096, MaxPixels: 1 << 20, MaxBytes: 1 << 20}

// fuzzMaxAlloc bounds the bytes one input may allocate (decode + ResizeCrop + Apply). With at
// most 2^20 pixels, the largest legitimate use is a few copies of an 8-byte-per-pixel image plus
// decoder state (progressive JPEG coefficients), well under this; anything above means memory
// that grows with something other than the checked dimensions.
const fuzzMaxAlloc = 256 << 20

// FuzzDecode feeds arbitrary bytes through DecodeBytes and, when they decode, through
// ResizeCrop and Apply. It checks that nothing panics, that decoded images respect the limits,
// that the tensor has the right length with finite values, and that one input allocates at most
// fuzzMaxAlloc bytes. Seeds: the fixture inputs (one file per format and mode) plus a few headers.
//
//	go test ./cliplib/preprocess -run '^$' -fuzz FuzzDecode -fuzztime 5m
func FuzzDecode(f *testing.F) {
	if entries, err := os.ReadDir(filepath.Join(repoRoot(f), "testdata", "preprocess", "inputs")); err == nil {
		for _, e := range entries {
			data, err := os.ReadFile(filepath.Join(repoRoot(f), "testdata", "preprocess", "inputs", e.Name()))
			if err == nil && len(data) <= 64<<10 {
				f.Add(data)
			}
		}
	}
	var b bytes.Buffer
	png.Encode(&b, testImage(5, 3))
	f.Add(b.Bytes())
	b.Reset()
	gif.Encode(&b, image.NewPaletted(image.Rect(0, 0, 3, 2), color.Palette{color.Black, color.White}), nil)
	f.Add(b.Bytes())
	f.Add(pngHeader(4096, 4096))
	// A complete 1×1 PNG whose header claims 100000×100000 pixels (pixel data present).
	b.Reset()
	png.Encode(&b, testImage(1, 1))
	bomb := bytes.Clone(b.Bytes())
	binary.BigEndian.PutUint32(bomb[16:], 100000)
	binary.BigEndian.PutUint32(bomb[20:], 100000)
	binary.BigEndian.PutUint32(bomb[29:], crc32.ChecksumIEEE(bomb[12:29]))
	f.Add(bomb)
	f.Add(gifHeader(7, 9))
	f.Add(jpegHeader(16, 16))
	f.Add([]byte("RIFF\x00\x00\x00\x00WEBPVP8 "))
	f.Add([]byte("BM"))
	f.Add([]byte("II*\x00"))

	f.Fuzz(func(t *testing.T, data []byte) {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		defer func() {
			runtime.ReadMemStats(&after)
			if n := after.TotalAlloc - before.TotalAlloc; n > fuzzMaxAlloc {
				t.Fatalf("one %d-byte input allocated %d MiB", len(data), n>>20)
			}
		}()
		img, _, err := DecodeBytes(data, "fuzz", fuzzLimits)
		if err != nil {
			return
		}
		bnd := img.Bounds()
		if bnd.Dx() <= 0 || bnd.Dy() <= 0 || bnd.Dx() > fuzzLimits.MaxSide || bnd.Dy() > fuzzLimits.MaxSide ||
			int64(bnd.Dx())*int64(bnd.Dy()) > fuzzLimits.MaxPixels {
			t.Fatalf("decoded image bounds %v break the limits", bnd)
		}
		cfg := OpenAI(8)
		if len(data)%2 == 1 {
			cfg = MobileCLIP(8)
		}
		crop, err := ResizeCrop(img, cfg)
		if err != nil {
			t.Fatalf("ResizeCrop of a decoded %v image: %v", bnd, err)
		}
		if crop.Rect.Dx() != 8 || crop.Rect.Dy() != 8 {
			t.Fatalf("crop bounds %v", crop.Rect)
		}
		out, err := Apply(img, cfg)
		if err != nil {
			t.Fatalf("Apply: %v", err)
		}
		if len(out) != 3*8*8 {
			t.Fatalf("tensor length %d", len(out))
		}
		for _, v := range out {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				t.Fatalf("non-finite tensor value %v", v)
			}
		}
	})
}
