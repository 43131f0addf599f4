package synth

import (
	"math"
	"runtime"
	"slices"
	"testing"
)

func TestPointsAreReproducibleUnitVectorsIndependentOfParallelism(t *testing.T) {
	for _, kind := range []Kind{Clusters, LowRank} {
		cfg := Config{Kind: kind, Dim: 48, Clusters: 30, Seed: 3}
		g1, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		a := g1.Points(0, 3000)
		g2, _ := New(cfg)
		old := runtime.GOMAXPROCS(1)
		b := g2.Points(0, 3000)
		runtime.GOMAXPROCS(old)
		if !slices.Equal(a, b) {
			t.Fatalf("%s: same config gave different points (or depended on GOMAXPROCS)", kind)
		}
		if tail := g1.Points(1000, 2000); !slices.Equal(tail, a[1000*48:]) {
			t.Errorf("%s: Points(1000, 2000) is not the tail of Points(0, 3000)", kind)
		}
		for i := 0; i < 3000; i++ {
			var s float64
			for _, x := range a[i*48 : (i+1)*48] {
				s += float64(x) * float64(x)
			}
			if math.Abs(s-1) > 1e-5 {
				t.Fatalf("%s: point %d has squared norm %g", kind, i, s)
			}
		}
		other, _ := New(Config{Kind: kind, Dim: 48, Clusters: 30, Seed: 4})
		if slices.Equal(other.Points(0, 10), a[:480]) {
			t.Errorf("%s: seeds 3 and 4 gave the same points", kind)
		}
	}
}

// maxCos returns, for each query, the highest cosine to any point.
func maxCos(pts, qs []float32, d int) []float64 {
	out := make([]float64, len(qs)/d)
	for qi := range out {
		q := qs[qi*d : (qi+1)*d]
		best := -2.0
		for i := 0; i < len(pts)/d; i++ {
			var s float64
			for j, x := range pts[i*d : (i+1)*d] {
				s += float64(x) * float64(q[j])
			}
			best = max(best, s)
		}
		out[qi] = best
	}
	return out
}

func TestQueriesHaveCloseButNotIdenticalNeighbours(t *testing.T) {
	d := 128
	for _, kind := range []Kind{Clusters, LowRank} {
		g, err := New(Config{Kind: kind, Dim: d, Clusters: 20, Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		pts, qs := g.Points(0, 2000), g.Queries(20)
		var mean float64
		for qi, c := range maxCos(pts, qs, d) {
			if c > 0.9999 {
				t.Errorf("%s: query %d duplicates a point (cos %.6f)", kind, qi, c)
			}
			mean += c / 20
		}
		// Uniform random unit vectors in 128-d would give a best cosine of
		// about 0.35 over 2000 points; structured data must do much better.
		if mean < 0.5 {
			t.Errorf("%s: mean nearest-neighbour cosine %.3f, want >= 0.5 (neighbour structure)", kind, mean)
		}
	}
}

func TestConfigValidation(t *testing.T) {
	bad := []Config{
		{Kind: "uniform"},
		{Dim: 1},
		{Latent: 1000},
		{Clusters: -1},
		{Noise: math.NaN()},
		{Spread: -1},
	}
	for _, c := range bad {
		if _, err := New(c); err == nil {
			t.Errorf("New(%+v) accepted", c)
		}
	}
	if c := (Config{}).WithDefaults(); c.Dim != 512 || c.Kind != Clusters || c.Clusters != 1000 {
		t.Errorf("defaults: %+v", c)
	}
}
