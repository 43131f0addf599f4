package bench

import (
	"math"
	"strings"
)

// BackendShort names the report's backend for labels: "xla" for an XLA backend, else "go".
func (r *PrecisionReport) BackendShort() string {
	if strings.Contains(r.Backend, "xla") {
		return "xla"
	}
	return "go"
}

// Reference returns the report's first f32 result (the reference the other precisions are
// compared with), and whether there is one.
func (r *PrecisionReport) Reference() (PrecisionResult, bool) {
	for _, res := range r.Results {
		if res.Precision == "f32" {
			return res, true
		}
	}
	return PrecisionResult{}, false
}

// ResultsFor returns the results of one precision (every set, errors included), in order.
func (r *PrecisionReport) ResultsFor(precision string) []PrecisionResult {
	var out []PrecisionResult
	for _, res := range r.Results {
		if res.Precision == precision {
			out = append(out, res)
		}
	}
	return out
}

// PrecisionAgreement sums up how far one precision's results stay from f32 over several sets.
type PrecisionAgreement struct {
	MinCosine       float64 // smallest image or text feature cosine with f32 (1 for no results)
	MaxLogitAbsDiff float64 // largest zero-shot logit difference
	Top1Agree       int     // images whose top-1 class is unchanged
	Images          int     // images compared
}

// Agreement sums up results (of one precision, without errors) into a PrecisionAgreement.
func Agreement(results []PrecisionResult) PrecisionAgreement {
	a := PrecisionAgreement{MinCosine: 1}
	for _, r := range results {
		a.MinCosine = min(a.MinCosine, r.ImageMinCosine, r.TextMinCosine)
		a.MaxLogitAbsDiff = max(a.MaxLogitAbsDiff, r.LogitMaxAbsDiff)
		a.Top1Agree += r.Top1Agree
		a.Images += r.Images
	}
	return a
}

// Grown is how many bytes point p's peak resident size exceeds the process's resident size before
// its precision's model was loaded (Before): the memory that precision's run needed.
func (r *MemoryReport) Grown(p MemoryPoint) int64 { return p.Peak - r.Before[p.Precision].RSS }

// Batches returns the batch sizes of the run, in the order of the first precision's points.
func (r *MemoryReport) Batches() []int {
	var out []int
	if len(r.Points) == 0 {
		return nil
	}
	for _, p := range r.Points {
		if p.Precision == r.Points[0].Precision {
			out = append(out, p.Batch)
		}
	}
	return out
}

// Measured returns the points of one precision that ran (no error), in order.
func (r *MemoryReport) Measured(precision string) []MemoryPoint {
	var out []MemoryPoint
	for _, p := range r.Points {
		if p.Precision == precision && p.Error == "" {
			out = append(out, p)
		}
	}
	return out
}

// Failure returns the error of the first failed point of one precision, "" if none failed.
func (r *MemoryReport) Failure(precision string) string {
	for _, p := range r.Points {
		if p.Precision == precision && p.Error != "" {
			return p.Error
		}
	}
	return ""
}

// ByBatch returns v of one precision's measured point per batch size of Batches, NaN (a chart
// gap) where it did not run.
func (r *MemoryReport) ByBatch(precision string, v func(MemoryPoint) float64) []float64 {
	bs := r.Batches()
	vals := make([]float64, len(bs))
	pts := r.Measured(precision)
	for i := range vals {
		vals[i] = math.NaN()
		for _, p := range pts {
			if p.Batch == bs[i] {
				vals[i] = v(p)
			}
		}
	}
	return vals
}

// FastestPoint returns the point with the most items per second (the first of equals), and false for
// no points.
func FastestPoint(points []MemoryPoint) (MemoryPoint, bool) {
	return fastestBy(points, func(x MemoryPoint) float64 { return x.ItemsPerSec })
}

// MiBs converts a byte count to mebibytes.
func MiBs(n int64) float64 { return float64(n) / (1 << 20) }
