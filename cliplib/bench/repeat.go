package bench

import (
	"fmt"
	"math/rand/v2"
	"time"
)

// RepeatWorkload returns n queries drawn from distinct, each distinct query at least once (while n
// allows) and the rest at random (seeded: the same workload every run), in a shuffled order: the
// "same queries asked again and again" load of a search service or a prompt-tuning loop.
func RepeatWorkload(distinct []string, n int, seed uint64) ([]string, error) {
	if len(distinct) == 0 || n <= 0 {
		return nil, fmt.Errorf("bench.RepeatWorkload: want at least one distinct query and n > 0 (got %d queries, n = %d)", len(distinct), n)
	}
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	out := make([]string, n)
	for i := range out {
		if i < len(distinct) {
			out[i] = distinct[i]
		} else {
			out[i] = distinct[rng.IntN(len(distinct))]
		}
	}
	rng.Shuffle(n, func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out, nil
}

// RepeatReport is the timing of a workload of repeated queries sent one at a time.
type RepeatReport struct {
	Queries  int `json:"queries"`  // queries sent
	Distinct int `json:"distinct"` // distinct queries among them
	// FirstMs and RepeatMs are the mean time of a query seen for the first time (a cache miss:
	// encoded) and of a query seen before (a hit, for a cache that keeps everything).
	FirstMs  float64 `json:"first_ms"`
	RepeatMs float64 `json:"repeat_ms"`
	TotalMs  float64 `json:"total_ms"`
	// ExpectedHitRate is the share of queries seen before: the hit rate of a cache that keeps
	// every entry.
	ExpectedHitRate float64 `json:"expected_hit_rate"`
}

// Speedup is how many times faster a repeated query was than a first one (NaN without both).
func (r RepeatReport) Speedup() float64 { return r.FirstMs / r.RepeatMs }

// RepeatedQueries sends the workload to query one at a time, timing each call, and splits the
// times into queries seen for the first time and repeats. The first error stops it.
func RepeatedQueries(workload []string, query func(string) error) (RepeatReport, error) {
	if len(workload) == 0 {
		return RepeatReport{}, fmt.Errorf("bench.RepeatedQueries: empty workload")
	}
	seen := map[string]bool{}
	var first, repeat time.Duration
	var nFirst, nRepeat int
	for i, q := range workload {
		start := time.Now()
		if err := query(q); err != nil {
			return RepeatReport{}, fmt.Errorf("query %d (%q): %w", i+1, q, err)
		}
		d := time.Since(start)
		if seen[q] {
			repeat += d
			nRepeat++
		} else {
			seen[q] = true
			first += d
			nFirst++
		}
	}
	r := RepeatReport{Queries: len(workload), Distinct: nFirst, TotalMs: ms(first + repeat), FirstMs: ms(first) / float64(nFirst),
		ExpectedHitRate: float64(nRepeat) / float64(len(workload))}
	r.RepeatMs = ms(repeat) / float64(nRepeat) // NaN (0/0) without repeats
	if nRepeat == 0 {
		r.RepeatMs = nanf()
	}
	return r, nil
}

func nanf() float64 { var z float64; return z / z }
