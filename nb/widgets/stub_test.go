package widgets

import (
	"math"
	"testing"
)

func TestStubScores(t *testing.T) {
	e := math.E
	tests := []struct {
		name     string
		prompts  []string
		softness float64
		want     []float64
	}{
		{"cat.png", nil, 1, nil},
		{"cat.png", []string{"xyz"}, 1, []float64{1}},
		// "a cat" shares a, c, a, t (4); "box" shares none.
		{"cat.png", []string{"a cat", "box"}, 1, []float64{e * e * e * e / (e*e*e*e + 1), 1 / (e*e*e*e + 1)}},
		{"CAT.PNG", []string{"A CAT", "box"}, 2, []float64{e * e / (e*e + 1), 1 / (e*e + 1)}},
	}
	for _, tt := range tests {
		got := StubScores(tt.name, tt.prompts, tt.softness)
		if len(got) != len(tt.want) {
			t.Fatalf("%s %q: %v, want %v", tt.name, tt.prompts, got, tt.want)
		}
		for i := range got {
			if math.Abs(got[i]-tt.want[i]) > 1e-12 {
				t.Errorf("%s %q: %v, want %v", tt.name, tt.prompts, got, tt.want)
				break
			}
		}
	}
}
