package eval

import (
	"math"
	"strings"
	"testing"
)

func TestTopKAndMeanPerClassRecallHandChecked(t *testing.T) {
	// 5 samples, 3 classes. Predictions (argmax): 0, 1, 1, 2, 0. Labels: 0, 1, 2, 2, 2.
	scores := [][]float32{
		{0.9, 0.1, 0.0}, // label 0: rank 0
		{0.2, 0.7, 0.1}, // label 1: rank 0
		{0.1, 0.8, 0.5}, // label 2: rank 1
		{0.0, 0.1, 0.3}, // label 2: rank 0
		{0.6, 0.4, 0.4}, // label 2: tie with class 1 at 0.4, class 1 ranks first: rank 2
	}
	labels := []int{0, 1, 2, 2, 2}
	cases := []struct {
		k    int
		want float64
	}{{1, 3.0 / 5}, {2, 4.0 / 5}, {3, 1}}
	for _, c := range cases {
		got, err := TopKAccuracy(scores, labels, c.k)
		if err != nil || math.Abs(got-c.want) > 1e-12 {
			t.Errorf("top-%d = %v (%v), want %v", c.k, got, err, c.want)
		}
	}
	// Recall per class: class 0 1/1, class 1 1/1, class 2 1/3 -> mean 7/9.
	got, err := MeanPerClassRecall(scores, labels)
	if err != nil || math.Abs(got-7.0/9) > 1e-12 {
		t.Errorf("mean per-class recall = %v (%v), want 7/9", got, err)
	}
}

func TestMetricsRefuseInconsistentInput(t *testing.T) {
	cases := []struct {
		name   string
		scores [][]float32
		labels []int
		want   string
	}{
		{"no samples", nil, nil, "no samples"},
		{"count mismatch", [][]float32{{1, 2}}, []int{0, 1}, "1 score rows for 2 labels"},
		{"label out of range", [][]float32{{1, 2}}, []int{2}, "label 2, outside [0, 2)"},
		{"ragged", [][]float32{{1, 2}, {1}}, []int{0, 0}, "row 1 has 1 classes"},
	}
	for _, c := range cases {
		if _, err := TopKAccuracy(c.scores, c.labels, 1); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: top-k err %v, want %q", c.name, err, c.want)
		}
		if _, err := MeanPerClassRecall(c.scores, c.labels); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: recall err %v, want %q", c.name, err, c.want)
		}
	}
}

func TestRecallBothDirectionsHandChecked(t *testing.T) {
	// 3 images; captions 0,1 -> image 0; 2 -> image 1; 3,4 -> image 2.
	textImage := []int{0, 0, 1, 2, 2}
	sim := [][]float32{
		//  t0   t1   t2   t3   t4
		{0.1, 0.8, 0.9, 0.0, 0.0}, // image 0: best own caption t1 at rank 1
		{0.5, 0.0, 0.2, 0.3, 0.1}, // image 1: own t2 at rank 2 (after t0, t3)
		{0.0, 0.1, 0.0, 0.2, 0.9}, // image 2: own t4 at rank 0
	}
	r, err := Recall(sim, textImage, []int{1, 2, 5})
	if err != nil {
		t.Fatal(err)
	}
	// Image->text best ranks: 1, 2, 0 -> R@1 1/3, R@2 2/3, R@5 1.
	// Text->image (column ranks of the own image): t0: col (0.1,0.5,0) own 0 -> rank 1;
	// t1: (0.8,0,0.1) own 0 -> 0; t2: (0.9,0.2,0) own 1 -> 1; t3: (0,0.3,0.2) own 2 -> 1;
	// t4: (0,0.1,0.9) own 2 -> 0. R@1 2/5, R@2 5/5.
	want := RetrievalRecall{ImageToText: map[int]float64{1: 1.0 / 3, 2: 2.0 / 3, 5: 1}, TextToImage: map[int]float64{1: 0.4, 2: 1, 5: 1}}
	for _, k := range []int{1, 2, 5} {
		if math.Abs(r.ImageToText[k]-want.ImageToText[k]) > 1e-12 || math.Abs(r.TextToImage[k]-want.TextToImage[k]) > 1e-12 {
			t.Errorf("R@%d: i2t %v t2i %v, want %v %v", k, r.ImageToText[k], r.TextToImage[k], want.ImageToText[k], want.TextToImage[k])
		}
	}
	if _, err := Recall(sim, []int{0, 0, 0, 2, 2}, []int{1}); err == nil || !strings.Contains(err.Error(), "image 1 has no caption") {
		t.Errorf("uncaptioned image: %v", err)
	}
	if _, err := Recall(sim, []int{0, 0, 1, 2, 7}, []int{1}); err == nil || !strings.Contains(err.Error(), "image 7") {
		t.Errorf("bad caption owner: %v", err)
	}
}
