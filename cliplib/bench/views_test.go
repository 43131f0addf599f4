package bench

import (
	"math"
	"slices"
	"testing"
)

func TestPrecisionReportViews(t *testing.T) {
	rep := &PrecisionReport{Backend: "simplego (go)", Results: []PrecisionResult{
		{Precision: "f32", Set: "photos", ImagesPerSec: 10},
		{Precision: "bf16", Set: "photos", ImageMinCosine: 0.99, TextMinCosine: 0.995, LogitMaxAbsDiff: 0.5, Top1Agree: 7, Images: 8},
		{Precision: "bf16", Set: "cifar-like", ImageMinCosine: 0.999, TextMinCosine: 0.98, LogitMaxAbsDiff: 0.2, Top1Agree: 8, Images: 8},
		{Precision: "f16", Set: "photos", Error: "refused"},
	}}
	if rep.BackendShort() != "go" || (&PrecisionReport{Backend: "xla:cuda"}).BackendShort() != "xla" {
		t.Errorf("BackendShort: %q", rep.BackendShort())
	}
	if ref, ok := rep.Reference(); !ok || ref.ImagesPerSec != 10 {
		t.Errorf("Reference = %+v, %v", ref, ok)
	}
	if _, ok := (&PrecisionReport{}).Reference(); ok {
		t.Error("empty report has a reference")
	}
	tests := []struct {
		prec string
		n    int
		want PrecisionAgreement
	}{
		{"bf16", 2, PrecisionAgreement{MinCosine: 0.98, MaxLogitAbsDiff: 0.5, Top1Agree: 15, Images: 16}},
		{"f16", 1, PrecisionAgreement{MinCosine: 0}},
		{"int8", 0, PrecisionAgreement{MinCosine: 1}},
	}
	for _, tt := range tests {
		rs := rep.ResultsFor(tt.prec)
		if len(rs) != tt.n {
			t.Errorf("ResultsFor(%s): %d results, want %d", tt.prec, len(rs), tt.n)
		}
		if tt.prec == "f16" {
			continue // an error row: Agreement is for results without errors
		}
		if got := Agreement(rs); got != tt.want {
			t.Errorf("Agreement(%s) = %+v, want %+v", tt.prec, got, tt.want)
		}
	}
}

func point(prec string, batch int, ips float64, peak int64, errMsg string) MemoryPoint {
	p := MemoryPoint{}
	p.Precision, p.Batch, p.ItemsPerSec, p.Error, p.Peak = prec, batch, ips, errMsg, peak
	return p
}

func TestMemoryReportViews(t *testing.T) {
	r := &MemoryReport{Points: []MemoryPoint{
		point("f32", 1, 5, 300<<20, ""), point("f32", 4, 9, 400<<20, ""),
		point("bf16", 1, 4, 250<<20, ""), point("bf16", 4, 0, 0, "out of memory"),
		point("f16", 1, 0, 0, "refused"),
	}, Before: map[string]Memory{"f32": {RSS: 100 << 20}, "bf16": {RSS: 200 << 20}}}
	if got := r.Batches(); !slices.Equal(got, []int{1, 4}) {
		t.Errorf("Batches = %v", got)
	}
	if (&MemoryReport{}).Batches() != nil {
		t.Error("empty report has batches")
	}
	tests := []struct {
		prec     string
		measured int
		failure  string
		ips      []float64 // NaN: gap
		fastest  int
	}{
		{"f32", 2, "", []float64{5, 9}, 4},
		{"bf16", 1, "out of memory", []float64{4, math.NaN()}, 1},
		{"f16", 0, "refused", []float64{math.NaN(), math.NaN()}, -1},
	}
	for _, tt := range tests {
		pts := r.Measured(tt.prec)
		if len(pts) != tt.measured || r.Failure(tt.prec) != tt.failure {
			t.Errorf("%s: %d measured, failure %q", tt.prec, len(pts), r.Failure(tt.prec))
		}
		got := r.ByBatch(tt.prec, func(p MemoryPoint) float64 { return p.ItemsPerSec })
		if !slices.EqualFunc(got, tt.ips, func(a, b float64) bool { return a == b || (math.IsNaN(a) && math.IsNaN(b)) }) {
			t.Errorf("%s: ByBatch = %v, want %v", tt.prec, got, tt.ips)
		}
		best, ok := FastestPoint(pts)
		if ok != (tt.fastest >= 0) || (ok && best.Batch != tt.fastest) {
			t.Errorf("%s: FastestPoint = %+v, %v", tt.prec, best, ok)
		}
	}
	if g := r.Grown(r.Points[1]); g != 300<<20 || MiBs(g) != 300 {
		t.Errorf("Grown = %d (%v MiB)", g, MiBs(g))
	}
}
