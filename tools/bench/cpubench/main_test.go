package main

import (
	"bytes"
	"math"
	"strings"
	"testing"
)

func TestFLOPCounts(t *testing.T) {
	for _, tc := range []struct {
		name string
		got  float64
		want float64
	}{
		{"matmul 768x768x3072", MatMulGFLOP(768, 768, 3072), 2 * 768 * 768 * 3072 / 1e9},
		// One ViT-B/16 block: 197 tokens, width 768: QKV 3W², out W², MLP 8W² per token, plus
		// scores and weighted sum 2·T·W per token, 2 flops per multiply-add.
		{"block 1x197x768", BlockGFLOP(1, 197, 768), 2 * (197*768*(3*768+768+8*768) + 2*197*197*768) / 1e9},
		{"block scales with batch", BlockGFLOP(4, 10, 8), 4 * BlockGFLOP(1, 10, 8)},
	} {
		if math.Abs(tc.got-tc.want) > 1e-12*tc.want {
			t.Errorf("%s: got %g GFLOP, want %g", tc.name, tc.got, tc.want)
		}
	}
}

func TestValidateNamesTheBadFlag(t *testing.T) {
	good := Config{M: 2, K: 2, N: 2, Batch: 1, Tokens: 3, Width: 8, Heads: 2, Iters: 1, Workloads: []string{"matmul"}}
	if err := good.Validate(); err != nil {
		t.Fatalf("valid config rejected: %v", err)
	}
	for _, tc := range []struct {
		edit func(*Config)
		want string
	}{
		{func(c *Config) { c.K = 0 }, "-k"},
		{func(c *Config) { c.Heads = 3 }, "-heads 3"},
		{func(c *Config) { c.Iters = -1 }, "-iters"},
		{func(c *Config) { c.Workloads = []string{"conv"} }, `"conv"`},
		{func(c *Config) { c.Workloads = nil }, "-workloads"},
	} {
		c := good
		tc.edit(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Validate(%+v) = %v, want an error naming %s", c, err, tc.want)
		}
	}
}

// TestSimpleGoRunsBothWorkloads runs the harness end to end on tiny shapes with simplego, twice,
// and checks that the second run agrees with the first (the diff column is computed) and that
// the report lists every row.
func TestSimpleGoRunsBothWorkloads(t *testing.T) {
	c := Config{M: 3, K: 4, N: 5, Batch: 2, Tokens: 3, Width: 8, Heads: 2, Iters: 2, Workloads: []string{"matmul", "block"}}
	results, err := runGoMLX(c, []string{"go", "go:parallelism=1"}, randomInputs(c, 7))
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 4 {
		t.Fatalf("got %d results, want 4 (2 backends x 2 workloads)", len(results))
	}
	for _, r := range results[2:] {
		if math.IsNaN(r.MaxAbsDiff) || r.MaxAbsDiff > 1e-5 || !(r.RefMaxAbs > 0) {
			t.Errorf("%s on %s: max|diff| %g (max|ref| %g), want a small difference from the first backend",
				r.Workload, r.Engine, r.MaxAbsDiff, r.RefMaxAbs)
		}
		if !(r.BestMS > 0) || r.MedianMS < r.BestMS {
			t.Errorf("%s on %s: best %g ms, median %g ms", r.Workload, r.Engine, r.BestMS, r.MedianMS)
		}
	}
	var buf bytes.Buffer
	if err := Report(&buf, c, results); err != nil {
		t.Fatal(err)
	}
	if lines := strings.Count(buf.String(), "\n"); lines != 5 {
		t.Errorf("report has %d lines, want a header and 4 rows:\n%s", lines, buf.String())
	}
}

func TestUnknownBackendIsAnError(t *testing.T) {
	c := Config{M: 2, K: 2, N: 2, Batch: 1, Tokens: 2, Width: 4, Heads: 1, Iters: 1, Workloads: []string{"matmul"}}
	if _, err := runGoMLX(c, []string{"nosuch"}, randomInputs(c, 1)); err == nil || !strings.Contains(err.Error(), "nosuch") {
		t.Errorf("runGoMLX(nosuch) error = %v, want one naming the backend", err)
	}
}
