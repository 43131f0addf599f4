package bench

import (
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writePhotos writes n small distinct PNG images named like sample photos.
func writePhotos(t *testing.T, n int) []string {
	t.Helper()
	dir := t.TempDir()
	names := []string{"chelsea", "rocket", "horse", "my_own_photo"}
	var out []string
	for i := range n {
		img := image.NewRGBA(image.Rect(0, 0, 80, 60))
		for y := range 60 {
			for x := range 80 {
				img.Set(x, y, color.RGBA{uint8(x * (i + 2)), uint8(y * 3), uint8(50 * i), 255})
			}
		}
		p := filepath.Join(dir, fmt.Sprintf("extra%d.png", i))
		if i < len(names) {
			p = filepath.Join(dir, names[i]+".png")
		}
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		png.Encode(f, img)
		f.Close()
		out = append(out, p)
	}
	return out
}

func TestPhotoClassesNameTheSubjects(t *testing.T) {
	got := PhotoClasses([]string{"a/chelsea.png", "b/motorcycle_left.png", "motorcycle_right.png", "x/my_own_photo.jpg"})
	want := "[cat motorcycle my own photo]"
	if fmt.Sprint(got) != want {
		t.Errorf("PhotoClasses = %v, want %s", got, want)
	}
}

func TestComparePrecisionsReportsDifferencesAndRefusals(t *testing.T) {
	rep, err := ComparePrecisions(PrecisionConfig{Model: "tiny-vit", Backend: "go", RandomWeights: true, Images: writePhotos(t, 4)})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.RandomWeights || len(rep.Sets) != 2 || rep.Sets[1].Name != "cifar-like" || rep.Sets[0].Images != 4 {
		t.Fatalf("report header %+v", rep)
	}
	if len(rep.Results) != 6 {
		t.Fatalf("%d result rows, want 6 (f32, bf16, f16 × 2 sets)", len(rep.Results))
	}
	for _, r := range rep.Results {
		switch r.Precision {
		case "f32":
			if r.ImageMaxAbsDiff != 0 || r.Top1Agree != r.Images || r.ImagesPerSec <= 0 || r.TextsPerSec <= 0 {
				t.Errorf("f32 reference row %+v", r)
			}
		case "bf16":
			if r.Error != "" || r.ImageMaxAbsDiff == 0 || r.ImageMinCosine < 0.99 || r.TextMinCosine < 0.99 || r.ImageMeanCosine < r.ImageMinCosine {
				t.Errorf("bf16 row %+v: want small non-zero differences", r)
			}
		case "f16":
			if !strings.Contains(r.Error, "f16 is not supported") {
				t.Errorf("f16 on simplego: %+v, want the refusal as an error row", r)
			}
		}
	}
	table := PrecisionTable(rep)
	for _, want := range []string{"RANDOM WEIGHTS", "cifar-like", "bf16", "error: precision f16"} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
}

func TestBatchingGroupsConcurrentRequests(t *testing.T) {
	rep, err := Batching(BatchingConfig{Model: "tiny-vit", Backend: "go", Towers: []string{"text"}, MaxBatches: []int{1, 8},
		Clients: 16, MinTime: 50 * time.Millisecond, MinBatches: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Results) != 2 {
		t.Fatalf("results %+v", rep.Results)
	}
	one, eight := rep.Results[0], rep.Results[1]
	if one.Error != "" || eight.Error != "" || one.MeanBatch != 1 || eight.MeanBatch <= 1 || eight.MeanBatch > 8 ||
		one.Requests < 2 || eight.Requests < 16 || one.ItemsPerSec <= 0 || one.P95ms < one.P50ms {
		t.Errorf("results %+v / %+v", one, eight)
	}
}

func TestCompareTextLengthsIsExactAndCutsTheSequence(t *testing.T) {
	rep, err := CompareTextLengths(TextLengthConfig{Model: "tiny-vit", Backend: "go", Batches: []int{1, 4}, MinTime: time.Millisecond, MinIters: 2})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Causal || len(rep.Results) != 2 {
		t.Fatalf("report %+v", rep)
	}
	for _, r := range rep.Results {
		if r.Error != "" || r.Bucket >= r.FullLength || r.MaxAbsDiff > 1e-6 || r.Speedup <= 0 {
			t.Errorf("batch %d: %+v", r.Batch, r)
		}
	}
}

func TestPointBudgetSkipsLargerBatches(t *testing.T) {
	rep, err := Run(Config{Models: []string{"tiny-vit"}, Towers: []string{"text"}, Batches: []int{4, 1, 2}, Backend: "go",
		MinIters: 1, MinTime: time.Millisecond, PointBudget: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Results) != 3 {
		t.Fatalf("%d results", len(rep.Results))
	}
	if r := rep.Results[0]; r.Batch != 1 || r.Skipped || r.ItemsPerSec <= 0 || r.Params == 0 {
		t.Errorf("first (smallest) batch %+v: want it measured", r)
	}
	for _, r := range rep.Results[1:] {
		if !r.Skipped || !strings.Contains(r.Error, "budget") {
			t.Errorf("batch %d: %+v, want skipped for the budget", r.Batch, r)
		}
	}
	if !strings.Contains(Table(rep.Results), "not measured") {
		t.Error("table does not show skipped points")
	}
}

func TestZeroShotWorkloadServesRepeatedClassListsFromTheCache(t *testing.T) {
	rep, err := ZeroShotWorkload(ZeroShotConfig{Model: "tiny-vit", Backend: "go", RandomWeights: true, Precisions: []string{"f32", "f16"},
		Classes: []string{"cat", "dog", "ship", "car"}, Templates: []string{"a photo of a {}.", "a bad photo of a {}.", "art of the {}."},
		Images: writePhotos(t, 4), Requests: 3, ImagesPerRequest: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Results) != 3 {
		t.Fatalf("results %+v", rep.Results)
	}
	plain, opt, f16 := rep.Results[0], rep.Results[1], rep.Results[2]
	if plain.Facade != "plain" || len(plain.RequestMs) != 3 || plain.Speedup != 1 {
		t.Errorf("plain %+v", plain)
	}
	// 3 requests × 12 prompts: the first request misses, the other two hit.
	if opt.Error != "" || opt.TextHits != 24 || opt.TextMisses != 12 || opt.Top1Agreement != 1 || opt.Speedup <= 0 {
		t.Errorf("optimized %+v", opt)
	}
	if !strings.Contains(f16.Error, "f16") {
		t.Errorf("f16 on simplego: %+v", f16)
	}
	if table := ZeroShotTable(rep); !strings.Contains(table, "67%") || !strings.Contains(table, "12 prompts") {
		t.Errorf("table:\n%s", table)
	}
}

func TestComparePrecisionsOnACIFARArchive(t *testing.T) {
	archive := filepath.Join("..", "..", "testdata", "data", "cifar-10-python-tiny.tar.gz")
	rep, err := ComparePrecisions(PrecisionConfig{Model: "tiny-vit", Backend: "go", RandomWeights: true, Images: writePhotos(t, 2),
		Precisions: []string{"bf16"}, CIFAR: archive, CIFARCount: 3})
	if err != nil {
		t.Fatal(err)
	}
	cifar := rep.Sets[1]
	if cifar.Name != "cifar" || cifar.Images != 3 || len(cifar.Classes) != 10 || cifar.Classes[0] != "airplane" {
		t.Errorf("CIFAR set %+v", cifar)
	}
	if r := rep.Results[3]; r.Set != "cifar" || r.Precision != "bf16" || r.Images != 3 || r.Error != "" {
		t.Errorf("bf16 CIFAR row %+v", r)
	}
	if _, err := ComparePrecisions(PrecisionConfig{Model: "tiny-vit", Backend: "go", RandomWeights: true, Images: writePhotos(t, 1),
		CIFAR: t.TempDir()}); err == nil {
		t.Error("an empty CIFAR folder was accepted")
	}
}

func TestBenchPromptsStayInsideTheVocabulary(t *testing.T) {
	for _, tc := range []struct{ vocab, sot, eot int32 }{{49408, 49406, 49407}, {500, 498, 499}, {64, 62, 63}} {
		ids := benchPrompts(9, 77, int(tc.vocab), 7)
		for i, row := range ids {
			if row[0] != tc.sot || row[8] != tc.eot || row[9] != 0 {
				t.Fatalf("vocab %d row %d: %v", tc.vocab, i, row[:10])
			}
			for j, id := range row {
				if id < 0 || id >= tc.vocab || (j > 0 && j < 8 && id >= tc.sot) {
					t.Fatalf("vocab %d row %d: id %d at %d out of range", tc.vocab, i, id, j)
				}
			}
		}
	}
}

func TestRunTimesTheTextTowerOfASmallVocabularyModel(t *testing.T) {
	rep, err := Run(Config{Models: []string{"MobileCLIP-test-S2"}, Towers: []string{"text"}, Batches: []int{2}, Backend: "go",
		MinIters: 1, MinTime: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Results) != 1 || rep.Results[0].Error != "" || rep.Results[0].ItemsPerSec <= 0 {
		t.Fatalf("results %+v", rep.Results)
	}
}
