package plots

import (
	"fmt"
	"math"
)

// Align lays items out along keys (a chart's categories): value i is value(item) for the last item
// whose key(item) equals keys[i], NaN (a gap in the chart) where no item has that key. The result
// has len(keys) values.
func Align[K comparable, T any](keys []K, items []T, key func(T) K, value func(T) float64) []float64 {
	out := make([]float64, len(keys))
	for i, k := range keys {
		out[i] = math.NaN()
		for _, it := range items {
			if key(it) == k {
				out[i] = value(it)
			}
		}
	}
	return out
}

// Labels formats each of xs with fmt.Sprint, e.g. batch sizes as a chart's categories.
func Labels[T any](xs []T) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = fmt.Sprint(x)
	}
	return out
}

// Flat lists the values of all series, in order.
func Flat(series []Series) []float64 {
	var out []float64
	for _, s := range series {
		out = append(out, s.Values...)
	}
	return out
}

// Float64s converts a [rows][cols] float32 matrix (similarities, say) to float64 for HeatMap.
func Float64s(m [][]float32) [][]float64 {
	out := make([][]float64, len(m))
	for i, row := range m {
		out[i] = make([]float64, len(row))
		for j, v := range row {
			out[i][j] = float64(v)
		}
	}
	return out
}

// LogAxis puts a chart's value axis on a log scale starting at the power of ten below the smallest
// positive of values, for data spanning orders of magnitude; axis is "xAxis" for horizontal bars
// and "yAxis" for scatter plots and vertical bars. Bars on a log axis grow from 1, so use it only
// where every value is above 1. Without a positive value, or when the chart has no such axis, the
// chart is returned unchanged.
func LogAxis(c *Chart, axis string, values ...float64) *Chart {
	lo := math.Inf(1)
	for _, v := range values {
		if v > 0 {
			lo = math.Min(lo, v)
		}
	}
	if axes, ok := c.Option[axis].([]any); ok && !math.IsInf(lo, 1) {
		for _, a := range axes {
			if m, ok := a.(map[string]any); ok {
				m["type"], m["min"], m["max"] = "log", math.Pow(10, math.Floor(math.Log10(lo))), nil
			}
		}
	}
	return c
}
