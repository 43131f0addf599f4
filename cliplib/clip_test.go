package cliplib

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clipkit/clipkit/cliplib/internal/testutil"

	"github.com/clipkit/clipkit/cliplib/model"
	"github.com/clipkit/clipkit/weights"
)

func loadTiny(t *testing.T, opt Options) *Model {
	t.Helper()
	if opt.Backend == "" {
		opt.Backend = testutil.BackendConfig()
	}
	m, err := Load("tiny-vit", opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func TestLoadArchitectureGivesLabelledRandomWeights(t *testing.T) {
	m := loadTiny(t, Options{})
	if !m.RandomWeights() || !strings.Contains(m.Label(), "RANDOM") || m.Source.Reason == "" {
		t.Errorf("random weights not flagged: %+v, label %q", m.Source, m.Label())
	}
	if m.EmbedDim() != 64 {
		t.Errorf("EmbedDim = %d", m.EmbedDim())
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "model.safetensors")
	os.WriteFile(bad, []byte("this is not a checkpoint"), 0o644)
	for _, tc := range []struct{ arg, want string }{
		{"no-such-model-or-file", "neither a file"},
		{bad, "model.safetensors"},
		{dir, "model.safetensors"},
		{t.TempDir(), "no weights file"},
	} {
		if _, err := Load(tc.arg, Options{Backend: testutil.BackendConfig()}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Load(%q) error = %v, want it to mention %q", tc.arg, err, tc.want)
		}
	}
}

func TestEncodeImageFilesAndTexts(t *testing.T) {
	m := loadTiny(t, Options{})
	dir := filepath.Join(repoRoot(), "..", "shared", "data", "clip_test_images")
	if _, err := os.Stat(dir); err != nil {
		t.Skip("no shared sample photos")
	}
	imgs, err := m.EncodeImageFiles(filepath.Join(dir, "chelsea.png"), filepath.Join(dir, "rocket.jpg"), filepath.Join(dir, "camera.png"))
	if err != nil {
		t.Fatal(err)
	}
	txts, err := m.EncodeTexts([]string{"a cat", "a rocket"})
	if err != nil {
		t.Fatal(err)
	}
	sim := Similarity(imgs, txts)
	if len(sim) != 3 || len(sim[0]) != 2 {
		t.Fatalf("similarity is %dx%d", len(sim), len(sim[0]))
	}
	for _, row := range sim {
		for _, v := range row {
			if v < -1.0001 || v > 1.0001 {
				t.Errorf("cosine %g out of range", v)
			}
		}
	}
	if _, err := m.EncodeImageFiles(filepath.Join(dir, "missing.png")); err == nil || !strings.Contains(err.Error(), "missing.png") {
		t.Errorf("missing file: %v", err)
	}
}

func TestZeroShotEnsembling(t *testing.T) {
	m := loadTiny(t, Options{})
	classes := []string{"cat", "dog", "airplane"}
	z, err := m.ZeroShot(classes, CIFARTemplates[:3])
	if err != nil {
		t.Fatal(err)
	}
	// The class weight is the normalised mean of the normalised prompt embeddings.
	prompts, _ := m.EncodeTexts(Prompts(CIFARTemplates[:3], "dog"))
	want := MeanEmbedding(prompts)
	for j := range want {
		if d := math.Abs(float64(want[j] - z.Weights[1][j])); d > 1e-6 {
			t.Fatalf("class weight differs from the ensembled prompts by %g", d)
		}
	}
	probs := z.Probabilities([][]float32{z.Weights[2]})
	sum := 0.0
	for _, p := range probs[0] {
		sum += float64(p)
	}
	if math.Abs(sum-1) > 1e-5 {
		t.Errorf("probabilities sum to %g", sum)
	}
	top := z.TopK([][]float32{z.Weights[2]}, 1)
	if top[0][0].Class != "airplane" {
		t.Errorf("an image embedding equal to a class weight is classified as %q", top[0][0].Class)
	}
	if _, err := m.ZeroShot(nil, nil); err == nil {
		t.Error("ZeroShot accepted no classes")
	}
}

// TestTextCacheReusesExactEmbeddings checks that cached embeddings equal computed ones, that a
// second process (a new Model of the same weights) reads them from disk, and that another model
// never sees them.
func TestTextCacheReusesExactEmbeddings(t *testing.T) {
	dir := t.TempDir()
	texts := []string{"a photo of a cat", "a photo of a dog", "a diagram"}
	want, err := loadTiny(t, Options{}).EncodeTexts(texts)
	if err != nil {
		t.Fatal(err)
	}
	m := loadTiny(t, Options{TextCache: true, CacheDir: dir})
	m.EncodeTexts(texts[:2])
	got, _ := m.EncodeTexts(texts)
	if s := m.TextCache().Stats(); s.Hits != 2 || s.Misses != 3 {
		t.Errorf("stats %+v, want 2 hits and 3 misses", s)
	}
	// Equal up to the rounding differences of batch buckets (XLA compiles one kernel per shape).
	for i := range want {
		for j := range want[i] {
			if d := math.Abs(float64(got[i][j] - want[i][j])); d > 1e-5 {
				t.Fatalf("cached embedding of %q differs by %g", texts[i], d)
			}
		}
	}
	if err := m.Save(); err != nil {
		t.Fatal(err)
	}
	m2 := loadTiny(t, Options{TextCache: true, CacheDir: dir, Warn: func(msg string) { t.Errorf("warning: %s", msg) }})
	if m2.Identity() != m.Identity() {
		t.Fatal("the same weights have two identities")
	}
	m2.EncodeTexts(texts)
	if s := m2.Stats().TextCache; s.Hits != 3 {
		t.Errorf("second process: %+v, want 3 hits from disk", s)
	}
	bf := loadTiny(t, Options{Precision: "bf16", TextCache: true, CacheDir: dir})
	if bf.Identity() == m.Identity() {
		t.Error("bf16 and f32 models share an identity")
	}
	bf.EncodeTexts(texts)
	if s := bf.Stats().TextCache; s.Hits != 0 {
		t.Errorf("a bf16 model hit the f32 model's cache: %+v", s)
	}
}

// TestImageCacheSkipsRecomputation checks that image embeddings cached by file content are
// returned unchanged, survive a new process, and are not served for changed content.
func TestImageCacheSkipsRecomputation(t *testing.T) {
	src := filepath.Join(repoRoot(), "..", "shared", "data", "clip_test_images")
	if _, err := os.Stat(src); err != nil {
		t.Skip("no shared sample photos")
	}
	dir, cacheDir := t.TempDir(), t.TempDir()
	a, b := filepath.Join(dir, "a.png"), filepath.Join(dir, "b.png")
	data, _ := os.ReadFile(filepath.Join(src, "horse.png"))
	os.WriteFile(a, data, 0o644)
	data2, _ := os.ReadFile(filepath.Join(src, "coins.png"))
	os.WriteFile(b, data2, 0o644)
	want, err := loadTiny(t, Options{}).EncodeImageFiles(a, b)
	if err != nil {
		t.Fatal(err)
	}
	m := loadTiny(t, Options{ImageCache: true, CacheDir: cacheDir})
	m.EncodeImageFiles(a, b)
	got, _ := m.EncodeImageFiles(a, b)
	if s := m.ImageCache().Stats(); s.Hits != 2 || s.Misses != 2 {
		t.Errorf("stats %+v", s)
	}
	for i := range want {
		for j := range want[i] {
			if want[i][j] != got[i][j] {
				t.Fatal("cached image embedding differs")
			}
		}
	}
	if err := m.Save(); err != nil {
		t.Fatal(err)
	}
	m2 := loadTiny(t, Options{ImageCache: true, CacheDir: cacheDir})
	os.WriteFile(b, data, 0o644) // b now holds a's content: served from a's entry, by content
	got2, _ := m2.EncodeImageFiles(a, b)
	if s := m2.Stats().ImageCache; s.Hits != 2 {
		t.Errorf("second process: %+v", s)
	}
	for j := range want[0] {
		if got2[1][j] != want[0][j] {
			t.Fatal("content-keyed lookup returned the wrong vector")
		}
	}
}

// TestEveryWeightsEntryHasAnArchitecture checks that every downloadable model of the weights
// registry maps onto a registered architecture with consistent activation, preprocessing and
// resolution (what Load does before fetching).
func TestEveryWeightsEntryHasAnArchitecture(t *testing.T) {
	for _, e := range weights.List() {
		cfg, err := model.Lookup(e.Arch)
		if err != nil {
			t.Errorf("%s: %v", e.Name, err)
			continue
		}
		if err := applyEntry(cfg, e); err != nil {
			t.Errorf("%s: %v", e.Name, err)
		}
	}
}
