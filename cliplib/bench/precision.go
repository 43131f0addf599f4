package bench

import (
	"fmt"
	"image"
	"math"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/clipkit/clipkit/cliplib"
	"github.com/clipkit/clipkit/cliplib/backend"
	"github.com/clipkit/clipkit/cliplib/encoder"
	"github.com/clipkit/clipkit/cliplib/preprocess"
	"github.com/clipkit/clipkit/data"
)

// PrecisionConfig selects a reduced-precision accuracy comparison: one model, its f32 run as the
// reference, each other precision compared against it on two image sets with zero-shot classes.
type PrecisionConfig struct {
	// Model is a registry name or checkpoint path (default ViT-B/32).
	Model string
	// Backend is the GoMLX backend ("" = $GOMLX_BACKEND, else the fastest installed).
	Backend string
	// Precisions are compared against f32 (default bf16, f16; f16 fails on simplego and is
	// reported as an error row).
	Precisions []string
	// RandomWeights uses deterministic random weights (no download; the comparison then measures
	// the arithmetic of the precision on a model of the real shape, not on trained features).
	RandomWeights bool
	// Offline forbids fetching weights; with FallbackToRandom, missing weights mean random ones.
	Offline, FallbackToRandom bool
	// Images are the photos of the "photos" set (default: every image of data.DemoImagesDir).
	Images []string
	// MaxImages, when positive, keeps only the first MaxImages photos.
	MaxImages int
	// Classes are the zero-shot classes of the photos (default PhotoClasses(Images)).
	Classes []string
	// CIFAR is a CIFAR-10/100 archive or folder whose test split gives the "cifar" set (its first
	// CIFARCount images, its class names). Empty: the "cifar-like" set, 32×32 thumbnails of the
	// photos (downscaled by the preprocessing resampler), with the photos' classes.
	CIFAR string
	// CIFARCount is the number of CIFAR images (default 20).
	CIFARCount int
	// Templates are the prompt templates (default cliplib.PhotoTemplate).
	Templates []string
	// Progress, if set, receives one line per step.
	Progress func(msg string)
}

// PrecisionReport is the outcome of ComparePrecisions.
type PrecisionReport struct {
	Model         string            `json:"model"`
	RandomWeights bool              `json:"random_weights"`
	WeightsNote   string            `json:"weights_note,omitempty"`
	Backend       string            `json:"backend"`
	Machine       string            `json:"machine"`
	GoVersion     string            `json:"go_version"`
	Started       time.Time         `json:"started"`
	Sets          []PrecisionSet    `json:"sets"`
	Results       []PrecisionResult `json:"results"`
}

// PrecisionSet describes one image set of the comparison.
type PrecisionSet struct {
	Name    string   `json:"name"`   // "photos", "cifar-like" or "cifar"
	Source  string   `json:"source"` // where the images came from
	Images  int      `json:"images"`
	Classes []string `json:"classes"`
}

// PrecisionResult compares one precision with f32 on one set. For the f32 rows the differences
// are zero and only the timings are meaningful.
type PrecisionResult struct {
	Precision string `json:"precision"`
	Set       string `json:"set"`
	// Normalised image and text features vs f32: largest absolute difference of any component,
	// smallest and mean cosine similarity of matching rows.
	ImageMaxAbsDiff float64 `json:"image_max_abs_diff"`
	ImageMinCosine  float64 `json:"image_min_cosine"`
	ImageMeanCosine float64 `json:"image_mean_cosine"`
	TextMaxAbsDiff  float64 `json:"text_max_abs_diff"`
	TextMinCosine   float64 `json:"text_min_cosine"`
	TextMeanCosine  float64 `json:"text_mean_cosine"`
	// LogitMaxAbsDiff is the largest absolute difference of zero-shot logits (LogitScale·cosine
	// of an image with a class's ensembled text embedding).
	LogitMaxAbsDiff float64 `json:"logit_max_abs_diff"`
	// Top1Agree of Images images get the same top-1 class as with f32.
	Top1Agree     int     `json:"top1_agree"`
	Images        int     `json:"images"`
	Top1Agreement float64 `json:"top1_agreement"`
	// ImagesPerSec and TextsPerSec are the encoding rates at this precision over both sets
	// (batches of 8, after untimed calls that compile the graphs).
	ImagesPerSec float64 `json:"images_per_sec"`
	TextsPerSec  float64 `json:"texts_per_sec"`
	Error        string  `json:"error,omitempty"`
}

// photoClasses names the subject of each of the sample photos in shared/data/clip_test_images.
var photoClasses = map[string]string{
	"astronaut": "astronaut", "brick": "brick wall", "camera": "man with a camera", "cell": "cell under a microscope",
	"chelsea": "cat", "coffee": "cup of coffee", "coins": "coins", "color": "colour chart", "grass": "grass",
	"gravel": "gravel", "horse": "horse", "hubble_deep_field": "galaxy", "logo": "logo", "moon": "moon",
	"motorcycle_left": "motorcycle", "motorcycle_right": "motorcycle", "page": "page of text", "retina": "retina",
	"rocket": "rocket", "text": "text",
}

// PhotoClasses returns the distinct zero-shot classes of image files: the subject of each known
// sample photo, else the file name without extension (underscores as spaces), sorted.
func PhotoClasses(files []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, f := range files {
		base := strings.TrimSuffix(filepath.Base(f), filepath.Ext(f))
		c, ok := photoClasses[base]
		if !ok {
			c = strings.ReplaceAll(base, "_", " ")
		}
		if !seen[c] {
			seen[c] = true
			out = append(out, c)
		}
	}
	sort.Strings(out)
	return out
}

type precisionSet struct {
	PrecisionSet
	imgs []image.Image
}

// Thumbnails returns 32×32 versions of images (centre square, downscaled by the preprocessing
// resampler with antialiasing): CIFAR-sized inputs that a model's preprocessing upscales again.
func Thumbnails(imgs []image.Image) ([]image.Image, error) {
	out := make([]image.Image, len(imgs))
	for i, img := range imgs {
		t, err := preprocess.ResizeCrop(img, preprocess.OpenAI(32))
		if err != nil {
			return nil, fmt.Errorf("thumbnail %d: %w", i, err)
		}
		out[i] = t
	}
	return out, nil
}

func (c *PrecisionConfig) sets() ([]precisionSet, error) {
	if len(c.Images) == 0 {
		dir, err := data.DemoImagesDir()
		if err != nil {
			return nil, err
		}
		if c.Images, err = data.ImageFiles(dir); err != nil {
			return nil, err
		}
	}
	if c.MaxImages > 0 && len(c.Images) > c.MaxImages {
		c.Images = c.Images[:c.MaxImages]
	}
	if len(c.Classes) == 0 {
		c.Classes = PhotoClasses(c.Images)
	}
	photos, err := cliplib.DecodeImageFiles(c.Images...)
	if err != nil {
		return nil, err
	}
	sets := []precisionSet{{PrecisionSet{Name: "photos", Source: filepath.Dir(c.Images[0]), Images: len(photos), Classes: c.Classes}, photos}}
	if c.CIFAR == "" {
		thumbs, err := Thumbnails(photos)
		if err != nil {
			return nil, err
		}
		sets = append(sets, precisionSet{PrecisionSet{Name: "cifar-like", Source: "32×32 thumbnails of the photos (synthetic CIFAR-sized inputs)",
			Images: len(thumbs), Classes: c.Classes}, thumbs})
		return sets, nil
	}
	cf, err := data.LoadCIFAR(c.CIFAR, data.Test)
	if err != nil {
		return nil, err
	}
	n := min(c.CIFARCount, cf.Len())
	imgs := make([]image.Image, n)
	for i := range imgs {
		if imgs[i], _, err = cf.Item(i); err != nil {
			return nil, err
		}
	}
	return append(sets, precisionSet{PrecisionSet{Name: "cifar", Source: fmt.Sprintf("%s (test split, first %d)", c.CIFAR, n),
		Images: n, Classes: cf.Classes()}, imgs}), nil
}

// precisionRun holds one precision's outputs on one set.
type precisionRun struct {
	imgs, txts [][]float32
	logits     [][]float32
}

// ComparePrecisions encodes both image sets and their class prompts at f32 and at each other
// precision and reports how far the reduced precisions are from f32, with encoding rates.
func ComparePrecisions(cfg PrecisionConfig) (*PrecisionReport, error) {
	if cfg.Model == "" {
		cfg.Model = "ViT-B/32"
	}
	if len(cfg.Precisions) == 0 {
		cfg.Precisions = []string{"bf16", "f16"}
	}
	if cfg.CIFARCount <= 0 {
		cfg.CIFARCount = 20
	}
	if len(cfg.Templates) == 0 {
		cfg.Templates = cliplib.PhotoTemplate
	}
	say := func(format string, args ...any) {
		if cfg.Progress != nil {
			cfg.Progress(fmt.Sprintf(format, args...))
		}
	}
	sets, err := cfg.sets()
	if err != nil {
		return nil, err
	}
	rep := &PrecisionReport{Model: cfg.Model, Backend: backend.Resolve(cfg.Backend), Machine: Machine(), GoVersion: runtime.Version(),
		Started: time.Now()}
	for _, s := range sets {
		rep.Sets = append(rep.Sets, s.PrecisionSet)
	}
	var ref []precisionRun
	for _, prec := range append([]string{"f32"}, cfg.Precisions...) {
		say("%s %s: loading", cfg.Model, prec)
		m, err := cliplib.Load(cfg.Model, cliplib.Options{Backend: cfg.Backend, Precision: prec, RandomWeights: cfg.RandomWeights,
			Offline: cfg.Offline, FallbackToRandom: cfg.FallbackToRandom, Encoder: encoder.Options{BatchBuckets: []int{8}}})
		if err != nil {
			if prec == "f32" {
				return nil, err
			}
			for _, s := range sets {
				rep.Results = append(rep.Results, PrecisionResult{Precision: prec, Set: s.Name, Images: s.Images, Error: err.Error()})
			}
			say("%s %s: %v", cfg.Model, prec, err)
			continue
		}
		rep.RandomWeights, rep.WeightsNote = m.RandomWeights(), m.Source.Reason
		if d := backend.DescribeChoice(m.Encoder().Backend(), m.Encoder().BackendChoice()); d != "" {
			rep.Backend = d
		}
		runs, imgRate, txtRate, err := runPrecision(m, sets, cfg.Templates, say)
		m.Close()
		if err != nil {
			if prec == "f32" {
				return nil, err
			}
			for _, s := range sets {
				rep.Results = append(rep.Results, PrecisionResult{Precision: prec, Set: s.Name, Images: s.Images, Error: err.Error()})
			}
			continue
		}
		if prec == "f32" {
			ref = runs
		}
		for i, s := range sets {
			r := compareRuns(ref[i], runs[i])
			r.Precision, r.Set, r.ImagesPerSec, r.TextsPerSec = prec, s.Name, imgRate, txtRate
			rep.Results = append(rep.Results, r)
		}
	}
	return rep, nil
}

// runPrecision encodes every set with m, timing images and texts separately after a warm-up.
func runPrecision(m *cliplib.Model, sets []precisionSet, templates []string, say func(string, ...any)) ([]precisionRun, float64, float64, error) {
	var imgTime, txtTime time.Duration
	var nImg, nTxt int
	runs := make([]precisionRun, len(sets))
	for i, s := range sets {
		if i == 0 { // compile the image graph outside the timing
			if _, err := m.EncodeImages(s.imgs[:min(8, len(s.imgs))]); err != nil {
				return nil, 0, 0, err
			}
		}
		var prompts []string
		for _, c := range s.Classes {
			prompts = append(prompts, cliplib.Prompts(templates, c)...)
		}
		// Compile the text graphs of every length bucket these prompts need outside the timing.
		if _, err := m.EncodeTexts(prompts); err != nil {
			return nil, 0, 0, err
		}
		say("%s %s: %d images of %s", m.Name, m.Encoder().Precision(), len(s.imgs), s.Name)
		t0 := time.Now()
		imgs, err := m.EncodeImages(s.imgs)
		if err != nil {
			return nil, 0, 0, err
		}
		imgTime += time.Since(t0)
		nImg += len(s.imgs)
		t0 = time.Now()
		txts, err := m.EncodeTexts(prompts)
		if err != nil {
			return nil, 0, 0, err
		}
		txtTime += time.Since(t0)
		nTxt += len(prompts)
		weights := make([][]float32, len(s.Classes))
		for c := range s.Classes {
			weights[c] = cliplib.MeanEmbedding(txts[c*len(templates) : (c+1)*len(templates)])
		}
		runs[i] = precisionRun{imgs: imgs, txts: txts, logits: cliplib.Scale(cliplib.Similarity(imgs, weights), m.LogitScale())}
	}
	return runs, float64(nImg) / imgTime.Seconds(), float64(nTxt) / txtTime.Seconds(), nil
}

// compareRuns computes the differences of run b against the reference a.
func compareRuns(a, b precisionRun) PrecisionResult {
	var r PrecisionResult
	r.ImageMaxAbsDiff, r.ImageMinCosine, r.ImageMeanCosine = featureDiff(a.imgs, b.imgs)
	r.TextMaxAbsDiff, r.TextMinCosine, r.TextMeanCosine = featureDiff(a.txts, b.txts)
	r.Images = len(a.logits)
	for i := range a.logits {
		for j := range a.logits[i] {
			r.LogitMaxAbsDiff = math.Max(r.LogitMaxAbsDiff, math.Abs(float64(a.logits[i][j]-b.logits[i][j])))
		}
		if cliplib.Argmax(a.logits[i]) == cliplib.Argmax(b.logits[i]) {
			r.Top1Agree++
		}
	}
	if r.Images > 0 {
		r.Top1Agreement = float64(r.Top1Agree) / float64(r.Images)
	}
	return r
}

// featureDiff returns the largest absolute component difference and the smallest and mean
// cosine similarity of matching rows.
func featureDiff(a, b [][]float32) (maxAbs, minCos, meanCos float64) {
	minCos = 1
	for i := range a {
		var dot, na, nb float64
		for j := range a[i] {
			x, y := float64(a[i][j]), float64(b[i][j])
			maxAbs = math.Max(maxAbs, math.Abs(x-y))
			dot += x * y
			na += x * x
			nb += y * y
		}
		c := dot / math.Sqrt(na*nb)
		minCos = math.Min(minCos, c)
		meanCos += c
	}
	if len(a) > 0 {
		meanCos /= float64(len(a))
	}
	return
}

// PrecisionTable formats a precision report as an aligned text table.
func PrecisionTable(rep *PrecisionReport) string {
	var b strings.Builder
	w := "trained weights"
	if rep.RandomWeights {
		w = "RANDOM WEIGHTS"
	}
	fmt.Fprintf(&b, "%s (%s) on %s; %s\n", rep.Model, w, rep.Backend, rep.Machine)
	for _, s := range rep.Sets {
		fmt.Fprintf(&b, "set %-10s %3d images, %2d classes: %s\n", s.Name, s.Images, len(s.Classes), s.Source)
	}
	fmt.Fprintf(&b, "%-5s %-10s %10s %8s %8s %10s %8s %8s %9s %7s %9s %9s\n", "prec", "set", "img maxΔ", "img min", "img mean",
		"txt maxΔ", "txt min", "txt mean", "logit maxΔ", "top-1", "img/s", "txt/s")
	for _, r := range rep.Results {
		if r.Error != "" {
			fmt.Fprintf(&b, "%-5s %-10s error: %s\n", r.Precision, r.Set, r.Error)
			continue
		}
		fmt.Fprintf(&b, "%-5s %-10s %10.2e %8.5f %8.5f %10.2e %8.5f %8.5f %9.3f %3d/%-3d %9.2f %9.2f\n", r.Precision, r.Set,
			r.ImageMaxAbsDiff, r.ImageMinCosine, r.ImageMeanCosine, r.TextMaxAbsDiff, r.TextMinCosine, r.TextMeanCosine,
			r.LogitMaxAbsDiff, r.Top1Agree, r.Images, r.ImagesPerSec, r.TextsPerSec)
	}
	return b.String()
}
