package cliplib

import "math"

// SoftmaxAt returns softmax(sims / t) in float64: the class probabilities CLIP gives when its
// cosine similarities sims [K] are divided by the temperature t (CLIP's learned t is 1/LogitScale,
// 0.01 for the published weights). t must be > 0.
func SoftmaxAt(sims []float32, t float64) []float64 {
	out := make([]float64, len(sims))
	if len(sims) == 0 {
		return out
	}
	m := math.Inf(-1)
	for _, v := range sims {
		m = math.Max(m, float64(v)/t)
	}
	sum := 0.0
	for i, v := range sims {
		out[i] = math.Exp(float64(v)/t - m)
		sum += out[i]
	}
	for i := range out {
		out[i] /= sum
	}
	return out
}

// Entropy64 returns the Shannon entropy −Σ p·ln p of a probability vector p [K], in nats (0 for a
// one-hot vector, ln K for the uniform one). Zero entries contribute 0.
func Entropy64(p []float64) float64 {
	h := 0.0
	for _, v := range p {
		if v > 0 {
			h -= v * math.Log(v)
		}
	}
	return h
}

// Argmax returns the index of the largest value of row (the first one on ties), or -1 when row
// is empty. NaN values are never chosen unless every value is NaN (then 0). It is the one argmax
// of the project: predictions, accuracy, calibration and the precision comparison all use it.
func Argmax[F float32 | float64](row []F) int {
	if len(row) == 0 {
		return -1
	}
	best := 0
	for i, v := range row {
		if v > row[best] || (row[best] != row[best] && v == v) {
			best = i
		}
	}
	return best
}

// CalibrationBins is the number of equal-width confidence bins of Calibration.ECE.
const CalibrationBins = 10

// Calibration accumulates how well a classifier's probabilities match its accuracy, one labelled
// item at a time: accuracy, mean negative log-likelihood of the true class, and expected
// calibration error over CalibrationBins equal-width confidence bins (Guo et al., "On
// Calibration of Modern Neural Networks", 2017). The zero value is ready to use.
type Calibration struct {
	n, correct       int
	nll              float64
	binConf, binAcc  [CalibrationBins]float64
	sumConf, entropy float64
}

// Add records one item with class probabilities p [K] and true class label (0 <= label < K).
func (c *Calibration) Add(p []float64, label int) {
	best := Argmax(p)
	conf := p[best]
	hit := 0.0
	if best == label {
		hit = 1
		c.correct++
	}
	c.n++
	c.nll -= math.Log(math.Max(p[label], math.SmallestNonzeroFloat64))
	c.sumConf += conf
	c.entropy += Entropy64(p)
	b := min(int(conf*CalibrationBins), CalibrationBins-1)
	c.binConf[b] += conf
	c.binAcc[b] += hit
}

// N is the number of items added.
func (c *Calibration) N() int { return c.n }

// Accuracy is the fraction of items whose most probable class is the true one (0 when empty).
func (c *Calibration) Accuracy() float64 { return c.mean(float64(c.correct)) }

// NLL is the mean negative log-likelihood −ln p(true class), in nats.
func (c *Calibration) NLL() float64 { return c.mean(c.nll) }

// MeanConfidence is the mean of the largest probability per item.
func (c *Calibration) MeanConfidence() float64 { return c.mean(c.sumConf) }

// MeanEntropy is the mean softmax entropy per item, in nats.
func (c *Calibration) MeanEntropy() float64 { return c.mean(c.entropy) }

// ECE is the expected calibration error Σ_b (n_b/N)·|accuracy_b − confidence_b|.
func (c *Calibration) ECE() float64 {
	e := 0.0
	for b := range CalibrationBins {
		e += math.Abs(c.binAcc[b] - c.binConf[b])
	}
	return c.mean(e)
}

func (c *Calibration) mean(sum float64) float64 {
	if c.n == 0 {
		return 0
	}
	return sum / float64(c.n)
}
