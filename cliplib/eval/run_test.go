package eval

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"image"
	"image/color"
	"maps"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/clipkit/clipkit/cliplib"
	"github.com/clipkit/clipkit/data/datatest"
)

// codeEncoder is an encoder whose embeddings are known, so that every metric can be worked out by
// hand. An image encodes the number R·256 + G of its top-left pixel. Texts embed as a
// pseudo-random unit vector of their hash, except those containing "img <k>", which embed as the
// one-hot vector e_k. The embedding of image number c is then: e_c when images are "one-hot"
// (retrieval, linear probe), else the prompt-ensembled class embedding of class c (zero-shot), so
// a zero-shot prediction is right exactly when the image's number is its label.
type codeEncoder struct {
	dim       int
	classes   []string
	templates []string
	oneHot    bool
	calls     atomic.Int64 // EncodePixels calls
}

func (f *codeEncoder) ID() string { return fmt.Sprintf("code-%d-%v", f.dim, f.oneHot) }

func (f *codeEncoder) Preprocess(imgs []image.Image) ([]float32, error) {
	out := make([]float32, len(imgs))
	for i, img := range imgs {
		r, g, _, _ := img.At(img.Bounds().Min.X, img.Bounds().Min.Y).RGBA()
		out[i] = float32(int(r>>8)*256 + int(g>>8))
	}
	return out, nil
}

func (f *codeEncoder) EncodePixels(p []float32, n int) ([][]float32, error) {
	f.calls.Add(1)
	out := make([][]float32, n)
	for i := range n {
		c := int(p[i])
		if f.oneHot {
			out[i] = make([]float32, f.dim)
			out[i][c] = 1
			continue
		}
		embs, _ := f.EncodeTexts(cliplib.Prompts(f.templates, f.classes[c]))
		out[i] = cliplib.MeanEmbedding(embs)
	}
	return out, nil
}

var imgRe = regexp.MustCompile(`img ([0-9]+)`)

func (f *codeEncoder) EncodeTexts(texts []string) ([][]float32, error) {
	out := make([][]float32, len(texts))
	for i, t := range texts {
		v := make([]float32, f.dim)
		if m := imgRe.FindStringSubmatch(t); m != nil {
			k, _ := strconv.Atoi(m[1])
			v[k] = 1
		} else {
			h := sha256.Sum256([]byte(t))
			for j := range v {
				v[j] = float32(int8(h[j%32]^byte(j/32))) + 0.5
			}
		}
		out[i] = cliplib.Normalize(v)
	}
	return out, nil
}

func code(c int) color.Color { return color.RGBA{uint8(c >> 8), uint8(c & 255), 0, 255} }

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

// TestZeroShotImageNetFromTheDevkitLayout runs the imagenet1k benchmark (1000 classes, 80
// templates) on six images in the flat validation layout with devkit labels. Images 2 and 5 encode
// another class than their label: top-1 is 4/6.
func TestZeroShotImageNetFromTheDevkitLayout(t *testing.T) {
	b, err := Lookup("imagenet1k")
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Classes) != 1000 || len(b.Templates) != 80 {
		t.Fatalf("imagenet1k: %d classes, %d templates; want 1000 and 80", len(b.Classes), len(b.Templates))
	}
	root := t.TempDir()
	labels := []int{0, 999, 17, 500, 3, 250}
	codes := []int{0, 999, 18, 500, 3, 7}
	colours := make([]color.Color, len(codes))
	for i, c := range codes {
		colours[i] = code(c)
	}
	if err := datatest.ImageNetFlat(filepath.Join(root, "val"), len(labels), colours); err != nil {
		t.Fatal(err)
	}
	if err := datatest.ImageNetDevkit(filepath.Join(root, "devkit"), 1000, labels); err != nil {
		t.Fatal(err)
	}
	d, err := Open(context.Background(), b, "test", DataOptions{Path: filepath.Join(root, "val"), Devkit: filepath.Join(root, "devkit")})
	if err != nil {
		t.Fatal(err)
	}
	enc := &codeEncoder{dim: 64, classes: b.Classes, templates: b.Templates}
	r, err := ZeroShot(context.Background(), enc, b, d, RunOptions{Stream: StreamOptions{Batch: 4, Workers: 2}})
	if err != nil {
		t.Fatal(err)
	}
	// Per class recall: classes 0, 999, 500, 3 right; 17 and 250 wrong -> 4/6 as well.
	if !near(r.Metrics["top1"], 4.0/6) || !near(r.Metrics["mean_per_class_recall"], 4.0/6) || r.Images != 6 || r.Templates != 80 {
		t.Errorf("metrics %v images %d", r.Metrics, r.Images)
	}
}

// TestZeroShotWebDatasetMetricsAndCache: four samples of 3 classes in webdataset shards (classes
// named as clip_benchmark writes them); sample 3 (label 1) encodes class 0. Top-1 3/4; recall per
// class 1, 1/2, 1 -> 5/6. A second run reads every embedding from the cache.
func TestZeroShotWebDatasetMetricsAndCache(t *testing.T) {
	b := Benchmark{Name: "toy", Classes: []string{"red car", "green tree", "blue sea"}, Templates: []string{"a photo of a {}.", "art of the {}."}, Main: MetricTop1}
	dir := t.TempDir()
	samples := []datatest.WDSSample{{Colour: code(0), Label: 0}, {Colour: code(1), Label: 1}, {Colour: code(2), Label: 2}, {Colour: code(0), Label: 1}}
	if err := datatest.WebDataset(dir, "test", samples, 3, []string{"red_car", "green_tree", "blue_sea"}, nil, false); err != nil {
		t.Fatal(err)
	}
	d, err := Open(context.Background(), b, "test", DataOptions{Path: dir})
	if err != nil {
		t.Fatal(err)
	}
	enc := &codeEncoder{dim: 32, classes: b.Classes, templates: b.Templates}
	opt := RunOptions{Cache: Cache{Dir: t.TempDir()}, Stream: StreamOptions{Batch: 3}}
	r1, err := ZeroShot(context.Background(), enc, b, d, opt)
	if err != nil {
		t.Fatal(err)
	}
	if !near(r1.Metrics["top1"], 0.75) || !near(r1.Metrics["top5"], 1) || !near(r1.Metrics["mean_per_class_recall"], 5.0/6) || r1.Cached {
		t.Fatalf("first run: %v cached %v", r1.Metrics, r1.Cached)
	}
	calls := enc.calls.Load()
	r2, err := ZeroShot(context.Background(), enc, b, d, opt)
	if err != nil {
		t.Fatal(err)
	}
	if enc.calls.Load() != calls || !r2.Cached || r2.Metrics["top1"] != r1.Metrics["top1"] {
		t.Errorf("second run: %d more encoder calls, cached %v, top-1 %v", enc.calls.Load()-calls, r2.Cached, r2.Metrics["top1"])
	}
	// A damaged cache file is an error naming it, not silently wrong numbers.
	files, _ := filepath.Glob(filepath.Join(opt.Cache.Dir, "*.emb"))
	for _, f := range files {
		os.Truncate(f, 20)
	}
	if _, err := ZeroShot(context.Background(), enc, b, d, opt); err == nil || !strings.Contains(err.Error(), "embedding cache") {
		t.Errorf("truncated cache: %v", err)
	}
}

// retrievalItems: captions "img k" point at image k (see codeEncoder). Worked out in
// TestRecallBothDirectionsHandChecked's style: i2t ranks 0, 1, 0 -> R@1 2/3; t2i ranks
// 0, 1, 0, 0, 2 -> R@1 3/5; every R@5 and R@10 is 1.
var retrievalItems = []datatest.Captioned{
	{File: "a.jpg", Colour: code(0), Captions: []string{"img 0", "img 1"}, Split: "test"},
	{File: "b.jpg", Colour: code(1), Captions: []string{"img 1"}, Split: "test"},
	{File: "x.jpg", Colour: code(9), Captions: []string{"img 9"}, Split: "val"},
	{File: "c.jpg", Colour: code(2), Captions: []string{"img 2", "img 0"}, Split: "test"},
}

func TestRetrievalInEveryLayout(t *testing.T) {
	root := t.TempDir()
	karpathy := filepath.Join(root, "dataset_flickr30k.json")
	if err := datatest.Karpathy(karpathy, filepath.Join(root, "flickr30k-images"), "", retrievalItems); err != nil {
		t.Fatal(err)
	}
	var test []datatest.Captioned
	var wds []datatest.WDSSample
	for _, it := range retrievalItems {
		if it.Split == "test" {
			test = append(test, it)
			wds = append(wds, datatest.WDSSample{Colour: it.Colour, Captions: it.Captions})
		}
	}
	coco := filepath.Join(root, "annotations", "captions_val2014.json")
	if err := datatest.COCOCaptions(coco, filepath.Join(root, "val2014"), test); err != nil {
		t.Fatal(err)
	}
	if err := datatest.WebDataset(filepath.Join(root, "wds"), "test", wds, 2, nil, nil, true); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		bench  string
		o      DataOptions
		layout string
	}{
		{"karpathy", "flickr30k", DataOptions{Path: karpathy, Images: filepath.Join(root, "flickr30k-images")}, "karpathy"},
		{"coco captions", "mscoco5k", DataOptions{Path: coco, Images: filepath.Join(root, "val2014")}, "coco-captions"},
		{"webdataset", "mscoco5k", DataOptions{Path: filepath.Join(root, "wds")}, "webdataset"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, _ := Lookup(c.bench)
			d, err := Open(context.Background(), b, "test", c.o)
			if err != nil {
				t.Fatal(err)
			}
			r, err := Retrieval(context.Background(), &codeEncoder{dim: 16, oneHot: true}, b, d, RunOptions{})
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]float64{"i2t_r@1": 2.0 / 3, "i2t_r@5": 1, "i2t_r@10": 1, "t2i_r@1": 0.6, "t2i_r@5": 1, "t2i_r@10": 1}
			for k, v := range want {
				if !near(r.Metrics[k], v) {
					t.Errorf("%s = %v, want %v", k, r.Metrics[k], v)
				}
			}
			if r.Images != 3 || r.Texts != 5 || d.Layout != c.layout {
				t.Errorf("%d images %d texts layout %s", r.Images, r.Texts, d.Layout)
			}
		})
	}
}

func TestLinearProbeRunOnWebDataset(t *testing.T) {
	b := Benchmark{Name: "toy", Classes: []string{"a", "b", "c"}, Templates: []string{"{}"}, Main: MetricTop1}
	dir := t.TempDir()
	var train, test []datatest.WDSSample
	for i := range 30 {
		train = append(train, datatest.WDSSample{Colour: code(i % 3), Label: i % 3})
	}
	for i := range 9 {
		test = append(test, datatest.WDSSample{Colour: code(i % 3), Label: i % 3})
	}
	datatest.WebDataset(dir, "train", train, 8, []string{"a", "b", "c"}, nil, false)
	datatest.WebDataset(dir, "test", test, 8, []string{"a", "b", "c"}, nil, false)
	tr, err := Open(context.Background(), b, "train", DataOptions{Path: dir})
	if err != nil {
		t.Fatal(err)
	}
	te, err := Open(context.Background(), b, "test", DataOptions{Path: dir})
	if err != nil {
		t.Fatal(err)
	}
	r, err := LinearProbeRun(context.Background(), &codeEncoder{dim: 3, oneHot: true}, b, tr, te, 0, RunOptions{}, ProbeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// One-hot features of the class: separable, so every test image is right.
	if r.Metrics["top1"] != 1 || r.Metrics["train_images"] != 30 || r.Images != 9 {
		t.Errorf("metrics %v images %d", r.Metrics, r.Images)
	}
}

func TestOpenRefusesMismatchedData(t *testing.T) {
	dir := t.TempDir()
	datatest.WebDataset(dir, "test", []datatest.WDSSample{{Colour: code(0), Label: 0}}, 0, []string{"x", "y"}, nil, false)
	b, _ := Lookup("cifar10")
	if _, err := Open(context.Background(), b, "test", DataOptions{Path: dir}); err == nil || !strings.Contains(err.Error(), "2 classes") {
		t.Errorf("2-class set for cifar10: %v", err)
	}
	b, _ = Lookup("flickr30k")
	if _, err := Open(context.Background(), b, "test", DataOptions{Path: dir}); err == nil || !strings.Contains(err.Error(), "classification webdataset") {
		t.Errorf("classification set for flickr30k: %v", err)
	}
	b, _ = Lookup("stl10")
	if _, err := Open(context.Background(), b, "test", DataOptions{}); err == nil || !strings.Contains(err.Error(), "give its path") {
		t.Errorf("stl10 without a path: %v", err)
	}
	f := filepath.Join(dir, "x.json")
	os.WriteFile(f, []byte("{}"), 0o644)
	if _, err := Open(context.Background(), b, "test", DataOptions{Path: f}); err == nil || !strings.Contains(err.Error(), "not a folder") {
		t.Errorf("file for stl10: %v", err)
	}
}

func TestCacheRoundTripAndRefusals(t *testing.T) {
	c := Cache{Dir: t.TempDir()}
	embs := [][]float32{{1, 2}, {3, 4}, {5, 6}}
	if err := c.Store("k", embs, []int{0, -1, 2}); err != nil {
		t.Fatal(err)
	}
	got, labels, ok, err := c.Load("k")
	if err != nil || !ok || len(got) != 3 || got[2][1] != 6 || labels[1] != -1 {
		t.Fatalf("round trip: %v %v %v %v", got, labels, ok, err)
	}
	if _, _, ok, err := c.Load("absent"); ok || err != nil {
		t.Errorf("absent key: ok %v err %v", ok, err)
	}
	p := filepath.Join(c.Dir, "k.emb")
	b, _ := os.ReadFile(p)
	binary.LittleEndian.PutUint32(b[len(cacheMagic):], 1<<30)
	os.WriteFile(p, b, 0o644)
	if _, _, _, err := c.Load("k"); err == nil || !strings.Contains(err.Error(), "k.emb") {
		t.Errorf("huge row count: %v", err)
	}
	if err := c.Store("r", [][]float32{{1}, {1, 2}}, []int{0, 0}); err == nil {
		t.Error("ragged rows stored")
	}
}

// TestZeroShotWithTheTinyModel runs a real model (tiny-vit, random weights, simplego) through
// FromModel: shapes, determinism across the cache, metrics in range.
func TestZeroShotWithTheTinyModel(t *testing.T) {
	m, err := cliplib.Load("tiny-vit", cliplib.Options{RandomWeights: true, Backend: "go"})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	b := Benchmark{Name: "toy", Classes: []string{"cat", "dog"}, Templates: []string{"a photo of a {}."}, Main: MetricTop1}
	dir := t.TempDir()
	var s []datatest.WDSSample
	for i := range 5 {
		s = append(s, datatest.WDSSample{Colour: datatest.Colour(i), Label: i % 2})
	}
	if err := datatest.WebDataset(dir, "test", s, 0, []string{"cat", "dog"}, nil, false); err != nil {
		t.Fatal(err)
	}
	d, err := Open(context.Background(), b, "test", DataOptions{Path: dir})
	if err != nil {
		t.Fatal(err)
	}
	enc := FromModel(m)
	opt := RunOptions{Cache: Cache{Dir: t.TempDir()}, Stream: StreamOptions{Batch: 2, Workers: 2}}
	r1, err := ZeroShot(context.Background(), enc, b, d, opt)
	if err != nil {
		t.Fatal(err)
	}
	Describe(r1, m)
	if !r1.RandomWeights || r1.Model != "tiny-vit" || r1.Images != 5 || r1.Metrics["top1"] < 0 || r1.Metrics["top1"] > 1 {
		t.Errorf("result %+v", r1)
	}
	// Determinism across the cache: the second run reads the embeddings back, same metrics.
	r2, err := ZeroShot(context.Background(), enc, b, d, opt)
	if err != nil {
		t.Fatal(err)
	}
	if !r2.Cached || !maps.Equal(r2.Metrics, r1.Metrics) {
		t.Errorf("second run: cached %v, metrics %v, want cached and %v", r2.Cached, r2.Metrics, r1.Metrics)
	}
	direct, err := m.EncodeImages(mustItems(t, d))
	if err != nil {
		t.Fatal(err)
	}
	streamed, _, _, err := EncodeDataset(context.Background(), enc, d, nil, StreamOptions{Batch: 2, Workers: 3})
	if err != nil {
		t.Fatal(err)
	}
	for i := range direct {
		for j := range direct[i] {
			if math.Abs(float64(direct[i][j]-streamed[i][j])) > 1e-5 {
				t.Fatalf("image %d: streamed embedding differs from EncodeImages at %d", i, j)
			}
		}
	}
}

func mustItems(t *testing.T, d *Opened) []image.Image {
	var out []image.Image
	for i := range d.Len() {
		img, _, err := d.Item(i)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, img)
	}
	return out
}
