package analysis

import (
	"fmt"
	"math"
	"strings"
	"testing"
)

func TestPrecisionAtKCountsResultsOfTheQueryLabel(t *testing.T) {
	for _, tc := range []struct {
		name      string
		retrieved [][]int
		want      []int
		k         int
		p         float64
		err       string
	}{
		{"all right", [][]int{{1, 1}, {2, 2}}, []int{1, 2}, 2, 1, ""},
		{"half", [][]int{{1, 0, 1}, {2, 2, 0}}, []int{1, 2}, 2, 0.75, ""},
		{"k beyond results counts as wrong", [][]int{{1}}, []int{1}, 4, 0.25, ""},
		{"only first k", [][]int{{0, 1, 1, 1}}, []int{1}, 1, 0, ""},
		{"length mismatch", [][]int{{1}}, []int{1, 2}, 1, 0, "2 query labels"},
		{"k zero", [][]int{{1}}, []int{1}, 0, 0, "k >= 1"},
		{"no queries", nil, nil, 1, 0, "at least one query"},
	} {
		got, err := PrecisionAtK(tc.retrieved, tc.want, tc.k)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: err = %v, want %q", tc.name, err, tc.err)
			}
			continue
		}
		if err != nil || math.Abs(got-tc.p) > 1e-12 {
			t.Errorf("%s: %v, %v; want %v", tc.name, got, err, tc.p)
		}
	}
}

func TestPairedSimilaritySeparatesMatchedFromUnmatched(t *testing.T) {
	for _, tc := range []struct {
		name string
		sim  [][]float32
		want Paired
		err  string
	}{
		{"identity-like", [][]float32{{1, 0}, {0, 1}}, Paired{Matched: 1, Unmatched: 0, Top1: 1}, ""},
		{"one row wrong", [][]float32{{0.5, 0.25, 0}, {0.75, 0.5, 0}, {0, 0, 0.5}}, Paired{Matched: 0.5, Unmatched: 1.0 / 6, Top1: 2.0 / 3}, ""},
		{"ties count against", [][]float32{{0.5, 0.5}, {0, 1}}, Paired{Matched: 0.75, Unmatched: 0.25, Top1: 0.5}, ""},
		{"too small", [][]float32{{1}}, Paired{}, "at least 2"},
		{"not square", [][]float32{{1, 0}, {0}}, Paired{}, "row 1 has 1 columns"},
	} {
		got, err := PairedSimilarity(tc.sim)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: err = %v, want %q", tc.name, err, tc.err)
			}
			continue
		}
		if err != nil || math.Abs(got.Matched-tc.want.Matched) > 1e-9 || math.Abs(got.Unmatched-tc.want.Unmatched) > 1e-9 || got.Top1 != tc.want.Top1 {
			t.Errorf("%s: %+v, %v; want %+v", tc.name, got, err, tc.want)
		}
	}
}

func TestTopPairsAreTheMostSimilarOffDiagonalPairs(t *testing.T) {
	nan := float32(math.NaN())
	sim := [][]float32{
		{1, 0.25, 0.75, nan},
		{0.25, 1, 0.5, 0.125},
		{0.75, 0.5, 1, 0},
		{nan, 0.125, 0, 1},
	}
	got, err := TopPairs(sim, 3)
	if err != nil {
		t.Fatal(err)
	}
	if want := "[{0 2 0.75} {1 2 0.5} {0 1 0.25}]"; fmt.Sprint(got) != want {
		t.Errorf("TopPairs = %v, want %s", got, want)
	}
	if all, _ := TopPairs(sim, 100); len(all) != 5 {
		t.Errorf("all pairs without the NaN one: %d, want 5", len(all))
	}
	if _, err := TopPairs([][]float32{{1, 2}}, 1); err == nil {
		t.Error("non-square matrix: no error")
	}
}
