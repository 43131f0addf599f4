package explore

import (
	"context"
	"image"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clipkit/clipkit/cliplib/model"
)

// The published totals (open_clip's docs/model_profile.csv).
func TestParamCountsMatchPublishedTotals(t *testing.T) {
	for _, tc := range []struct {
		arch         string
		vision, text int64 // 0: only the total is checked
		total        int64
	}{
		{"ViT-B/32", 87_849_216, 63_428_096, 151_277_313},
		{"ViT-B/16", 0, 0, 149_620_737},
		{"ViT-L/14", 0, 0, 427_616_513},
		{"ViT-L/14@336px", 0, 0, 427_944_193},
		{"RN50", 0, 0, 102_007_137},
		{"RN101", 0, 0, 119_688_033},
		{"RN50x4", 0, 0, 178_300_601},
	} {
		cfg, err := model.Lookup(tc.arch)
		if err != nil {
			t.Fatal(err)
		}
		p, err := ParamCounts(cfg)
		if err != nil {
			t.Fatalf("%s: %v", tc.arch, err)
		}
		if p.Total() != tc.total {
			t.Errorf("%s: total %d, want %d (vision %d, text %d, other %d)", tc.arch, p.Total(), tc.total, p.Vision, p.Text, p.Other)
		}
		if tc.vision != 0 && (p.Vision != tc.vision || p.Text != tc.text) {
			t.Errorf("%s: vision %d text %d, want %d and %d", tc.arch, p.Vision, p.Text, tc.vision, tc.text)
		}
		if tc.arch == "ViT-L/14" && math.Abs(float64(p.Text)-123.650e6) > 1e3 {
			t.Errorf("ViT-L/14 text tower %d, want 123.650 M", p.Text)
		}
		if p.Other != 1 {
			t.Errorf("%s: other params %d, want 1 (logit_scale)", tc.arch, p.Other)
		}
	}
}

func TestModelNameAndPerClassFollowTheEnvironment(t *testing.T) {
	t.Setenv("CLIP_SMOKE", "")
	t.Setenv(EnvModel, "")
	if got := ModelName(); got != DefaultModel {
		t.Errorf("default model %q, want %q", got, DefaultModel)
	}
	t.Setenv("CLIP_SMOKE", "1")
	if got := ModelName(); got != SmokeModel {
		t.Errorf("smoke model %q, want %q", got, SmokeModel)
	}
	t.Setenv(EnvModel, "RN50")
	if got := ModelName(); got != "RN50" {
		t.Errorf("CLIP_MODEL ignored: %q", got)
	}
	t.Setenv(EnvPerClass, "")
	if n, err := PerClass(50, 2); err != nil || n != 2 {
		t.Errorf("PerClass in smoke mode = %d, %v; want 2", n, err)
	}
	t.Setenv(EnvPerClass, "7")
	if n, err := PerClass(50, 2); err != nil || n != 7 {
		t.Errorf("PerClass with override = %d, %v; want 7", n, err)
	}
	for _, bad := range []string{"0", "-3", "many"} {
		t.Setenv(EnvPerClass, bad)
		if _, err := PerClass(50, 2); err == nil || !strings.Contains(err.Error(), EnvPerClass) {
			t.Errorf("PerClass accepted %s=%q (err %v)", EnvPerClass, bad, err)
		}
	}
}

// countingDataset counts Item calls and serves generated images.
type countingDataset struct{ imgs []image.Image }

func (d *countingDataset) Item(i int) (image.Image, int, error) { return d.imgs[i], i % 3, nil }

func TestEncodeDatasetCachesAcrossSessions(t *testing.T) {
	t.Setenv("CLIPKIT_CACHE", t.TempDir())
	t.Setenv("CLIP_SMOKE", "1")
	t.Setenv(EnvModel, "")
	ds := &countingDataset{}
	for i := range 5 {
		img := image.NewRGBA(image.Rect(0, 0, 40, 40))
		for p := range img.Pix {
			img.Pix[p] = uint8(p*7 + i*31)
		}
		ds.imgs = append(ds.imgs, img)
	}
	s, err := OpenLocal()
	if err != nil {
		t.Fatal(err)
	}
	m, err := s.Local()
	if err != nil || s.Served() {
		t.Fatalf("OpenLocal: Local() %v, served %v", err, s.Served())
	}
	if s.Name() != SmokeModel || !s.Random() {
		t.Fatalf("smoke session: model %q random %v", s.Name(), s.Random())
	}
	if b := s.Banner(); !strings.Contains(b, "RANDOM WEIGHTS") || !strings.Contains(b, SmokeModel) {
		t.Errorf("banner does not flag random weights:\n%s", b)
	}
	if c := s.Caveat(); !strings.Contains(c, "meaningless") {
		t.Errorf("caveat does not say the numbers are meaningless: %s", c)
	}
	idx := []int{4, 0, 2}
	embs, labels, err := s.EncodeDataset("test", ds, idx)
	if err != nil {
		t.Fatal(err)
	}
	if labels[0] != 1 || labels[1] != 0 || labels[2] != 2 {
		t.Errorf("labels %v, want [1 0 2]", labels)
	}
	direct, err := m.EncodeImages([]image.Image{ds.imgs[4], ds.imgs[0], ds.imgs[2]})
	if err != nil {
		t.Fatal(err)
	}
	for i := range direct {
		for k := range direct[i] {
			if math.Abs(float64(direct[i][k]-embs[i][k])) > 1e-5 {
				t.Fatalf("item %d: cached-path embedding differs from a direct encode at %d", i, k)
			}
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// A new session (a new notebook cell) reads them back: no encoder call for cached items.
	s2, err := OpenLocal()
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	m2, _ := s2.Local()
	before := m2.ImageCache().Stats()
	again, _, err := s2.EncodeDataset("test", ds, []int{0, 2, 4})
	if err != nil {
		t.Fatal(err)
	}
	st := m2.ImageCache().Stats()
	if st.Hits-before.Hits != 3 || st.Misses != before.Misses {
		t.Errorf("second session: %d hits %d misses, want 3 hits and no miss", st.Hits-before.Hits, st.Misses-before.Misses)
	}
	if again[0][0] != embs[1][0] || again[2][0] != embs[0][0] {
		t.Errorf("cached embeddings differ from the computed ones")
	}
}

func TestCIFAR10InSmokeModeIsTheFlaggedStandIn(t *testing.T) {
	t.Setenv("CLIP_SMOKE", "1")
	ds, err := CIFAR10(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if ds.Real || !strings.Contains(ds.Note, "NOT CIFAR-10 results") || !strings.Contains(ds.Why, "smoke mode") || !strings.Contains(ds.Name, "synthetic") {
		t.Errorf("stand-in not flagged: %+v", ds)
	}
	if ds.Len() == 0 || len(ds.Labels) != ds.Len() || len(ds.Classes()) != 10 {
		t.Errorf("stand-in: %d items, %d labels, classes %v", ds.Len(), len(ds.Labels), ds.Classes())
	}
}

func TestMNISTLoadsOffline(t *testing.T) {
	if testing.Short() {
		t.Skip("reads the 10,000 MNIST test images")
	}
	t.Setenv("CLIPKIT_OFFLINE", "1")
	ds, err := MNIST(context.Background())
	if err != nil {
		t.Skipf("MNIST not available offline here (the GoMNIST module is not in the module cache?): %v", err)
	}
	if ds.Len() != 10000 || !ds.Real || len(ds.Classes()) != 10 {
		t.Errorf("MNIST test split: %d items, real %v, %d classes", ds.Len(), ds.Real, len(ds.Classes()))
	}
}

func TestSampleImagesAndDemo(t *testing.T) {
	files, err := SampleImages(3)
	if err != nil {
		t.Skipf("no sample photos here: %v", err)
	}
	if len(files) != 3 {
		t.Errorf("SampleImages(3) gave %d files", len(files))
	}
	t.Setenv("CLIPKIT_IMAGES", "")
	demo, captions, canonical, err := Demo()
	if err != nil {
		t.Fatal(err)
	}
	if !canonical || len(demo) != 8 || len(captions) != 8 || captions[1] != "a facial photo of a tabby cat" {
		t.Errorf("demo: canonical %v, %d files, captions %q", canonical, len(demo), captions)
	}
	// The same folder named explicitly still gives the canonical demo set.
	dir := filepath.Dir(demo[0])
	t.Setenv("CLIPKIT_IMAGES", dir)
	if _, c2, canon, err := Demo(); err != nil || !canon || len(c2) != 8 {
		t.Errorf("CLIPKIT_IMAGES=%s: canonical %v, %d captions, %v", dir, canon, len(c2), err)
	}
	// A folder of other photos: captions are the file names, not canonical.
	own := t.TempDir()
	for _, name := range []string{"b.png", "a.png"} {
		data, err := os.ReadFile(demo[0])
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(own, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("CLIPKIT_IMAGES", own)
	files, c3, canon, err := Demo()
	if err != nil || canon || len(files) != 2 || c3[0] != "a" || c3[1] != "b" {
		t.Errorf("own folder: canonical %v, files %v, captions %q, %v", canon, files, c3, err)
	}
}

func TestProcessMemoryReadsThisProcess(t *testing.T) {
	m, err := ProcessMemory()
	if err != nil {
		t.Skipf("no /proc here: %v", err)
	}
	if m.RSS <= 0 || m.Peak < m.RSS || (m.Device < 0 && m.DeviceNote == "") {
		t.Errorf("this process: %+v", m)
	}
}

func TestImageTokensOfTheViTs(t *testing.T) {
	for _, tc := range []struct {
		arch string
		want int
	}{{"ViT-B/32", 50}, {"ViT-B/16", 197}, {"ViT-L/14", 257}, {"ViT-L/14@336px", 577}, {"tiny-vit", 17}, {"RN50", 0}} {
		cfg, err := model.Lookup(tc.arch)
		if err != nil {
			t.Fatal(err)
		}
		if got := ImageTokens(cfg.Vision); got != tc.want {
			t.Errorf("%s: %d image tokens, want %d", tc.arch, got, tc.want)
		}
	}
}

func TestTestArchSeparatesTestConfigurations(t *testing.T) {
	for name, want := range map[string]bool{
		"tiny-vit": true, "tiny-rn": true, "MobileCLIP-test-S0": true, "MobileCLIP2-test-B": true,
		"ViT-B/32": false, "RN50x4": false, "MobileCLIP-S0": false, "MobileCLIP2-L-14": false, "latest": false,
	} {
		if got := TestArch(name); got != want {
			t.Errorf("TestArch(%q) = %v, want %v", name, got, want)
		}
	}
}
