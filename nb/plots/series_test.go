package plots

import (
	"math"
	"slices"
	"testing"
)

func TestAlign(t *testing.T) {
	type pt struct {
		b int
		v float64
	}
	tests := []struct {
		name  string
		keys  []int
		items []pt
		want  []float64 // NaN written as -1
	}{
		{"all present", []int{1, 2}, []pt{{2, 20}, {1, 10}}, []float64{10, 20}},
		{"gap", []int{1, 4, 8}, []pt{{1, 1}, {8, 8}}, []float64{1, -1, 8}},
		{"unknown key ignored", []int{1}, []pt{{3, 3}}, []float64{-1}},
		{"no keys", nil, []pt{{1, 1}}, []float64{}},
	}
	for _, tt := range tests {
		got := Align(tt.keys, tt.items, func(p pt) int { return p.b }, func(p pt) float64 { return p.v })
		if len(got) != len(tt.want) {
			t.Fatalf("%s: %v", tt.name, got)
		}
		for i := range got {
			if (tt.want[i] == -1) != math.IsNaN(got[i]) || (tt.want[i] != -1 && got[i] != tt.want[i]) {
				t.Errorf("%s: Align = %v, want %v (-1 = NaN)", tt.name, got, tt.want)
			}
		}
	}
}

func TestLabelsFlatFloat64s(t *testing.T) {
	if got := Labels([]int{1, 16}); !slices.Equal(got, []string{"1", "16"}) {
		t.Errorf("Labels = %q", got)
	}
	if got := Flat([]Series{{Values: []float64{1}}, {Values: []float64{2, 3}}}); !slices.Equal(got, []float64{1, 2, 3}) {
		t.Errorf("Flat = %v", got)
	}
	got := Float64s([][]float32{{0.5, 1}, {}})
	if len(got) != 2 || !slices.Equal(got[0], []float64{0.5, 1}) || len(got[1]) != 0 {
		t.Errorf("Float64s = %v", got)
	}
}

func TestLogAxis(t *testing.T) {
	tests := []struct {
		name    string
		values  []float64
		wantMin any // nil: unchanged
	}{
		{"smallest 0.37", []float64{0.37, 1200, 0, -1}, 0.1},
		{"smallest 42", []float64{42, 9000}, 10.0},
		{"no positive value", []float64{0, math.NaN()}, nil},
	}
	for _, tt := range tests {
		c, err := Bar([]string{"a", "b"}, Options{Horizontal: true}, Series{Name: "s", Values: []float64{1, 2}})
		if err != nil {
			t.Fatal(err)
		}
		LogAxis(c, "xAxis", tt.values...)
		axes, ok := c.Option["xAxis"].([]any)
		if !ok || len(axes) == 0 {
			t.Fatalf("%s: chart has no xAxis list: %T", tt.name, c.Option["xAxis"])
		}
		m := axes[0].(map[string]any)
		if tt.wantMin == nil {
			if m["type"] == "log" {
				t.Errorf("%s: axis made logarithmic", tt.name)
			}
			continue
		}
		if m["type"] != "log" || math.Abs(m["min"].(float64)-tt.wantMin.(float64)) > 1e-12 {
			t.Errorf("%s: axis %v, want log from %v", tt.name, m, tt.wantMin)
		}
	}
}
