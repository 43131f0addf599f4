package explore

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/clipkit/clipkit/cliplib"
	"github.com/clipkit/clipkit/cliplib/bench"
	"github.com/clipkit/clipkit/cliplib/model"
	"github.com/clipkit/clipkit/nb/analysis"
	"github.com/clipkit/clipkit/nb/notebook"
)

func TestLabelledWarningAndSample(t *testing.T) {
	t.Setenv("CLIP_SMOKE", "1")
	t.Setenv(EnvPerClass, "")
	ds, err := CIFAR10(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if w := ds.Warning("CIFAR-10"); !strings.HasPrefix(w, "> **⚠ NOT CIFAR-10.** ") || !strings.Contains(w, ds.Note) {
		t.Errorf("stand-in warning %q", w)
	}
	if w := (&Labelled{Real: true}).Warning("CIFAR-10"); w != "" {
		t.Errorf("real data warned: %q", w)
	}
	tests := []struct {
		name            string
		real            bool
		smoke, perClass string
		wantPer         int
	}{
		{"smoke", false, "1", "", 1},
		{"stand-in", false, "", "", 50},
		{"real", true, "", "", 1000},
		{"override", true, "", "2", 2},
	}
	for _, tt := range tests {
		t.Setenv("CLIP_SMOKE", tt.smoke)
		t.Setenv(EnvPerClass, tt.perClass)
		d := *ds
		d.Real = tt.real
		idx, per, err := d.Sample(1000, 50, 1)
		if err != nil || per != tt.wantPer {
			t.Errorf("%s: Sample per class %d, %v; want %d", tt.name, per, err, tt.wantPer)
			continue
		}
		if want := analysis.Stratified(ds.Labels, 10, per); !slices.Equal(idx, want) {
			t.Errorf("%s: Sample = %v, want %v", tt.name, idx, want)
		}
	}
	t.Setenv(EnvPerClass, "zero")
	if _, _, err := ds.Sample(1, 1, 1); err == nil {
		t.Error("bad CLIP_PER_CLASS: no error")
	}
}

func TestZeroShotRunsAndEncodeWords(t *testing.T) {
	s, ds, idx := smokeCIFAR(t)
	truth, runs, err := s.ZeroShotRuns("test", ds, idx, cliplib.PhotoTemplate, cliplib.CIFARTemplates[:3])
	if err != nil {
		t.Fatal(err)
	}
	if len(truth) != len(idx) || len(runs) != 2 || runs[1].Templates != 3 {
		t.Fatalf("%d labels for %d items, %d runs", len(truth), len(idx), len(runs))
	}
	// The same numbers as classifying by hand.
	imgs, _, err := s.EncodeDataset("test", ds, idx)
	if err != nil {
		t.Fatal(err)
	}
	z, err := s.ZeroShot(ds.Classes(), cliplib.PhotoTemplate)
	if err != nil {
		t.Fatal(err)
	}
	pred := analysis.Predictions(z.Logits(imgs))
	acc, _ := analysis.Accuracy(pred, truth)
	if !slices.Equal(pred, runs[0].Pred) || acc != runs[0].Acc || len(runs[0].CM) != 10 || len(runs[0].PerClass) != 10 {
		t.Errorf("run 0 = %+v, want predictions %v accuracy %v", runs[0], pred, acc)
	}

	words, err := s.EncodeWords(cliplib.PhotoTemplate, []string{"cat", "dog"})
	if err != nil {
		t.Fatal(err)
	}
	direct, err := s.EncodeTexts([]string{"a photo of a cat.", "a photo of a dog."})
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := analysis.MaxAbsDiff(words, direct); d != 0 {
		t.Errorf("EncodeWords differs from the prompts by %g", d)
	}
	if _, err := s.EncodeWords(nil, []string{"cat"}); err == nil {
		t.Error("no template: no error")
	}
}

func TestModelLists(t *testing.T) {
	tests := []struct {
		env  string
		want []string
	}{
		{"", []string{"default"}},
		{" RN50, ViT-B/32 ,", []string{"RN50", "ViT-B/32"}},
		{"all", model.Names()},
	}
	for _, tt := range tests {
		t.Setenv(EnvModels, tt.env)
		if got := ModelList([]string{"default"}); !slices.Equal(got, tt.want) {
			t.Errorf("CLIP_MODELS=%q: ModelList = %v, want %v", tt.env, got, tt.want)
		}
	}
	pub := PublishedModels("tiny-vit")
	if !slices.Contains(pub, "ViT-B/32") || !slices.Contains(pub, "tiny-vit") || slices.Contains(pub, "tiny-rn") {
		t.Errorf("PublishedModels(tiny-vit) = %v", pub)
	}
}

func TestBenchRunnersMeasureOncePerKey(t *testing.T) {
	t.Setenv("CLIPKIT_CACHE", t.TempDir())
	stored := &bench.Report{Backend: "stored"}
	if _, err := notebook.Cached("k", func() (*bench.Report, error) { return stored, nil }); err != nil {
		t.Fatal(err)
	}
	// A config that cannot run: the stored result must come back without measuring.
	r, err := Benchmark("k", bench.Config{Models: []string{"no-such-model"}})
	if err != nil || r.Backend != "stored" {
		t.Errorf("Benchmark with a stored key = %+v, %v", r, err)
	}
	r2, err := Benchmark("k2", bench.Config{Models: []string{"no-such-model"}, Towers: []string{"image"}, Batches: []int{1}})
	if err == nil && (len(r2.Results) != 1 || r2.Results[0].Error == "") {
		t.Errorf("new key, unknown model: measured %+v", r2)
	}
	tests := []struct {
		cfg  bench.Config
		want int
	}{
		{bench.Config{}, 1},
		{bench.Config{Models: []string{"a", "b"}, Towers: []string{"image", "text"}, Batches: []int{1, 8}, Precisions: []string{"f32"}}, 8},
	}
	for _, tt := range tests {
		if got := points(tt.cfg); got != tt.want {
			t.Errorf("points(%+v) = %d, want %d", tt.cfg, got, tt.want)
		}
	}
}

func TestClassPrompts(t *testing.T) {
	got := ClassPrompts([]string{"cat", "dog"}, []string{"a {}.", "the {}"})
	if want := []string{"a cat.", "the cat", "a dog.", "the dog"}; !slices.Equal(got, want) {
		t.Errorf("ClassPrompts = %q, want %q", got, want)
	}
	if got := ClassPrompts(nil, []string{"a {}."}); len(got) != 0 {
		t.Errorf("no classes: %q", got)
	}
}

func TestBenchmarkReportReadsOrSaves(t *testing.T) {
	cacheDir := t.TempDir()
	t.Setenv("CLIPKIT_CACHE", cacheDir)
	if _, err := notebook.Cached("k", func() (*bench.Report, error) { return &bench.Report{Backend: "stored"}, nil }); err != nil {
		t.Fatal(err)
	}
	t.Setenv(EnvBenchJSON, "")
	r, err := BenchmarkReport("k", bench.Config{}, "out.json")
	if err != nil || r.Backend != "stored" {
		t.Fatalf("BenchmarkReport = %+v, %v", r, err)
	}
	saved := filepath.Join(cacheDir, "notebook", "out.json")
	var back bench.Report
	if err := notebook.LoadJSON(saved, &back); err != nil || back.Backend != "stored" {
		t.Fatalf("saved report %+v, %v", back, err)
	}
	t.Setenv(EnvBenchJSON, saved)
	if r, err := BenchmarkReport("other-key", bench.Config{}, "x.json"); err != nil || r.Backend != "stored" {
		t.Errorf("with %s: %+v, %v", EnvBenchJSON, r, err)
	}
	t.Setenv(EnvBenchJSON, filepath.Join(cacheDir, "missing.json"))
	if _, err := BenchmarkReport("k", bench.Config{}, "x.json"); err == nil {
		t.Error("missing report file: no error")
	}
}

// smokeCIFAR opens the smoke-mode session (tiny model, caches in a temporary directory) and
// samples the CIFAR-10 items the zero-shot tests score; the session is closed when the test ends.
func smokeCIFAR(t *testing.T) (*Session, *Labelled, []int) {
	t.Helper()
	t.Setenv("CLIPKIT_CACHE", t.TempDir())
	t.Setenv("CLIP_SMOKE", "1")
	t.Setenv(EnvModel, "")
	t.Setenv(EnvPerClass, "")
	ds, err := CIFAR10(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	s, err := OpenLocal()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	idx, _, err := ds.Sample(1000, 50, 1)
	if err != nil {
		t.Fatal(err)
	}
	return s, ds, idx
}
