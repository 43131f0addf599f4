package parallel

import (
	"fmt"
	"sync/atomic"
	"testing"
)

// TestForCallsEveryIndexOnce checks that every index in [0, n) is visited exactly once, for
// loops shorter and longer than the number of workers, and that an empty loop returns.
func TestForCallsEveryIndexOnce(t *testing.T) {
	for _, n := range []int{0, 1, 2, 3, 100} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			counts := make([]atomic.Int32, n)
			For(n, func(i int) { counts[i].Add(1) })
			for i := range counts {
				if c := counts[i].Load(); c != 1 {
					t.Fatalf("index %d called %d times, want 1", i, c)
				}
			}
		})
	}
}
