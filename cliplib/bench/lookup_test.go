package bench

import (
	"slices"
	"testing"
)

func lookupReport() *Report {
	return &Report{Results: []Result{
		{Model: "slow", Tower: "image", Batch: 1, ItemsPerSec: 1, FirstCallMs: 30},
		{Model: "slow", Tower: "image", Batch: 8, ItemsPerSec: 3, FirstCallMs: 90},
		{Model: "slow", Tower: "text", Batch: 1, ItemsPerSec: 10},
		{Model: "fast", Tower: "image", Batch: 1, ItemsPerSec: 5},
		{Model: "fast", Tower: "image", Batch: 8, Error: "out of memory"},
		{Model: "fast", Tower: "text", Batch: 8, Skipped: true, Error: "over budget"},
		{Model: "broken", Tower: "image", Batch: 2, Error: "no"},
	}}
}

func TestReportPoint(t *testing.T) {
	r := lookupReport()
	tests := []struct {
		model, tower string
		batch        int
		ok           bool
		rate         float64
	}{
		{"slow", "image", 8, true, 3},
		{"fast", "image", 1, true, 5},
		{"fast", "image", 8, false, 0}, // failed
		{"fast", "text", 1, false, 0},  // not measured
		{"nope", "image", 1, false, 0},
	}
	for _, tt := range tests {
		p, ok := r.Point(tt.model, tt.tower, tt.batch)
		if ok != tt.ok || p.ItemsPerSec != tt.rate {
			t.Errorf("Point(%s, %s, %d) = %v, %v; want rate %v, %v", tt.model, tt.tower, tt.batch, p.ItemsPerSec, ok, tt.rate, tt.ok)
		}
	}
}

func TestReportLists(t *testing.T) {
	r := lookupReport()
	tests := []struct {
		name      string
		got, want []string
	}{
		{"Models", r.Models(), []string{"slow", "fast", "broken"}},
		{"ModelsByImageRate", r.ModelsByImageRate(), []string{"fast", "slow", "broken"}},
		{"Skipped", r.Skipped(), []string{"fast text batch 8"}},
	}
	for _, tt := range tests {
		if !slices.Equal(tt.got, tt.want) {
			t.Errorf("%s = %v, want %v", tt.name, tt.got, tt.want)
		}
	}
	if got := r.Batches(); !slices.Equal(got, []int{1, 2, 8}) {
		t.Errorf("Batches = %v", got)
	}
	if got := (&Report{}).Models(); got != nil {
		t.Errorf("Models of an empty report = %v", got)
	}
}

func TestMeasuredFastest(t *testing.T) {
	r := lookupReport()
	img := Measured(r.Results, "image")
	if len(img) != 3 {
		t.Fatalf("Measured(image) has %d results, want 3 (errors left out)", len(img))
	}
	if b, ok := Fastest(img); !ok || b.Model != "fast" || b.ItemsPerSec != 5 {
		t.Errorf("Fastest = %+v, %v", b, ok)
	}
	if _, ok := Fastest(nil); ok {
		t.Error("Fastest(nil) reported a result")
	}
	if got := MaxFirstCallMs(img); got != 90 {
		t.Errorf("MaxFirstCallMs = %v, want 90", got)
	}
	if got := MaxFirstCallMs(nil); got != 0 {
		t.Errorf("MaxFirstCallMs(nil) = %v", got)
	}
}

func TestBatchingMeasuredFastest(t *testing.T) {
	reps := []*BatchingReport{
		{Results: []BatchingResult{{Tower: "text", MaxBatch: 1, ItemsPerSec: 2}, {Tower: "text", MaxBatch: 4, Error: "x"}}},
		{Results: []BatchingResult{{Tower: "image", MaxBatch: 1, ItemsPerSec: 1}, {Tower: "text", MaxBatch: 8, ItemsPerSec: 6}}},
	}
	txt := BatchingMeasured(reps, "text")
	if len(txt) != 2 {
		t.Fatalf("BatchingMeasured(text) = %+v", txt)
	}
	if b, ok := FastestBatching(txt); !ok || b.MaxBatch != 8 {
		t.Errorf("FastestBatching = %+v, %v", b, ok)
	}
	if _, ok := FastestBatching(nil); ok {
		t.Error("FastestBatching(nil) reported a result")
	}
	if p, ok := FastestScaling([]ScalingPoint{{Batch: 1, ItemsPerSec: 3}, {Batch: 4, ItemsPerSec: 3}, {Batch: 2, ItemsPerSec: 4}}); !ok || p.Batch != 2 {
		t.Errorf("FastestScaling = %+v, %v", p, ok)
	}
}

func TestMeasuredMemory(t *testing.T) {
	pts := []MemoryPoint{
		{Result: Result{Tower: "image", Batch: 1}},
		{Result: Result{Tower: "image", Batch: 4, Error: "oom"}},
		{Result: Result{Tower: "text", Batch: 1}},
		{Result: Result{Tower: "image", Batch: 8}},
	}
	got := MeasuredMemory(pts, "image")
	if len(got) != 2 || got[0].Batch != 1 || got[1].Batch != 8 {
		t.Errorf("MeasuredMemory(image) = %+v", got)
	}
	if got := MeasuredMemory(pts, "none"); got != nil {
		t.Errorf("MeasuredMemory(none) = %+v", got)
	}
}

func TestResultRows(t *testing.T) {
	h, rows := ResultRows([]Result{
		{Tower: "image", Batch: 8, Precision: "f32", ItemsPerSec: 12.345, P50ms: 1.26, P95ms: 2, FirstCallMs: 99.6, Iters: 5},
		{Tower: "text", Batch: 1, Precision: "bf16", Error: "boom"},
	})
	want := [][]string{
		{"image", "8", "f32", "12.35", "1.3", "2.0", "100", "5"},
		{"text", "1", "bf16", "error: boom", "", "", "", ""},
	}
	if len(h) != 8 || len(rows) != 2 || !slices.Equal(rows[0], want[0]) || !slices.Equal(rows[1], want[1]) {
		t.Errorf("ResultRows = %q, %q", h, rows)
	}
	h, rows = BatchingRows([]*BatchingReport{{Results: []BatchingResult{
		{Tower: "text", MaxBatch: 16, Clients: 64, Requests: 300, ItemsPerSec: 40.5, MeanBatch: 15.25, P50ms: 10.4, P95ms: 20.6},
		{Tower: "image", MaxBatch: 4, Error: "oom"},
	}}})
	want = [][]string{
		{"text", "16", "64", "300", "40.50", "15.25", "10", "21"},
		{"image", "4", "error: oom", "", "", "", "", ""},
	}
	if len(h) != 8 || len(rows) != 2 || !slices.Equal(rows[0], want[0]) || !slices.Equal(rows[1], want[1]) {
		t.Errorf("BatchingRows = %q, %q", h, rows)
	}
}

func TestReportAt(t *testing.T) {
	r := lookupReport()
	tests := []struct {
		tower  string
		batch  int
		models []string
	}{
		{"image", 1, []string{"slow", "fast"}},
		{"image", 8, []string{"slow"}}, // fast failed at 8
		{"text", 8, nil},               // skipped
	}
	for _, tt := range tests {
		var got []string
		for _, x := range r.At(tt.tower, tt.batch) {
			got = append(got, x.Model)
		}
		if !slices.Equal(got, tt.models) {
			t.Errorf("At(%s, %d) = %v, want %v", tt.tower, tt.batch, got, tt.models)
		}
	}
}
