package explore

import (
	"slices"
	"testing"
)

func TestIdentity(t *testing.T) {
	for _, tt := range []struct {
		n    int
		want []int
	}{{0, []int{}}, {-1, []int{}}, {1, []int{0}}, {4, []int{0, 1, 2, 3}}} {
		if got := Identity(tt.n); !slices.Equal(got, tt.want) {
			t.Errorf("Identity(%d) = %v, want %v", tt.n, got, tt.want)
		}
	}
}

func TestNewTemperatureRun(t *testing.T) {
	files, caps := []string{"a.png", "b.png"}, []string{"a", "b"}
	good := [][]float32{{0.3, 0.1}, {0.2, 0.25}}
	tests := []struct {
		name     string
		files    []string
		sim      [][]float32
		learned  float64
		wantErr  bool
		wantAcc  float64
		wantRows int
	}{
		{"good", files, good, 0.01, false, 1, 2},
		{"no photos", nil, nil, 0.01, true, 0, 0},
		{"rows short", files, good[:1], 0.01, true, 0, 0},
		{"ragged", files, [][]float32{{0.3, 0.1}, {0.2}}, 0.01, true, 0, 0},
		{"zero temperature", files, good, 0, true, 0, 0},
	}
	for _, tt := range tests {
		r, err := NewTemperatureRun(tt.files, caps, tt.sim, tt.learned, []float64{0.001, 0.1, 1})
		if (err != nil) != tt.wantErr {
			t.Errorf("%s: error %v, want error %v", tt.name, err, tt.wantErr)
			continue
		}
		if err != nil {
			continue
		}
		if len(r.Points) != 3 || r.AtModel.Temperature != tt.learned || r.AtModel.Accuracy != tt.wantAcc || !slices.Equal(r.Truth, []int{0, 1}) {
			t.Errorf("%s: run %+v", tt.name, r)
		}
		// Lower temperatures are more confident.
		if !(r.Points[0].MeanConfidence > r.Points[2].MeanConfidence) {
			t.Errorf("%s: confidence %v at T=0.001, %v at T=1", tt.name, r.Points[0].MeanConfidence, r.Points[2].MeanConfidence)
		}
	}
}

func TestTemperatureGrid(t *testing.T) {
	for _, tt := range []struct {
		smoke string
		n     int
	}{{"", 31}, {"1", 13}} {
		t.Setenv("CLIP_SMOKE", tt.smoke)
		g := TemperatureGrid()
		if len(g) != tt.n || g[0] != 0.001 || g[len(g)-1] != 1 {
			t.Errorf("smoke %q: grid %v", tt.smoke, g)
		}
	}
}
