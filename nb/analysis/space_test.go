package analysis

import (
	"math"
	"slices"
	"testing"
)

func TestModalityStats(t *testing.T) {
	// Two classes on two axes; the texts sit on the diagonal between them.
	imgs := [][]float32{{1, 0}, {1, 0}, {0, 1}}
	labels := []int{0, 0, 1}
	s := float32(math.Sqrt(0.5))
	texts := [][]float32{{1, 0}, {s, s}}
	m, err := ModalityStats(imgs, labels, texts)
	if err != nil {
		t.Fatal(err)
	}
	near := func(a, b float64) bool { return math.Abs(a-b) < 1e-6 }
	tests := []struct {
		name      string
		got, want float64
	}{
		{"Intra", m.Intra, 1},            // class 0: the one pair is identical; class 1 has no pair (NaN, ignored)
		{"Inter", m.Inter, 0},            // orthogonal classes
		{"ImgImg", m.ImgImg, 1.0 / 3},    // pairs (0,1)=1, (0,2)=0, (1,2)=0
		{"TxtTxt", m.TxtTxt, float64(s)}, // one pair
		{"ImgOwnTxt", m.ImgOwnTxt, (1 + 1 + float64(s)) / 3},
		{"ImgTxt", m.ImgTxt, (1 + float64(s) + 1 + float64(s) + 0 + float64(s)) / 6},
	}
	for _, tt := range tests {
		if !near(tt.got, tt.want) {
			t.Errorf("%s = %v, want %v", tt.name, tt.got, tt.want)
		}
	}
	bad := []struct {
		name   string
		imgs   [][]float32
		labels []int
	}{
		{"no images", nil, nil},
		{"labels short", imgs, labels[:2]},
		{"label outside texts", imgs, []int{0, 0, 2}},
	}
	for _, tt := range bad {
		if _, err := ModalityStats(tt.imgs, tt.labels, texts); err == nil {
			t.Errorf("%s: no error", tt.name)
		}
	}
}

func TestCompareCaptions(t *testing.T) {
	imgs := [][]float32{{1, 0}, {0, 1}}
	caps := [][]float32{{1, 0}, {0.6, 0.8}}
	c, err := CompareCaptions(imgs, caps)
	if err != nil {
		t.Fatal(err)
	}
	if c.Pairs.Top1 != 1 || math.Abs(c.Pairs.Matched-0.9) > 1e-6 || c.ImgImg != 0 || math.Abs(c.CapCap-0.6) > 1e-6 {
		t.Errorf("CompareCaptions = %+v", c)
	}
	if _, err := CompareCaptions(imgs, caps[:1]); err == nil {
		t.Error("one caption for two images: no error")
	}
}

func TestNearestOwnInTop(t *testing.T) {
	sim := [][]float32{{0.9, 0.1, 0.5}, {0.8, 0.2, 0.7}}
	top := Nearest(sim, 2)
	if !slices.Equal(top[0], []int{0, 2}) || !slices.Equal(top[1], []int{0, 2}) {
		t.Errorf("Nearest = %v", top)
	}
	if got := OwnInTop(top); got != 1 {
		t.Errorf("OwnInTop = %d, want 1 (row 0 holds 0, row 1 lacks 1)", got)
	}
}

func TestMaxAbsDiff(t *testing.T) {
	tests := []struct {
		name    string
		a, b    [][]float32
		want    float64
		wantErr bool
	}{
		{"identical", [][]float32{{1, 2}}, [][]float32{{1, 2}}, 0, false},
		{"differ", [][]float32{{1, 2}, {3, 4}}, [][]float32{{1, 2.5}, {2, 4}}, 1, false},
		{"rows", [][]float32{{1}}, nil, 0, true},
		{"cols", [][]float32{{1}}, [][]float32{{1, 2}}, 0, true},
	}
	for _, tt := range tests {
		got, err := MaxAbsDiff(tt.a, tt.b)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("%s: MaxAbsDiff = %v, %v", tt.name, got, err)
		}
	}
}

func TestEasiestHardest(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		name       string
		acc        []float64
		easy, hard int
		ok         bool
	}{
		{"plain", []float64{0.5, 0.9, 0.1}, 1, 2, true},
		{"NaN skipped", []float64{nan, 0.4, 0.6}, 2, 1, true},
		{"ties like Order", []float64{0.2, 0.8, 0.8, 0.2}, 1, 3, true},
		{"all equal", []float64{0.5, 0.5}, -1, -1, false},
		{"one class", []float64{nan, 0.5}, -1, -1, false},
		{"none", nil, -1, -1, false},
	}
	for _, tt := range tests {
		e, h, ok := EasiestHardest(tt.acc)
		if e != tt.easy || h != tt.hard || ok != tt.ok {
			t.Errorf("%s: EasiestHardest = %d, %d, %v; want %d, %d, %v", tt.name, e, h, ok, tt.easy, tt.hard, tt.ok)
		}
		if ok { // agrees with Order, as notebook 03 computed it
			o := Order(tt.acc)
			var have []int
			for _, c := range o {
				if !math.IsNaN(tt.acc[c]) {
					have = append(have, c)
				}
			}
			if have[0] != e || have[len(have)-1] != h {
				t.Errorf("%s: Order gives %d, %d", tt.name, have[0], have[len(have)-1])
			}
		}
	}
}
