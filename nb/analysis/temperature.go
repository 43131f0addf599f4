package analysis

import (
	"fmt"
	"math"

	"github.com/clipkit/clipkit/cliplib"
)

// Entropy returns the Shannon entropy −Σ p·ln p of a probability vector, in nats (0 for a one-hot
// vector, ln K for the uniform distribution over K classes). Zero entries contribute 0.
func Entropy(p []float32) float64 {
	h := 0.0
	for _, v := range p {
		if v > 0 {
			h -= float64(v) * math.Log(float64(v))
		}
	}
	return h
}

// SoftmaxTemperature returns softmax(sims / t) in float64 (cliplib.SoftmaxAt): the class
// probabilities CLIP gives when its cosine similarities are divided by the temperature t. t must
// be > 0.
func SoftmaxTemperature(sims []float32, t float64) []float64 { return cliplib.SoftmaxAt(sims, t) }

// TemperaturePoint summarises the softmax of a set of items at one temperature.
type TemperaturePoint struct {
	// Temperature divides the cosine similarities before the softmax.
	Temperature float64
	// MeanEntropy is the mean softmax entropy per item, in nats (at most ln K).
	MeanEntropy float64
	// MeanConfidence is the mean of the largest probability per item.
	MeanConfidence float64
	// Accuracy is the fraction of items whose most probable class is the true one (it does not
	// depend on the temperature; it is here for reference).
	Accuracy float64
	// NLL is the mean negative log-likelihood −ln p(true class), in nats.
	NLL float64
	// ECE is the expected calibration error over 10 equal-width confidence bins: Σ_b (n_b/N)·
	// |accuracy_b − confidence_b|.
	ECE float64
}

// TemperatureSweep computes a TemperaturePoint for each temperature, from cosine similarities
// sims [N][K] of N items with K classes and the true class of each item. Temperatures must be > 0.
func TemperatureSweep(sims [][]float32, truth []int, temps []float64) ([]TemperaturePoint, error) {
	if len(sims) != len(truth) {
		return nil, fmt.Errorf("analysis.TemperatureSweep: %d similarity rows but %d labels", len(sims), len(truth))
	}
	if len(sims) == 0 {
		return nil, fmt.Errorf("analysis.TemperatureSweep: no items")
	}
	for i, row := range sims {
		if truth[i] < 0 || truth[i] >= len(row) {
			return nil, fmt.Errorf("analysis.TemperatureSweep: label %d of item %d is not a class index in [0, %d)", truth[i], i, len(row))
		}
	}
	out := make([]TemperaturePoint, len(temps))
	for ti, t := range temps {
		if !(t > 0) || math.IsInf(t, 0) {
			return nil, fmt.Errorf("analysis.TemperatureSweep: temperature %g, want a finite value > 0", t)
		}
		var c cliplib.Calibration
		for i, row := range sims {
			c.Add(cliplib.SoftmaxAt(row, t), truth[i])
		}
		out[ti] = TemperaturePoint{Temperature: t, MeanEntropy: c.MeanEntropy(), MeanConfidence: c.MeanConfidence(),
			Accuracy: c.Accuracy(), NLL: c.NLL(), ECE: c.ECE()}
	}
	return out, nil
}

// BestByNLL returns the point with the lowest NLL (the first on ties): the temperature that
// calibrates these items best. It returns false for an empty slice.
func BestByNLL(points []TemperaturePoint) (TemperaturePoint, bool) {
	if len(points) == 0 {
		return TemperaturePoint{}, false
	}
	best := points[0]
	for _, p := range points[1:] {
		if p.NLL < best.NLL {
			best = p
		}
	}
	return best, true
}

// LogSpace returns n values from lo to hi (both > 0) evenly spaced on a log scale.
func LogSpace(lo, hi float64, n int) []float64 {
	if n <= 0 {
		return nil
	}
	if n == 1 {
		return []float64{lo}
	}
	out := make([]float64, n)
	a, b := math.Log(lo), math.Log(hi)
	for i := range out {
		out[i] = math.Exp(a + (b-a)*float64(i)/float64(n-1))
	}
	out[0], out[n-1] = lo, hi
	return out
}
