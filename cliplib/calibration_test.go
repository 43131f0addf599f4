package cliplib

import (
	"math"
	"testing"
)

func TestCalibrationByHand(t *testing.T) {
	var c Calibration
	// Item 1: confident and right (bin 9). Item 2: 0.6 on the wrong class (bin 6). Item 3: right
	// at 0.5 (bin 5).
	c.Add([]float64{0.95, 0.05}, 0)
	c.Add([]float64{0.4, 0.6}, 0)
	c.Add([]float64{0.5, 0.5}, 0)
	for _, tc := range []struct {
		name      string
		got, want float64
	}{
		{"N", float64(c.N()), 3},
		{"accuracy", c.Accuracy(), 2.0 / 3},
		{"NLL", c.NLL(), -(math.Log(0.95) + math.Log(0.4) + math.Log(0.5)) / 3},
		{"mean confidence", c.MeanConfidence(), (0.95 + 0.6 + 0.5) / 3},
		{"ECE", c.ECE(), (math.Abs(1-0.95) + math.Abs(0-0.6) + math.Abs(1-0.5)) / 3},
		{"mean entropy", c.MeanEntropy(), (Entropy64([]float64{0.95, 0.05}) + Entropy64([]float64{0.4, 0.6}) + math.Ln2) / 3},
	} {
		if math.Abs(tc.got-tc.want) > 1e-12 {
			t.Errorf("%s = %v, want %v", tc.name, tc.got, tc.want)
		}
	}
	var empty Calibration
	if empty.Accuracy() != 0 || empty.ECE() != 0 || empty.NLL() != 0 {
		t.Error("an empty Calibration is not all zeros")
	}
}

func TestSoftmaxAtAndEntropy(t *testing.T) {
	p := SoftmaxAt([]float32{0.3, 0.3, 0.3}, 0.01)
	for _, v := range p {
		if math.Abs(v-1.0/3) > 1e-12 {
			t.Fatalf("SoftmaxAt of equal sims = %v, want uniform", p)
		}
	}
	if h := Entropy64(p); math.Abs(h-math.Log(3)) > 1e-12 {
		t.Errorf("Entropy64(uniform 3) = %v, want ln 3", h)
	}
	// Dividing by t = 0.5 doubles the logit gap: p = softmax(0, 2).
	q := SoftmaxAt([]float32{0, 1}, 0.5)
	if want := 1 / (1 + math.Exp(-2)); math.Abs(q[1]-want) > 1e-12 {
		t.Errorf("SoftmaxAt([0 1], 0.5)[1] = %v, want %v", q[1], want)
	}
	if Argmax([]float64{0.2, 0.5, 0.5}) != 1 {
		t.Error("Argmax does not take the first of equal maxima")
	}
}

func TestArgmaxPicksFirstLargestAndSkipsNaN(t *testing.T) {
	nan := float32(math.NaN())
	for _, tc := range []struct {
		name string
		row  []float32
		want int
	}{
		{"empty", nil, -1},
		{"single", []float32{3}, 0},
		{"last", []float32{1, 2, 3}, 2},
		{"tie keeps first", []float32{5, 1, 5}, 0},
		{"negative", []float32{-3, -1, -2}, 1},
		{"NaN first skipped", []float32{nan, 1, 0}, 1},
		{"all NaN", []float32{nan, nan}, 0},
	} {
		if got := Argmax(tc.row); got != tc.want {
			t.Errorf("%s: Argmax(%v) = %d, want %d", tc.name, tc.row, got, tc.want)
		}
	}
}
