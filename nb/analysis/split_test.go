package analysis

import (
	"slices"
	"testing"
)

func TestSplitPerClass(t *testing.T) {
	labels := []int{0, 1, 0, 1, 0, 2}
	tests := []struct {
		idx        []int
		per        int
		kept, rest []int
		wantErr    bool
	}{
		{[]int{0, 1, 2, 3, 4, 5}, 1, []int{0, 1, 5}, []int{2, 3, 4}, false},
		{[]int{4, 2, 0}, 2, []int{4, 2}, []int{0}, false},
		{[]int{0, 1}, 0, nil, []int{0, 1}, false},
		{nil, 3, nil, nil, false},
		{[]int{6}, 1, nil, nil, true},
		{[]int{-1}, 1, nil, nil, true},
	}
	for _, tt := range tests {
		kept, rest, err := SplitPerClass(labels, tt.idx, tt.per)
		if (err != nil) != tt.wantErr || !slices.Equal(kept, tt.kept) || !slices.Equal(rest, tt.rest) {
			t.Errorf("SplitPerClass(%v, %d) = %v, %v, %v; want %v, %v (error %v)", tt.idx, tt.per, kept, rest, err, tt.kept, tt.rest, tt.wantErr)
		}
	}
}
