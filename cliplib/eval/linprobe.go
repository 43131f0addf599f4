package eval

import (
	"fmt"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/optimize"
)

// LogReg is a multinomial logistic regression: class scores W·x + B.
type LogReg struct {
	W [][]float64 // [classes][dim]
	B []float64   // [classes]
	// C is the inverse regularisation strength it was trained with (scikit-learn's C).
	C float64
}

// Scores returns W·x + B for each row of X: [len(X)][classes].
func (m *LogReg) Scores(X [][]float32) [][]float32 {
	out := make([][]float32, len(X))
	for i, x := range X {
		row := make([]float32, len(m.B))
		for c := range m.B {
			s := m.B[c]
			for j, v := range x {
				s += m.W[c][j] * float64(v)
			}
			row[c] = float32(s)
		}
		out[i] = row
	}
	return out
}

func checkTrain(X [][]float32, y []int, classes int) (int, error) {
	if len(X) == 0 || len(X) != len(y) {
		return 0, fmt.Errorf("linear probe: %d feature rows for %d labels", len(X), len(y))
	}
	if classes < 2 {
		return 0, fmt.Errorf("linear probe: need at least 2 classes, got %d", classes)
	}
	d := len(X[0])
	for i := range X {
		if len(X[i]) != d {
			return 0, fmt.Errorf("linear probe: feature row %d has %d values, row 0 has %d", i, len(X[i]), d)
		}
		if y[i] < 0 || y[i] >= classes {
			return 0, fmt.Errorf("linear probe: sample %d has label %d, outside [0, %d)", i, y[i], classes)
		}
	}
	return d, nil
}

// TrainLogReg fits an L2-regularised multinomial logistic regression by L-BFGS (gonum), minimising
// scikit-learn's objective C·Σᵢ CE(xᵢ, yᵢ) + ½‖W‖² (the bias is not penalised), divided by C·N.
// maxIter bounds the L-BFGS iterations (scikit-learn's max_iter; the CLIP paper used 1000).
func TrainLogReg(X [][]float32, y []int, classes int, C float64, maxIter int) (*LogReg, error) {
	d, err := checkTrain(X, y, classes)
	if err != nil {
		return nil, err
	}
	if !(C > 0) || math.IsInf(C, 0) {
		return nil, fmt.Errorf("linear probe: C must be positive and finite, got %v", C)
	}
	n := len(X)
	reg := 1 / (C * float64(n))
	nw := classes * d
	logits := make([]float64, classes)
	fg := func(grad, theta []float64) float64 {
		if grad != nil {
			clear(grad)
		}
		loss := 0.0
		for i, x := range X {
			for c := range classes {
				s := theta[nw+c]
				w := theta[c*d : (c+1)*d]
				for j, v := range x {
					s += w[j] * float64(v)
				}
				logits[c] = s
			}
			mx := logits[0]
			for _, v := range logits {
				mx = max(mx, v)
			}
			sum := 0.0
			for c := range logits {
				logits[c] = math.Exp(logits[c] - mx)
				sum += logits[c]
			}
			loss += math.Log(sum) - math.Log(logits[y[i]])
			if grad != nil {
				for c := range classes {
					g := logits[c] / sum
					if c == y[i] {
						g--
					}
					g /= float64(n)
					gw := grad[c*d : (c+1)*d]
					for j, v := range x {
						gw[j] += g * float64(v)
					}
					grad[nw+c] += g
				}
			}
		}
		loss /= float64(n)
		for k := range nw {
			loss += 0.5 * reg * theta[k] * theta[k]
			if grad != nil {
				grad[k] += reg * theta[k]
			}
		}
		return loss
	}
	p := optimize.Problem{
		Func: func(theta []float64) float64 { return fg(nil, theta) },
		Grad: func(grad, theta []float64) { fg(grad, theta) },
	}
	if maxIter <= 0 {
		maxIter = 1000
	}
	res, err := optimize.Minimize(p, make([]float64, nw+classes), &optimize.Settings{MajorIterations: maxIter, GradientThreshold: 1e-7}, &optimize.LBFGS{})
	if err != nil && res == nil {
		return nil, fmt.Errorf("linear probe: L-BFGS: %w", err)
	}
	// An iteration limit is not an error (scikit-learn warns and keeps the iterate); a failed line
	// search near the optimum leaves a usable iterate as well.
	m := &LogReg{C: C, B: append([]float64(nil), res.X[nw:]...)}
	for c := range classes {
		m.W = append(m.W, append([]float64(nil), res.X[c*d:(c+1)*d]...))
	}
	return m, nil
}

// ProbeResult is a linear probe's outcome.
type ProbeResult struct {
	// C is the regularisation chosen on the validation split.
	C float64
	// ValAccuracy is the validation top-1 accuracy at C.
	ValAccuracy float64
	// Sweep is the validation accuracy of every C tried, in order.
	Sweep [][2]float64
	// Top1, Top5 and MeanPerClassRecall are measured on the test set with the model retrained on
	// the whole training set at C.
	Top1, Top5, MeanPerClassRecall float64
}

// ProbeOptions tune LinearProbe.
type ProbeOptions struct {
	// ValFraction of the training set is held out to choose C (default 0.2).
	ValFraction float64
	// Cs are the values of C swept first (default 10^-6 … 10^6, one per decade, as the range of the
	// CLIP paper's sweep); the best is then refined by halving the step in log space twice.
	Cs []float64
	// MaxIter bounds L-BFGS iterations per fit (default 1000).
	MaxIter int
	// Seed shuffles the training set before the split (default 0: a fixed permutation).
	Seed uint64
}

// LinearProbe trains on (trainX, trainY), chooses C on a held-out part of the training set, retrains
// on all of it and measures the test set.
func LinearProbe(trainX [][]float32, trainY []int, testX [][]float32, testY []int, classes int, opt ProbeOptions) (*ProbeResult, error) {
	if _, err := checkTrain(trainX, trainY, classes); err != nil {
		return nil, err
	}
	if _, err := checkTrain(testX, testY, classes); err != nil {
		return nil, fmt.Errorf("test set: %w", err)
	}
	if opt.ValFraction == 0 {
		opt.ValFraction = 0.2
	}
	if opt.ValFraction <= 0 || opt.ValFraction >= 1 {
		return nil, fmt.Errorf("linear probe: validation fraction %v outside (0, 1)", opt.ValFraction)
	}
	if len(opt.Cs) == 0 {
		for e := -6; e <= 6; e++ {
			opt.Cs = append(opt.Cs, math.Pow(10, float64(e)))
		}
	}
	perm := rand.New(rand.NewPCG(opt.Seed, 0x5eed)).Perm(len(trainX))
	nVal := int(math.Round(opt.ValFraction * float64(len(trainX))))
	if nVal < 1 || nVal >= len(trainX) {
		return nil, fmt.Errorf("linear probe: %d training samples are too few to hold out a validation split", len(trainX))
	}
	var tx, vx [][]float32
	var ty, vy []int
	for k, i := range perm {
		if k < nVal {
			vx, vy = append(vx, trainX[i]), append(vy, trainY[i])
		} else {
			tx, ty = append(tx, trainX[i]), append(ty, trainY[i])
		}
	}
	res := &ProbeResult{ValAccuracy: -1}
	tried := map[float64]float64{}
	try := func(C float64) error {
		if _, ok := tried[C]; ok {
			return nil
		}
		m, err := TrainLogReg(tx, ty, classes, C, opt.MaxIter)
		if err != nil {
			return err
		}
		acc, err := TopKAccuracy(m.Scores(vx), vy, 1)
		if err != nil {
			return err
		}
		tried[C] = acc
		res.Sweep = append(res.Sweep, [2]float64{C, acc})
		// Ties go to the smaller C (the stronger regulariser).
		if acc > res.ValAccuracy || (acc == res.ValAccuracy && C < res.C) {
			res.C, res.ValAccuracy = C, acc
		}
		return nil
	}
	for _, C := range opt.Cs {
		if err := try(C); err != nil {
			return nil, err
		}
	}
	step := 0.5
	if len(opt.Cs) > 1 {
		step = math.Abs(math.Log10(opt.Cs[1]/opt.Cs[0])) / 2
	}
	for range 2 {
		best := res.C
		for _, C := range []float64{best * math.Pow(10, -step), best * math.Pow(10, step)} {
			if err := try(C); err != nil {
				return nil, err
			}
		}
		step /= 2
	}
	m, err := TrainLogReg(trainX, trainY, classes, res.C, opt.MaxIter)
	if err != nil {
		return nil, err
	}
	if res.Top1, res.Top5, res.MeanPerClassRecall, err = classMetrics(m.Scores(testX), testY, classes); err != nil {
		return nil, err
	}
	return res, nil
}
