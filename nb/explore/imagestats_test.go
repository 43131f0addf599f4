package explore

import (
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"testing"
)

func uniform(w, h int, c color.Color) image.Image {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, c)
		}
	}
	return img
}

func TestMeasurePixels(t *testing.T) {
	tests := []struct {
		name          string
		img           image.Image
		mean          [3]float64
		bright, sat   float64
		histBin, w, h int
	}{
		{"white", uniform(4, 3, color.White), [3]float64{1, 1, 1}, 1, 0, 3, 4, 3},
		{"black", uniform(2, 2, color.Black), [3]float64{0, 0, 0}, 0, 0, 0, 2, 2},
		{"red", uniform(3, 3, color.RGBA{255, 0, 0, 255}), [3]float64{1, 0, 0}, 1.0 / 3, 1, 3, 3, 3},
		{"empty", image.NewRGBA(image.Rect(0, 0, 0, 0)), [3]float64{}, 0, 0, -1, 0, 0},
	}
	for _, tt := range tests {
		s := MeasurePixels(tt.img)
		if s.Mean != tt.mean || math.Abs(s.Brightness-tt.bright) > 1e-12 || s.Saturation != tt.sat || s.Width != tt.w || s.Height != tt.h {
			t.Errorf("%s: %+v", tt.name, s)
		}
		if tt.histBin >= 0 && s.Hist[tt.histBin] != 1 {
			t.Errorf("%s: histogram %v, want 1 in bin %d", tt.name, s.Hist, tt.histBin)
		}
	}
}

func TestMeasureImageAndStats(t *testing.T) {
	t.Setenv("CLIPKIT_CACHE", t.TempDir())
	dir := t.TempDir()
	path := filepath.Join(dir, "red.png")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := png.Encode(f, uniform(5, 4, color.RGBA{255, 0, 0, 255})); err != nil {
		t.Fatal(err)
	}
	f.Close()
	bad := filepath.Join(dir, "bad.png")
	if err := os.WriteFile(bad, []byte("not an image"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		files   []string
		wantErr bool
	}{{[]string{path}, false}, {[]string{bad}, true}, {[]string{filepath.Join(dir, "missing.png")}, true}}
	for _, tt := range tests {
		stats, err := ImageStats(tt.files)
		if (err != nil) != tt.wantErr {
			t.Errorf("ImageStats(%v): %v, want error %v", tt.files, err, tt.wantErr)
			continue
		}
		if err == nil && (len(stats) != 1 || stats[0].Name != "red.png" || stats[0].Bytes == 0 || stats[0].Width != 5 || stats[0].Mean[0] != 1) {
			t.Errorf("ImageStats: %+v", stats)
		}
	}
}

func TestHistogramSimilarity(t *testing.T) {
	stats := []ImageStat{{Hist: []float64{1, 0}}, {Hist: []float64{2, 0}}, {Hist: []float64{0, 1}}, {Hist: []float64{0, 0}}}
	want := [][]float64{{1, 1, 0, 0}, {1, 1, 0, 0}, {0, 0, 1, 0}, {0, 0, 0, 0}}
	got := HistogramSimilarity(stats)
	for i := range want {
		for j := range want[i] {
			if math.Abs(got[i][j]-want[i][j]) > 1e-12 {
				t.Errorf("sim[%d][%d] = %v, want %v", i, j, got[i][j], want[i][j])
			}
		}
	}
}
