package analysis

import (
	"math"
	"reflect"
	"strings"
	"testing"
)

func near(a, b, tol float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	return math.Abs(a-b) <= tol
}

func TestAccuracyCountsMatchesAndRejectsBadInput(t *testing.T) {
	for _, tc := range []struct {
		name        string
		pred, truth []int
		want        float64
		err         string
	}{
		{"all right", []int{0, 1, 2}, []int{0, 1, 2}, 1, ""},
		{"one of four", []int{0, 0, 0, 0}, []int{0, 1, 2, 3}, 0.25, ""},
		{"none", []int{1}, []int{0}, 0, ""},
		{"length mismatch", []int{1, 2}, []int{1}, 0, "2 predictions but 1 labels"},
		{"empty", nil, nil, 0, "no items"},
	} {
		got, err := Accuracy(tc.pred, tc.truth)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: err = %v, want one containing %q", tc.name, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s: Accuracy = %g, %v; want %g", tc.name, got, err, tc.want)
		}
	}
}

func TestTopKAndTopKAccuracy(t *testing.T) {
	scores := [][]float32{{0.1, 0.7, 0.2}, {0.5, 0.3, 0.2}, {0.2, 0.3, 0.5}}
	if got := TopK(scores[0], 2); !reflect.DeepEqual(got, []int{1, 2}) {
		t.Errorf("TopK = %v, want [1 2]", got)
	}
	if got := TopK(scores[0], 10); len(got) != 3 {
		t.Errorf("TopK with k > len: %v, want 3 indices", got)
	}
	truth := []int{2, 0, 0}
	for _, tc := range []struct {
		k    int
		want float64
	}{{1, 1.0 / 3}, {2, 2.0 / 3}, {3, 1}} {
		got, err := TopKAccuracy(scores, truth, tc.k)
		if err != nil || !near(got, tc.want, 1e-12) {
			t.Errorf("TopKAccuracy(k=%d) = %g, %v; want %g", tc.k, got, err, tc.want)
		}
	}
	if _, err := TopKAccuracy(scores, []int{0, 0, 7}, 1); err == nil || !strings.Contains(err.Error(), "label 7 of item 2") {
		t.Errorf("bad label: err = %v", err)
	}
	if _, err := TopKAccuracy(scores, truth, 0); err == nil {
		t.Errorf("k=0 accepted")
	}
}

func TestConfusionMatrixAndPerClassAccuracy(t *testing.T) {
	truth := []int{0, 0, 0, 1, 1, 2}
	pred := []int{0, 0, 1, 1, 0, 2}
	cm, err := ConfusionMatrix(truth, pred, 4)
	if err != nil {
		t.Fatal(err)
	}
	want := [][]int{{2, 1, 0, 0}, {1, 1, 0, 0}, {0, 0, 1, 0}, {0, 0, 0, 0}}
	if !reflect.DeepEqual(cm, want) {
		t.Fatalf("cm = %v, want %v", cm, want)
	}
	acc := PerClassAccuracy(cm)
	wantAcc := []float64{2.0 / 3, 0.5, 1, math.NaN()}
	for i := range wantAcc {
		if !near(acc[i], wantAcc[i], 1e-12) {
			t.Errorf("per-class accuracy[%d] = %g, want %g", i, acc[i], wantAcc[i])
		}
	}
	if got := MeanIgnoringNaN(acc); !near(got, (2.0/3+0.5+1)/3, 1e-12) {
		t.Errorf("mean per-class accuracy = %g", got)
	}
	norm := RowNormalize(cm)
	if !near(norm[0][1], 1.0/3, 1e-12) || norm[3][3] != 0 {
		t.Errorf("RowNormalize = %v", norm)
	}
	top := TopConfusions(cm, 5)
	if !reflect.DeepEqual(top, []Confusion{{True: 0, Pred: 1, Count: 1}, {True: 1, Pred: 0, Count: 1}}) {
		t.Errorf("TopConfusions = %v", top)
	}
	for _, tc := range []struct {
		name        string
		truth, pred []int
		n           int
		err         string
	}{
		{"length", []int{0}, []int{0, 1}, 2, "1 labels but 2 predictions"},
		{"label range", []int{0, 5}, []int{0, 1}, 2, "item 1 has label 5"},
		{"negative prediction", []int{0}, []int{-1}, 2, "prediction -1"},
		{"no classes", nil, nil, 0, "0 classes"},
	} {
		if _, err := ConfusionMatrix(tc.truth, tc.pred, tc.n); err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.err)
		}
	}
}

func TestStratifiedTakesFirstItemsOfEachClass(t *testing.T) {
	labels := []int{2, 0, 0, 1, 2, 0, -1, 1, 9, 2}
	for _, tc := range []struct {
		perClass int
		want     []int
	}{
		{1, []int{0, 1, 3}},
		{2, []int{0, 1, 2, 3, 4, 7}},
		{0, nil},
	} {
		if got := Stratified(labels, 3, tc.perClass); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Stratified(perClass=%d) = %v, want %v", tc.perClass, got, tc.want)
		}
	}
}

func TestOrderRanksDescendingWithNaNLast(t *testing.T) {
	got := Order([]float64{0.2, math.NaN(), 0.9, 0.2, 0.5})
	if want := []int{2, 4, 0, 3, 1}; !reflect.DeepEqual(got, want) {
		t.Errorf("Order = %v, want %v", got, want)
	}
}

func TestRanksRecallAndMRR(t *testing.T) {
	sim := [][]float32{
		{0.9, 0.1, 0.3}, // relevant 0: rank 1
		{0.9, 0.1, 0.3}, // relevant 1: rank 3
		{0.5, 0.5, 0.2}, // relevant 1, tie with 0: rank 2 (ties count against)
		{0.1, 0.2, 0.3}, // no relevant item
	}
	ranks, err := Ranks(sim, []int{0, 1, 1, -1})
	if err != nil {
		t.Fatal(err)
	}
	if want := []int{1, 3, 2, 0}; !reflect.DeepEqual(ranks, want) {
		t.Fatalf("ranks = %v, want %v", ranks, want)
	}
	for _, tc := range []struct {
		k    int
		want float64
	}{{1, 1.0 / 3}, {2, 2.0 / 3}, {3, 1}} {
		if got := RecallAtK(ranks, tc.k); !near(got, tc.want, 1e-12) {
			t.Errorf("Recall@%d = %g, want %g", tc.k, got, tc.want)
		}
	}
	if got := MeanReciprocalRank(ranks); !near(got, (1+1.0/3+0.5)/3, 1e-12) {
		t.Errorf("MRR = %g", got)
	}
	if !math.IsNaN(RecallAtK([]int{0, 0}, 1)) || !math.IsNaN(MeanReciprocalRank(nil)) {
		t.Errorf("no scored query should give NaN")
	}
	if _, err := Ranks(sim, []int{0, 1, 3, -1}); err == nil || !strings.Contains(err.Error(), "query 2") {
		t.Errorf("out-of-range relevant item: err = %v", err)
	}
	if _, err := Ranks(sim, []int{0}); err == nil {
		t.Errorf("length mismatch accepted")
	}
}

func TestEntropyOfKnownDistributions(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    []float32
		want float64
	}{
		{"one-hot", []float32{0, 1, 0}, 0},
		{"uniform 4", []float32{0.25, 0.25, 0.25, 0.25}, math.Log(4)},
		{"two-way", []float32{0.5, 0.5}, math.Ln2},
	} {
		if got := Entropy(tc.p); !near(got, tc.want, 1e-6) {
			t.Errorf("%s: Entropy = %g, want %g", tc.name, got, tc.want)
		}
	}
}

func TestSoftmaxTemperatureSharpensAndFlattens(t *testing.T) {
	sims := []float32{0.30, 0.20, 0.25}
	cold := SoftmaxTemperature(sims, 0.001)
	if !near(cold[0], 1, 1e-9) {
		t.Errorf("T→0 should be one-hot on the largest: %v", cold)
	}
	hot := SoftmaxTemperature(sims, 1000)
	for _, v := range hot {
		if !near(v, 1.0/3, 1e-4) {
			t.Errorf("T→∞ should be uniform: %v", hot)
		}
	}
	// T = 0.01 is CLIP's scale 100: p ∝ exp(100·s).
	p := SoftmaxTemperature(sims, 0.01)
	z := math.Exp(30) + math.Exp(20) + math.Exp(25)
	if !near(p[2], math.Exp(25)/z, 1e-6) { // float32 inputs
		t.Errorf("T=0.01: p = %v", p)
	}
}

func TestTemperatureSweepMetrics(t *testing.T) {
	// Two items, two classes: item 0 is right, item 1 wrong.
	sims := [][]float32{{0.3, 0.1}, {0.3, 0.1}}
	truth := []int{0, 1}
	pts, err := TemperatureSweep(sims, truth, []float64{0.1, 1e6})
	if err != nil {
		t.Fatal(err)
	}
	// T=0.1: logits 3 and 1, p0 = 1/(1+e^-2).
	p0 := 1 / (1 + math.Exp(-2))
	a := pts[0]
	if !near(a.MeanConfidence, p0, 1e-6) || a.Accuracy != 0.5 { // float32 inputs: 1e-6
		t.Errorf("T=0.1: %+v", a)
	}
	wantH := -(p0*math.Log(p0) + (1-p0)*math.Log(1-p0))
	if !near(a.MeanEntropy, wantH, 1e-6) {
		t.Errorf("entropy %g, want %g", a.MeanEntropy, wantH)
	}
	wantNLL := (-math.Log(p0) - math.Log(1-p0)) / 2
	if !near(a.NLL, wantNLL, 1e-6) {
		t.Errorf("NLL %g, want %g", a.NLL, wantNLL)
	}
	// Both items in one bin with confidence p0 and accuracy 0.5.
	if !near(a.ECE, math.Abs(0.5-p0), 1e-6) {
		t.Errorf("ECE %g, want %g", a.ECE, math.Abs(0.5-p0))
	}
	// Very hot: uniform, entropy ln 2, NLL ln 2.
	b := pts[1]
	if !near(b.MeanEntropy, math.Ln2, 1e-6) || !near(b.NLL, math.Ln2, 1e-6) {
		t.Errorf("T=1e6: %+v", b)
	}
	best, ok := BestByNLL(pts)
	if !ok || best.Temperature != 1e6 {
		t.Errorf("BestByNLL = %+v (half the items are wrong, so the flattest softmax wins)", best)
	}
	for _, tc := range []struct {
		name  string
		truth []int
		temps []float64
		err   string
	}{
		{"bad temperature", truth, []float64{0}, "temperature 0"},
		{"bad label", []int{0, 2}, []float64{1}, "label 2 of item 1"},
		{"length", []int{0}, []float64{1}, "2 similarity rows but 1 labels"},
	} {
		if _, err := TemperatureSweep(sims, tc.truth, tc.temps); err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.err)
		}
	}
}

func TestLogSpaceEndpointsAndRatio(t *testing.T) {
	xs := LogSpace(0.001, 10, 5)
	want := []float64{0.001, 0.01, 0.1, 1, 10}
	for i := range want {
		if !near(xs[i], want[i], want[i]*1e-9) {
			t.Errorf("LogSpace[%d] = %g, want %g", i, xs[i], want[i])
		}
	}
	if len(LogSpace(1, 2, 0)) != 0 || LogSpace(3, 9, 1)[0] != 3 {
		t.Errorf("degenerate LogSpace")
	}
}

func TestPCAFindsTheDirectionOfLargestVariance(t *testing.T) {
	// Points on the line y = 2x (plus a small z wobble): the first component is along (1, 2, 0)/√5.
	x := [][]float32{{-2, -4, 0.1}, {-1, -2, -0.1}, {0, 0, 0.1}, {1, 2, -0.1}, {2, 4, 0}}
	p, err := PCA(x, 2)
	if err != nil {
		t.Fatal(err)
	}
	if p.Explained[0] < 0.99 || p.Explained[0]+p.Explained[1] > 1+1e-9 {
		t.Errorf("explained = %v", p.Explained)
	}
	// Coordinates along the first component are ±|v|: (2, 4) projects to 2√5, with the sign fixed so
	// the largest coefficient (the y one) is positive.
	if !near(p.Points[4][0], 2*math.Sqrt(5), 1e-3) || !near(p.Points[0][0], -2*math.Sqrt(5), 1e-3) {
		t.Errorf("first coordinates %v, %v; want ±%g", p.Points[0], p.Points[4], 2*math.Sqrt(5))
	}
	for _, tc := range []struct {
		name string
		x    [][]float32
		k    int
		err  string
	}{
		{"one row", [][]float32{{1, 2}}, 1, "need at least 2"},
		{"k too big", x, 4, "k=4"},
		{"ragged", [][]float32{{1, 2}, {1}}, 1, "row 1 has 1 values"},
		{"NaN", [][]float32{{1, 2}, {float32(math.NaN()), 1}}, 1, "non-finite"},
	} {
		if _, err := PCA(tc.x, tc.k); err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.err)
		}
	}
}

func TestClassSimilarityIntraAndInter(t *testing.T) {
	// Class 0: two identical unit vectors; class 1: one orthogonal vector and one at 60° from it.
	s := float32(math.Sqrt(3) / 2)
	embs := [][]float32{{1, 0, 0}, {1, 0, 0}, {0, 1, 0}, {0, 0.5, s}}
	m, err := ClassSimilarity(embs, []int{0, 0, 1, 1}, 3)
	if err != nil {
		t.Fatal(err)
	}
	if !near(m[0][0], 1, 1e-6) || !near(m[1][1], 0.5, 1e-6) || !near(m[0][1], 0, 1e-6) || !near(m[1][0], 0, 1e-6) {
		t.Errorf("m = %v", m)
	}
	if !math.IsNaN(m[2][2]) || !math.IsNaN(m[0][2]) {
		t.Errorf("empty class should give NaN: %v", m)
	}
	intra, inter := IntraInter(m)
	if !near(intra, 0.75, 1e-6) || !near(inter, 0, 1e-6) {
		t.Errorf("intra %g inter %g, want 0.75 and 0", intra, inter)
	}
	if _, err := ClassSimilarity(embs, []int{0, 0, 1, 3}, 3); err == nil || !strings.Contains(err.Error(), "label 3 of item 3") {
		t.Errorf("bad label: %v", err)
	}
}

func TestMeanSimilarityWithAndWithoutDiagonal(t *testing.T) {
	sim := [][]float32{{1, 0.2}, {0.4, 1}}
	if got := MeanSimilarity(sim, false); !near(got, 0.65, 1e-6) {
		t.Errorf("mean = %g", got)
	}
	if got := MeanSimilarity(sim, true); !near(got, 0.3, 1e-6) {
		t.Errorf("off-diagonal mean = %g", got)
	}
	if !math.IsNaN(MeanSimilarity(nil, false)) {
		t.Errorf("empty should be NaN")
	}
}
