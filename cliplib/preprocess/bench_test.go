package preprocess

import (
	"bytes"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"testing"
)

// reportCPU starts a CPU-time measurement; call the result after the loop.
func reportCPU(b *testing.B, perOp int) func() {
	start := processCPUTime()
	return func() {
		d := processCPUTime() - start
		b.ReportMetric(float64(d.Nanoseconds())/float64(b.N*perOp), "cpu-ns/op")
	}
}

// Benchmarks (numbers in the package README/report come from):
//
//	CLIPKIT_SHARED=... go test ./cliplib/preprocess -run '^$' -bench . -cpu 1,2 -benchmem
//
// They use the shared 512×512 astronaut PNG and 640×427 rocket JPEG when present, else a
// synthetic 512×512 PNG. Besides wall time (ns/op) each reports the process CPU time per
// operation (cpu-ns/op), which stays meaningful when other jobs load the machine.

func benchInput(b *testing.B, name string) []byte {
	b.Helper()
	if data, err := os.ReadFile(filepath.Join(sharedDir(b), "data", "clip_test_images", name)); err == nil {
		return data
	}
	if filepath.Ext(name) != ".png" {
		b.Skipf("%s not found in the shared data", name)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, testImage(512, 512)); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}

func benchDecoded(b *testing.B, name string) image.Image {
	b.Helper()
	img, _, err := DecodeBytes(benchInput(b, name), name, DefaultLimits)
	if err != nil {
		b.Fatal(err)
	}
	return img
}

// BenchmarkDecodeAndApplyPNG512 is the whole per-image cost for a 512×512 RGB PNG: decode,
// resize to 224, crop, normalise.
func BenchmarkDecodeAndApplyPNG512(b *testing.B) {
	data := benchInput(b, "astronaut.png")
	cfg := OpenAI(224)
	b.ReportAllocs()
	defer reportCPU(b, 1)()
	for b.Loop() {
		img, _, err := DecodeBytes(data, "astronaut.png", DefaultLimits)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Apply(img, cfg); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeAndApplyJPEG640 is the same for the 640×427 JPEG (includes the libjpeg-style
// chroma upsampling and colour conversion).
func BenchmarkDecodeAndApplyJPEG640(b *testing.B) {
	data := benchInput(b, "rocket.jpg")
	cfg := OpenAI(224)
	b.ReportAllocs()
	defer reportCPU(b, 1)()
	for b.Loop() {
		img, _, err := DecodeBytes(data, "rocket.jpg", DefaultLimits)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Apply(img, cfg); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkResizeCrop512 is the resampler alone: 512×512 RGB → 224×224 bicubic crop.
func BenchmarkResizeCrop512(b *testing.B) {
	img := benchDecoded(b, "astronaut.png")
	cfg := OpenAI(224)
	b.ReportAllocs()
	defer reportCPU(b, 1)()
	for b.Loop() {
		if _, err := ResizeCrop(img, cfg); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkApply512 is resize + crop + normalise of an already decoded 512×512 image.
func BenchmarkApply512(b *testing.B) {
	img := benchDecoded(b, "astronaut.png")
	cfg := OpenAI(224)
	b.ReportAllocs()
	defer reportCPU(b, 1)()
	for b.Loop() {
		if _, err := Apply(img, cfg); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBatch32 runs Batch on 32 decoded 512×512 images (one goroutine per CPU: compare
// -cpu 1 and -cpu 2) and reports the time per image.
func BenchmarkBatch32(b *testing.B) {
	img := benchDecoded(b, "astronaut.png")
	imgs := make([]image.Image, 32)
	for i := range imgs {
		imgs[i] = img
	}
	cfg := OpenAI(224)
	b.ReportAllocs()
	defer reportCPU(b, len(imgs))()
	for b.Loop() {
		if _, err := Batch(imgs, cfg); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(imgs)), "ns/image")
}
