package encoder

import (
	"fmt"
	"testing"
	"time"

	"github.com/clipkit/clipkit/cliplib/model"
)

// benchEncoder builds a randomly initialised encoder of a registered architecture (random weights
// cost exactly what trained ones do).
func benchEncoder(b *testing.B, arch string, opt Options) *Encoder {
	b.Helper()
	cfg, err := model.Lookup(arch)
	if err != nil {
		b.Fatal(err)
	}
	sd, err := RandomWeights(cfg, 1)
	if err != nil {
		b.Fatal(err)
	}
	e, err := New(cfg, sd, opt)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(e.Close)
	return e
}

// BenchmarkEncodeImages measures image-tower throughput (reported as images/s) of ViT-B/32 (or the
// -arch list) on the configured backend at batch 1, 8 and 32 (or -batches). Run with:
// go test -run=^$ -bench=EncodeImages ./cliplib/encoder/ [-args -arch=MobileCLIP-S0,ViT-B/32 -batches=1,8]
func BenchmarkEncodeImages(b *testing.B) {
	for _, arch := range benchArchs() {
		e := benchEncoder(b, arch, Options{})
		r := e.Config().Vision.ImageSize
		for _, batch := range benchBatchSizes() {
			pixels := make([]float32, batch*3*r*r)
			for i := range pixels {
				pixels[i] = float32(i%255)/255 - 0.5
			}
			b.Run(fmt.Sprintf("%s/batch=%d", arch, batch), func(b *testing.B) {
				if _, err := e.EncodeImages(pixels, batch); err != nil { // compile outside the timing
					b.Fatal(err)
				}
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if _, err := e.EncodeImages(pixels, batch); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(batch*b.N)/b.Elapsed().Seconds(), "images/s")
			})
		}
	}
}

// BenchmarkEncodeTexts measures text-tower throughput (texts/s) at batch 1, 8 and 32, for a
// typical 7-token prompt (cut to the 8-token bucket) and with the full 77-token context.
func BenchmarkEncodeTexts(b *testing.B) {
	for _, arch := range benchArchs() {
		for _, full := range []bool{false, true} {
			e := benchEncoder(b, arch, Options{FullTextLength: full})
			for _, batch := range benchBatchSizes() {
				ids := make([][]int32, batch)
				for i := range ids {
					ids[i] = tokens(49406, 320, 1125, 539, 320, int32(2368+i), 49407)
				}
				if !full && e.TextLength(ids) == e.Config().Text.ContextLength {
					continue // a non-causal tower always runs the full context: the next pass measures it
				}
				b.Run(fmt.Sprintf("%s/len=%d/batch=%d", arch, e.TextLength(ids), batch), func(b *testing.B) {
					if _, err := e.EncodeTokens(ids); err != nil {
						b.Fatal(err)
					}
					b.ResetTimer()
					for i := 0; i < b.N; i++ {
						if _, err := e.EncodeTokens(ids); err != nil {
							b.Fatal(err)
						}
					}
					b.ReportMetric(float64(batch*b.N)/b.Elapsed().Seconds(), "texts/s")
				})
			}
		}
	}
}

// BenchmarkInterleaved measures the -arch models round-robin, one call each per round (b.N
// rounds), at the first -batches size, and reports each one's images/s and texts/s (full 77-token
// context) next to the others'. On a shared machine whose load drifts, the ratios of interleaved
// measurements are far steadier than those of separate runs. Run with, e.g.:
// go test -run=^$ -bench=Interleaved -benchtime=3x ./cliplib/encoder/ -args -arch=MobileCLIP-S0,ViT-B/16 -batches=1
func BenchmarkInterleaved(b *testing.B) {
	archs := benchArchs()
	batch := benchBatchSizes()[0]
	encs := make([]*Encoder, len(archs))
	pixels := make([][]float32, len(archs))
	ids := make([][]int32, batch)
	for i := range ids {
		ids[i] = tokens(49406, 320, 1125, 539, 320, int32(2368+i), 49407)
	}
	for i, arch := range archs {
		encs[i] = benchEncoder(b, arch, Options{FullTextLength: true})
		r := encs[i].Config().Vision.ImageSize
		pixels[i] = make([]float32, batch*3*r*r)
		if _, err := encs[i].EncodeImages(pixels[i], batch); err != nil { // compile outside the timing
			b.Fatal(err)
		}
		if _, err := encs[i].EncodeTokens(ids); err != nil {
			b.Fatal(err)
		}
	}
	imgTime := make([]time.Duration, len(archs))
	txtTime := make([]time.Duration, len(archs))
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		for i, e := range encs {
			start := time.Now()
			if _, err := e.EncodeImages(pixels[i], batch); err != nil {
				b.Fatal(err)
			}
			imgTime[i] += time.Since(start)
			start = time.Now()
			if _, err := e.EncodeTokens(ids); err != nil {
				b.Fatal(err)
			}
			txtTime[i] += time.Since(start)
		}
	}
	for i, arch := range archs {
		b.ReportMetric(float64(batch*b.N)/imgTime[i].Seconds(), arch+"-images/s")
		b.ReportMetric(float64(batch*b.N)/txtTime[i].Seconds(), arch+"-texts/s")
	}
}
