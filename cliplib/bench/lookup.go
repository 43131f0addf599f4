package bench

import (
	"fmt"
	"slices"
	"sort"
)

// Point returns the measured result of model's tower at batch, and false when that point was not
// measured or failed.
func (r *Report) Point(model, tower string, batch int) (Result, bool) {
	for _, x := range r.Results {
		if x.Model == model && x.Tower == tower && x.Batch == batch && x.Error == "" {
			return x, true
		}
	}
	return Result{}, false
}

// Models lists the report's models in the order they were measured, each once.
func (r *Report) Models() []string {
	var out []string
	for _, x := range r.Results {
		if !slices.Contains(out, x.Model) {
			out = append(out, x.Model)
		}
	}
	return out
}

// ModelsByImageRate lists the report's models with the fastest image tower at batch 1 first
// (models without that point last, in measuring order).
func (r *Report) ModelsByImageRate() []string {
	out := r.Models()
	rate := func(n string) float64 { p, _ := r.Point(n, "image", 1); return p.ItemsPerSec }
	sort.SliceStable(out, func(i, j int) bool { return rate(out[i]) > rate(out[j]) })
	return out
}

// Batches lists the report's batch sizes, ascending, each once.
func (r *Report) Batches() []int {
	var out []int
	for _, x := range r.Results {
		if !slices.Contains(out, x.Batch) {
			out = append(out, x.Batch)
		}
	}
	slices.Sort(out)
	return out
}

// Skipped describes the points that were not measured (over the PointBudget), as "model tower
// batch n".
func (r *Report) Skipped() []string {
	var out []string
	for _, x := range r.Results {
		if x.Skipped {
			out = append(out, fmt.Sprintf("%s %s batch %d", x.Model, x.Tower, x.Batch))
		}
	}
	return out
}

// Measured returns the results of tower that did not fail, in order.
func Measured(results []Result, tower string) []Result {
	var out []Result
	for _, x := range results {
		if x.Tower == tower && x.Error == "" {
			out = append(out, x)
		}
	}
	return out
}

// Fastest returns the result with the most items per second (the first of equals), and false for
// no results.
func Fastest(results []Result) (Result, bool) {
	return fastestBy(results, func(x Result) float64 { return x.ItemsPerSec })
}

// MaxFirstCallMs is the slowest first call (graph compilation included) among results, in ms; 0
// for none.
func MaxFirstCallMs(results []Result) float64 {
	m := 0.0
	for _, x := range results {
		m = max(m, x.FirstCallMs)
	}
	return m
}

// BatchingMeasured returns the results of tower that did not fail, from all reports, in order.
func BatchingMeasured(reports []*BatchingReport, tower string) []BatchingResult {
	var out []BatchingResult
	for _, r := range reports {
		for _, x := range r.Results {
			if x.Tower == tower && x.Error == "" {
				out = append(out, x)
			}
		}
	}
	return out
}

// FastestBatching returns the result with the most items per second (the first of equals), and
// false for no results.
func FastestBatching(results []BatchingResult) (BatchingResult, bool) {
	return fastestBy(results, func(x BatchingResult) float64 { return x.ItemsPerSec })
}

// FastestScaling returns the sweep point with the most items per second (the first of equals),
// and false for no points.
func FastestScaling(points []ScalingPoint) (ScalingPoint, bool) {
	return fastestBy(points, func(x ScalingPoint) float64 { return x.ItemsPerSec })
}

// MeasuredMemory returns the points of tower that did not fail, in order.
func MeasuredMemory(points []MemoryPoint, tower string) []MemoryPoint {
	var out []MemoryPoint
	for _, p := range points {
		if p.Tower == tower && p.Error == "" {
			out = append(out, p)
		}
	}
	return out
}

// ResultRows lays results out as a table (header and one row per result, failed points saying
// their error): tower, batch, precision, items/s, p50 and p95 ms, first call ms, timed calls.
func ResultRows(results []Result) (header []string, rows [][]string) {
	header = []string{"tower", "batch", "precision", "items/s", "p50 ms", "p95 ms", "first call ms", "timed calls"}
	for _, x := range results {
		if x.Error != "" {
			rows = append(rows, []string{x.Tower, fmt.Sprint(x.Batch), x.Precision, "error: " + x.Error, "", "", "", ""})
			continue
		}
		rows = append(rows, []string{x.Tower, fmt.Sprint(x.Batch), x.Precision, fmt.Sprintf("%.2f", x.ItemsPerSec),
			fmt.Sprintf("%.1f", x.P50ms), fmt.Sprintf("%.1f", x.P95ms), fmt.Sprintf("%.0f", x.FirstCallMs), fmt.Sprint(x.Iters)})
	}
	return header, rows
}

// BatchingRows lays the results of reports out as a table (header and one row per result, failed
// points saying their error): tower, MaxBatch, clients, requests, items/s, mean batch, p50 and
// p95 request latency in ms.
func BatchingRows(reports []*BatchingReport) (header []string, rows [][]string) {
	header = []string{"tower", "MaxBatch", "clients", "requests", "items/s", "mean batch", "p50 ms", "p95 ms"}
	for _, rep := range reports {
		for _, r := range rep.Results {
			if r.Error != "" {
				rows = append(rows, []string{r.Tower, fmt.Sprint(r.MaxBatch), "error: " + r.Error, "", "", "", "", ""})
				continue
			}
			rows = append(rows, []string{r.Tower, fmt.Sprint(r.MaxBatch), fmt.Sprint(r.Clients), fmt.Sprint(r.Requests),
				fmt.Sprintf("%.2f", r.ItemsPerSec), fmt.Sprintf("%.2f", r.MeanBatch), fmt.Sprintf("%.0f", r.P50ms), fmt.Sprintf("%.0f", r.P95ms)})
		}
	}
	return header, rows
}

// At returns the results of tower at batch that did not fail, in order (one per model).
func (r *Report) At(tower string, batch int) []Result {
	var out []Result
	for _, x := range r.Results {
		if x.Tower == tower && x.Batch == batch && x.Error == "" {
			out = append(out, x)
		}
	}
	return out
}

// fastestBy returns the element with the largest rate (the first of equals), and false for none.
func fastestBy[T any](xs []T, rate func(T) float64) (T, bool) {
	var best T
	if len(xs) == 0 {
		return best, false
	}
	best = xs[0]
	for _, x := range xs[1:] {
		if rate(x) > rate(best) {
			best = x
		}
	}
	return best, true
}
