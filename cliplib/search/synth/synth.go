// Package synth generates reproducible synthetic embedding sets for testing
// and benchmarking vector search: L2-normalised float32 vectors whose
// neighbour structure resembles real CLIP embeddings more than uniform random
// vectors do (uniform vectors in 512-d are all ≈ orthogonal, so "nearest"
// neighbours are arbitrary and approximate search cannot find them).
//
// Two families are provided (see Kind):
//
//   - Clusters: a mixture of Clusters centres spread uniformly on the sphere;
//     each cluster has its own random Latent-dimensional subspace, and a point is
//     normalise(centre + Spread·B_c·z + Noise·g) with z ~ N(0, I_Latent/Latent)
//     and g ~ N(0, I_dim/dim). Points of a cluster share a direction (like
//     images of one concept) and vary smoothly along a few directions (pose,
//     colour, …), plus a little isotropic noise.
//   - LowRank: every point lives near one global Latent-dimensional subspace:
//     normalise(A·z + Noise·g) (the "32-d latent + noise" set of the perf notes).
//
// Generation is deterministic for a given Config, independent of GOMAXPROCS:
// point i draws from its own PCG stream keyed by (Seed, i), so points are made
// in parallel and any prefix of a larger set equals the smaller set. Queries
// (Config.Queries) come from the same distribution with a different stream
// key, so they are never points of the set.
package synth

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
)

// Kind selects the generator.
type Kind string

const (
	// Clusters is a mixture of clusters, each with its own low-rank spread.
	Clusters Kind = "clusters"
	// LowRank is one global low-rank subspace plus isotropic noise.
	LowRank Kind = "lowrank"
)

// Config describes a synthetic set. Zero fields take the defaults noted.
type Config struct {
	// Kind is Clusters (default) or LowRank.
	Kind Kind
	// Dim is the vector dimension (default 512).
	Dim int
	// Clusters is the number of cluster centres (Clusters kind; default 1000).
	Clusters int
	// Latent is the rank of the per-cluster (Clusters) or global (LowRank)
	// subspace (default 16 for Clusters, 32 for LowRank).
	Latent int
	// Spread scales the in-cluster low-rank offset relative to the unit
	// centre (Clusters kind; default 0.6).
	Spread float64
	// Noise scales the isotropic noise, whose squared norm is about Noise²
	// (default 0.2 for Clusters, 0.3 for LowRank).
	Noise float64
	// Seed selects the set (default 0 is a valid seed).
	Seed uint64
}

// WithDefaults returns c with zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	if c.Kind == "" {
		c.Kind = Clusters
	}
	if c.Dim == 0 {
		c.Dim = 512
	}
	if c.Clusters == 0 {
		c.Clusters = 1000
	}
	if c.Latent == 0 {
		if c.Kind == LowRank {
			c.Latent = 32
		} else {
			c.Latent = 16
		}
	}
	if c.Spread == 0 {
		c.Spread = 0.6
	}
	if c.Noise == 0 {
		if c.Kind == LowRank {
			c.Noise = 0.3
		} else {
			c.Noise = 0.2
		}
	}
	return c
}

func (c Config) validate() error {
	switch c.Kind {
	case Clusters, LowRank:
	default:
		return fmt.Errorf("synth: unknown Kind %q (want %q or %q)", c.Kind, Clusters, LowRank)
	}
	if c.Dim < 2 || c.Dim > 1<<16 {
		return fmt.Errorf("synth: Dim must be in [2, 65536], got %d", c.Dim)
	}
	if c.Clusters < 1 || c.Clusters > 1<<20 {
		return fmt.Errorf("synth: Clusters must be in [1, 1048576], got %d", c.Clusters)
	}
	if c.Latent < 1 || c.Latent > c.Dim {
		return fmt.Errorf("synth: Latent must be in [1, Dim=%d], got %d", c.Dim, c.Latent)
	}
	if c.Spread < 0 || c.Noise < 0 || math.IsNaN(c.Spread) || math.IsNaN(c.Noise) ||
		math.IsInf(c.Spread, 0) || math.IsInf(c.Noise, 0) {
		return fmt.Errorf("synth: Spread and Noise must be finite and >= 0, got %g, %g", c.Spread, c.Noise)
	}
	if c.Kind == Clusters && c.Spread == 0 && c.Noise == 0 {
		return fmt.Errorf("synth: Spread and Noise are both 0: every point would equal its centre")
	}
	return nil
}

// Generator makes points of one synthetic set. It is safe for concurrent use.
type Generator struct {
	cfg     Config
	centres []float32 // [Clusters*Dim] (Clusters kind)
	bases   []float32 // [Clusters*Dim*Latent] or [Dim*Latent] (LowRank), row = one latent direction
}

// Stream keys separating the model parameters, the indexed points and the
// queries (the three never share random numbers).
const (
	streamModel   = 0x6d6f64656c // "model"
	streamPoints  = 0x706f696e74 // "point"
	streamQueries = 0x7175657279 // "query"
)

// New builds the generator (random centres and subspaces) for cfg.
func New(cfg Config) (*Generator, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	g := &Generator{cfg: cfg}
	d, l := cfg.Dim, cfg.Latent
	r := rand.New(rand.NewPCG(cfg.Seed, streamModel))
	switch cfg.Kind {
	case Clusters:
		g.centres = make([]float32, cfg.Clusters*d)
		for c := 0; c < cfg.Clusters; c++ {
			v := g.centres[c*d : (c+1)*d]
			gauss(r, v, 1)
			normalize(v)
		}
		g.bases = make([]float32, cfg.Clusters*l*d)
		// Each basis direction has norm ≈ 1, so Spread·B·z (z ~ N(0, I/l))
		// has norm ≈ Spread.
		gauss(r, g.bases, 1/math.Sqrt(float64(d)))
	case LowRank:
		g.bases = make([]float32, l*d)
		gauss(r, g.bases, 1/math.Sqrt(float64(d)))
	}
	return g, nil
}

// Config returns the generator's configuration with defaults filled in.
func (g *Generator) Config() Config { return g.cfg }

// Points returns points [first, first+n) of the set, row-major [n*Dim].
func (g *Generator) Points(first, n int) []float32 {
	out := make([]float32, n*g.cfg.Dim)
	g.fill(out, first, streamPoints)
	return out
}

// Queries returns n query vectors, row-major [n*Dim], drawn from the same
// distribution as the points but from a separate random stream.
func (g *Generator) Queries(n int) []float32 {
	out := make([]float32, n*g.cfg.Dim)
	g.fill(out, 0, streamQueries)
	return out
}

// fill writes len(out)/Dim vectors numbered from first, in parallel.
func (g *Generator) fill(out []float32, first int, stream uint64) {
	d := g.cfg.Dim
	n := len(out) / d
	w := min(runtime.GOMAXPROCS(0), max(1, n/1024))
	var wg sync.WaitGroup
	for s := 0; s < w; s++ {
		lo, hi := n*s/w, n*(s+1)/w
		wg.Go(func() {
			z := make([]float64, g.cfg.Latent)
			for i := lo; i < hi; i++ {
				g.point(out[i*d:(i+1)*d], uint64(first+i), stream, z)
			}
		})
	}
	wg.Wait()
}

func (g *Generator) point(v []float32, i, stream uint64, z []float64) {
	c := g.cfg
	d, l := c.Dim, c.Latent
	r := rand.New(rand.NewPCG(c.Seed^stream, i))
	var base []float32
	var scale float64
	switch c.Kind {
	case Clusters:
		k := r.IntN(c.Clusters)
		copy(v, g.centres[k*d:(k+1)*d])
		base = g.bases[k*l*d : (k+1)*l*d]
		scale = c.Spread / math.Sqrt(float64(l))
	case LowRank:
		clear(v)
		base = g.bases
		scale = 1 / math.Sqrt(float64(l))
	}
	for j := range z {
		z[j] = r.NormFloat64() * scale
	}
	for j := 0; j < l; j++ {
		zj := float32(z[j])
		row := base[j*d : (j+1)*d]
		for t := range v {
			v[t] += zj * row[t]
		}
	}
	ns := c.Noise / math.Sqrt(float64(d))
	for t := range v {
		v[t] += float32(r.NormFloat64() * ns)
	}
	normalize(v)
}

func gauss(r *rand.Rand, v []float32, std float64) {
	for i := range v {
		v[i] = float32(r.NormFloat64() * std)
	}
}

func normalize(v []float32) {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	if s == 0 {
		v[0] = 1
		return
	}
	inv := 1 / math.Sqrt(s)
	for i, x := range v {
		v[i] = float32(float64(x) * inv)
	}
}
