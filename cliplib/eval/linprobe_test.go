package eval

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
)

// TestTrainLogRegMatchesTheHandSolvedOptimum checks the optimiser against a problem solved by hand:
// x = +1 (class 1) and x = -1 (class 0). By symmetry w₁ = -w₀ = a and the biases cancel, so the
// objective is C·2·log(1+e^{-2a}) + a², stationary where a = 2C/(1+e^{2a}). For a = 1/2 that is
// C = (1+e)/4: the fitted weights must then differ by exactly 1.
func TestTrainLogRegMatchesTheHandSolvedOptimum(t *testing.T) {
	X := [][]float32{{1}, {-1}}
	y := []int{1, 0}
	cases := []struct {
		C, wantDiff float64
	}{
		{(1 + math.E) / 4, 1},
		// a = 1: C = (1+e²)/2.
		{(1 + math.E*math.E) / 2, 2},
	}
	for _, c := range cases {
		m, err := TrainLogReg(X, y, 2, c.C, 0)
		if err != nil {
			t.Fatal(err)
		}
		if d := m.W[1][0] - m.W[0][0]; math.Abs(d-c.wantDiff) > 1e-4 {
			t.Errorf("C=%.4f: w1-w0 = %.6f, want %v", c.C, d, c.wantDiff)
		}
		if math.Abs(m.B[1]-m.B[0]) > 1e-4 {
			t.Errorf("C=%.4f: biases differ by %v, want 0 by symmetry", c.C, m.B[1]-m.B[0])
		}
	}
}

func TestLinearProbeSeparatesNoisyClusters(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	centres := [][]float32{{3, 0, 0}, {0, 3, 0}, {0, 0, 3}}
	gen := func(n int) ([][]float32, []int) {
		var X [][]float32
		var y []int
		for i := range n {
			c := i % 3
			x := make([]float32, 3)
			for j := range x {
				x[j] = centres[c][j] + float32(r.NormFloat64())*0.5
			}
			X, y = append(X, x), append(y, c)
		}
		return X, y
	}
	trX, trY := gen(150)
	teX, teY := gen(60)
	res, err := LinearProbe(trX, trY, teX, teY, 3, ProbeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Clusters 3√2 apart with σ = 0.5: the Bayes error is about 1e-5, so every test point is right.
	if res.Top1 != 1 || res.MeanPerClassRecall != 1 || res.ValAccuracy != 1 {
		t.Errorf("top-1 %v, recall %v, val %v; want 1", res.Top1, res.MeanPerClassRecall, res.ValAccuracy)
	}
	if len(res.Sweep) < 13 || res.C <= 0 {
		t.Errorf("sweep %d values, C %v", len(res.Sweep), res.C)
	}
	// Heavy regularisation (C = 1e-6) cannot separate anything: its validation accuracy is chance.
	if acc := res.Sweep[0][1]; acc > 0.5 {
		t.Errorf("C=1e-6 validation accuracy %v, want about 1/3", acc)
	}
}

func TestLinearProbeRefusesBadInput(t *testing.T) {
	X := [][]float32{{1}, {2}, {3}}
	cases := []struct {
		name    string
		y       []int
		classes int
		C       float64
		want    string
	}{
		{"label out of range", []int{0, 1, 5}, 2, 1, "label 5"},
		{"one class", []int{0, 0, 0}, 1, 1, "at least 2 classes"},
		{"bad C", []int{0, 1, 0}, 2, -1, "C must be positive"},
		{"count mismatch", []int{0, 1}, 2, 1, "3 feature rows for 2 labels"},
	}
	for _, c := range cases {
		if _, err := TrainLogReg(X, c.y, c.classes, c.C, 10); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
}

// TestTrainLogRegMatchesScikitLearn compares the fitted class probabilities with scikit-learn's
// LogisticRegression on the same data at three C (testdata/eval/logreg_sklearn.json, written by
// tools/eval/logreg_reference.py): same objective, so the same optimum.
func TestTrainLogRegMatchesScikitLearn(t *testing.T) {
	b, err := os.ReadFile("../../testdata/eval/logreg_sklearn.json")
	if err != nil {
		t.Fatal(err)
	}
	var ref struct {
		TrainX [][]float32 `json:"train_x"`
		TrainY []int       `json:"train_y"`
		TestX  [][]float32 `json:"test_x"`
		Fits   []struct {
			C     float64     `json:"C"`
			Proba [][]float64 `json:"proba"`
		} `json:"fits"`
	}
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	for _, f := range ref.Fits {
		m, err := TrainLogReg(ref.TrainX, ref.TrainY, 3, f.C, 10000)
		if err != nil {
			t.Fatal(err)
		}
		worst := 0.0
		for i, s := range m.Scores(ref.TestX) {
			p := softmax64(s)
			for c := range p {
				worst = math.Max(worst, math.Abs(p[c]-f.Proba[i][c]))
			}
		}
		t.Logf("C=%v: largest probability difference from scikit-learn %.2g", f.C, worst)
		if worst > 1e-4 {
			t.Errorf("C=%v: probabilities differ from scikit-learn's by up to %.2g", f.C, worst)
		}
	}
}

func softmax64(s []float32) []float64 {
	mx := float64(s[0])
	for _, v := range s {
		mx = math.Max(mx, float64(v))
	}
	out := make([]float64, len(s))
	sum := 0.0
	for i, v := range s {
		out[i] = math.Exp(float64(v) - mx)
		sum += out[i]
	}
	for i := range out {
		out[i] /= sum
	}
	return out
}
