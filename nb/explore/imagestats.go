package explore

import (
	"fmt"
	"image"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/clipkit/clipkit/cliplib/preprocess"
	"github.com/clipkit/clipkit/nb/notebook"
)

// ImageStat holds simple per-image statistics, no model involved (notebook 00's platform check).
type ImageStat struct {
	Name          string
	Path          string
	Bytes         int64
	Width, Height int
	Mean          [3]float64 // mean R, G, B in [0, 1]
	Brightness    float64    // mean of R, G, B
	Saturation    float64    // mean of (max-min) over pixels
	Hist          []float64  // 12-bin hue-free colour histogram: 4 levels per channel, R, G, B, normalised per channel
}

// PlatformImages returns the sample images of the platform check: all of them, or 6 in smoke mode.
func PlatformImages() ([]string, error) { return SampleImages(notebook.Pick(0, 6)) }

// MeasureImage decodes the image at path and computes its statistics from every second pixel of
// every second row.
func MeasureImage(path string) (ImageStat, error) {
	// The guarded decoder: size limits before any pixel is allocated (see cliplib/preprocess).
	img, _, err := preprocess.DecodeFile(path)
	if err != nil {
		return ImageStat{}, err
	}
	st, err := os.Stat(path)
	if err != nil {
		return ImageStat{}, err
	}
	s := MeasurePixels(img)
	s.Name, s.Path, s.Bytes = filepath.Base(path), path, st.Size()
	return s, nil
}

// MeasurePixels computes the pixel statistics of img (every second pixel of every second row); the
// file fields (Name, Path, Bytes) are left empty. An empty image gives zero statistics.
func MeasurePixels(img image.Image) ImageStat {
	b := img.Bounds()
	s := ImageStat{Width: b.Dx(), Height: b.Dy(), Hist: make([]float64, 12)}
	n := 0.0
	for y := b.Min.Y; y < b.Max.Y; y += 2 {
		for x := b.Min.X; x < b.Max.X; x += 2 {
			r, g, bl, _ := img.At(x, y).RGBA()
			c := [3]float64{float64(r) / 65535, float64(g) / 65535, float64(bl) / 65535}
			for k := range 3 {
				s.Mean[k] += c[k]
				s.Hist[4*k+min(3, int(c[k]*4))]++
			}
			s.Saturation += math.Max(c[0], math.Max(c[1], c[2])) - math.Min(c[0], math.Min(c[1], c[2]))
			n++
		}
	}
	if n == 0 {
		return s
	}
	for k := range 3 {
		s.Mean[k] /= n
	}
	for k := range s.Hist {
		s.Hist[k] /= n
	}
	s.Saturation /= n
	s.Brightness = (s.Mean[0] + s.Mean[1] + s.Mean[2]) / 3
	return s
}

// ImageStats measures every file once (MeasureImage, with a progress bar) and caches the result on
// disk (notebook.Cached, keyed by the file list): later calls and later cells read the cache.
func ImageStats(files []string) ([]ImageStat, error) {
	key := fmt.Sprintf("clipkit-platform-stats-%x", strings.Join(files, "|"))
	return notebook.Cached(key, func() ([]ImageStat, error) {
		stats := make([]ImageStat, len(files))
		for i, path := range notebook.Track("Measuring images", files) {
			s, err := MeasureImage(path)
			if err != nil {
				return nil, err
			}
			stats[i] = s
		}
		return stats, nil
	})
}

// HistogramSimilarity returns the [len(stats)][len(stats)] cosine similarity of the images' colour
// histograms (0 where a histogram is all zero).
func HistogramSimilarity(stats []ImageStat) [][]float64 {
	sim := make([][]float64, len(stats))
	for i := range stats {
		sim[i] = make([]float64, len(stats))
		for j := range stats {
			var dot, ni, nj float64
			for k := range min(len(stats[i].Hist), len(stats[j].Hist)) {
				dot += stats[i].Hist[k] * stats[j].Hist[k]
				ni += stats[i].Hist[k] * stats[i].Hist[k]
				nj += stats[j].Hist[k] * stats[j].Hist[k]
			}
			if ni > 0 && nj > 0 {
				sim[i][j] = dot / math.Sqrt(ni*nj)
			}
		}
	}
	return sim
}
