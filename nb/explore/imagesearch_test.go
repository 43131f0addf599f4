package explore

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/clipkit/clipkit/cliplib"
	"github.com/clipkit/clipkit/cliplib/imagesearch"
)

func TestSearchTimingsRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "sub")
	if _, err := LoadTimings(dir); err == nil || !strings.Contains(err.Error(), "run the cells above first") {
		t.Errorf("no file: %v", err)
	}
	if err := UpdateTimings(dir, func(*SearchTimings) {}); err == nil {
		t.Error("UpdateTimings without a file: no error")
	}
	want := SearchTimings{Images: 3, Scale: []ScalePoint{{Ef: 16, Recall: 0.9, MsPerQry: 0.1}}, TextP: 0.5}
	if err := SaveTimings(dir, want); err != nil {
		t.Fatal(err)
	}
	if err := UpdateTimings(dir, func(s *SearchTimings) { s.K = 10 }); err != nil {
		t.Fatal(err)
	}
	got, err := LoadTimings(dir)
	want.K = 10
	if err != nil || got.Images != 3 || got.K != 10 || !slices.Equal(got.Scale, want.Scale) {
		t.Errorf("LoadTimings = %+v, %v", got, err)
	}
	if err := os.WriteFile(filepath.Join(dir, "timings.json"), []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadTimings(dir); err == nil {
		t.Error("bad JSON: no error")
	}
}

func TestFirstAtRecall(t *testing.T) {
	pts := []ScalePoint{{Ef: 16, Recall: 0.8}, {Ef: 32, Recall: 0.96}, {Ef: 64, Recall: 0.99}}
	tests := []struct {
		points []ScalePoint
		recall float64
		want   int
	}{{pts, 0.95, 32}, {pts, 0.5, 16}, {pts, 0.999, 64}, {nil, 0.95, 0}}
	for _, tt := range tests {
		if got := FirstAtRecall(tt.points, tt.recall); got.Ef != tt.want {
			t.Errorf("FirstAtRecall(%v) = ef %d, want %d", tt.recall, got.Ef, tt.want)
		}
	}
}

func TestSearchOptionsAndHits(t *testing.T) {
	o := SearchModelOptions("/x", cliplib.Options{FallbackToRandom: true})
	if o.CacheDir != filepath.Join("/x", "cache") || !o.FallbackToRandom {
		t.Errorf("SearchModelOptions = %+v", o)
	}
	hits := []imagesearch.Hit{{Path: filepath.Join("g", ClassFolder(3, "3"), "a.png")}, {Path: "elsewhere.png"}}
	if got := HitLabels(hits); !slices.Equal(got, []int{3, -1}) {
		t.Errorf("HitLabels = %v", got)
	}
	if _, err := HitTiles(hits); err == nil {
		t.Error("HitTiles of missing files: no error")
	}
}

func TestMeasureSearchScale(t *testing.T) {
	s, err := MeasureSearchScale(300, 5)
	if err != nil {
		t.Fatal(err)
	}
	if s.N != 300 || len(s.Points) != 5 || s.Points[0].Ef != 16 || !(s.ExactMs > 0) {
		t.Errorf("scale %+v", s)
	}
	for _, p := range s.Points {
		if p.Recall < 0 || p.Recall > 1 {
			t.Errorf("recall %v", p.Recall)
		}
	}
}
