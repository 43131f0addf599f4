package search

import (
	"fmt"
	"testing"
)

// Benchmarks at small sizes (fast by default); large sizes and the hnswlib
// comparison are in `clipx bench search` and tools/bench/search_reference.py.

func benchItems(b *testing.B, n int) ([]Item, [][]float32) {
	return makeItems(b, n, 512, 1), makeQueries(b, 256, 512, 1)
}

func BenchmarkExactSearch(b *testing.B) {
	for _, n := range []int{1_000, 20_000} {
		items, qs := benchItems(b, n)
		e, _ := NewExact(512)
		if err := e.Add(items...); err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("N=%d/single", n), func(b *testing.B) {
			i := 0
			for b.Loop() {
				e.Search(qs[i%len(qs)], 10)
				i++
			}
		})
		b.Run(fmt.Sprintf("N=%d/batch256", n), func(b *testing.B) {
			for b.Loop() {
				e.SearchBatch(qs, 10)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(qs))/1e6, "ms/query")
		})
	}
}

func BenchmarkHNSWSearch(b *testing.B) {
	n := 5_000
	items, qs := benchItems(b, n)
	h, _ := NewHNSW(512, HNSWConfig{M: 16, EfConstruction: 100})
	if err := h.Add(items...); err != nil {
		b.Fatal(err)
	}
	for _, ef := range []int{16, 64, 256} {
		b.Run(fmt.Sprintf("N=%d/ef=%d", n, ef), func(b *testing.B) {
			i := 0
			for b.Loop() {
				h.SearchEf(qs[i%len(qs)], 10, ef)
				i++
			}
		})
	}
}

func BenchmarkHNSWBuild(b *testing.B) {
	items, _ := benchItems(b, 2_000)
	for b.Loop() {
		h, _ := NewHNSW(512, HNSWConfig{M: 16, EfConstruction: 100})
		if err := h.Add(items...); err != nil {
			b.Fatal(err)
		}
	}
}
