package explore

import (
	"slices"
	"testing"
	"time"

	"github.com/clipkit/clipkit/cliplib/bench"
)

func TestPrecisionSweepConfig(t *testing.T) {
	tests := []struct {
		smoke, backend string
		batches        []int
		minIters       int
		minTime        time.Duration
	}{
		{"1", "go", []int{1, 2}, 1, 50 * time.Millisecond},
		{"", "go", []int{1, 4}, 2, time.Second},
		{"", "xla:cpu", []int{1, 8, 32, 64}, 3, time.Second},
	}
	for _, tt := range tests {
		t.Setenv("CLIP_SMOKE", tt.smoke)
		t.Setenv("GOMLX_BACKEND", tt.backend)
		cfg := PrecisionSweepConfig("tiny-vit")
		if !slices.Equal(cfg.Batches, tt.batches) || cfg.MinIters != tt.minIters || cfg.MinTime != tt.minTime ||
			!slices.Equal(cfg.Models, []string{"tiny-vit"}) || len(cfg.Precisions) != 3 {
			t.Errorf("smoke %q backend %s: %+v", tt.smoke, tt.backend, cfg)
		}
	}
}

func TestPrecisionRowsAndBackends(t *testing.T) {
	reps := []*bench.PrecisionReport{
		{Backend: "simplego", Results: []bench.PrecisionResult{{Precision: "f32", Set: "photos"}, {Precision: "bf16", Set: "photos"},
			{Precision: "f16", Set: "photos", Error: "refused"}}},
		{Backend: "xla:cpu", Results: []bench.PrecisionResult{{Precision: "f16", Set: "cifar-like"}}},
	}
	labels, rows := PrecisionRows(reps)
	if want := []string{"bf16 go · photos", "f16 xla · cifar-like"}; !slices.Equal(labels, want) || len(rows) != 2 {
		t.Errorf("PrecisionRows = %q, %d rows; want %q", labels, len(rows), want)
	}
	if l, r := PrecisionRows(nil); l != nil || r != nil {
		t.Errorf("no reports: %v %v", l, r)
	}
	t.Setenv("CLIP_SMOKE", "1")
	t.Setenv("GOMLX_BACKEND", "go")
	if bs := PrecisionBackends(); len(bs) != 1 {
		t.Errorf("smoke mode: backends %v, want only the one in use", bs)
	}
}

func TestPrecisionReportsOncePerKey(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the precision comparison of a model")
	}
	t.Setenv("CLIPKIT_CACHE", t.TempDir())
	t.Setenv("CLIP_SMOKE", "1")
	reps, err := PrecisionReports("test", SmokeModel, []string{"go"})
	if err != nil || len(reps) != 1 {
		t.Fatalf("PrecisionReports: %v, %v", reps, err)
	}
	if _, ok := reps[0].Reference(); !ok {
		t.Errorf("no f32 reference in %+v", reps[0])
	}
}
