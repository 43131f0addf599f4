package encoder

import (
	"math"
	"math/rand/v2"
	"sort"
	"strings"

	"github.com/clipkit/clipkit/cliplib/checkpoint"
	"github.com/clipkit/clipkit/cliplib/model"
)

// RandomWeights returns a deterministic, randomly initialised state dict for cfg (the same seed
// gives the same weights on every machine). It is what a model falls back to when no trained
// weights can be had; results computed with it are meaningless and must be labelled as such.
//
// The initialisation follows open_clip's in spirit: normal weights with std 1/√fan_in, norm
// gains 1 and biases 0, BatchNorm running statistics of a unit normal, embeddings with std 0.02,
// and logit_scale = ln(1/0.07).
func RandomWeights(cfg *model.Config, seed uint64) (checkpoint.StateDict, error) {
	shapes, err := ParamShapes(cfg)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(shapes))
	for n := range shapes {
		names = append(names, n)
	}
	sort.Strings(names) // deterministic draw order
	rng := rand.New(rand.NewPCG(seed, 0x636c69706b6974))
	sd := checkpoint.StateDict{}
	for _, name := range names {
		dims := shapes[name]
		t := &checkpoint.Tensor{Shape: append([]int(nil), dims...), DType: checkpoint.F32}
		t.Data = make([]float32, t.NumElements())
		leaf := name[strings.LastIndexByte(name, '.')+1:]
		prefix := name[:max(strings.LastIndexByte(name, '.'), 0)]
		_, hasStats := shapes[prefix+".running_mean"]
		isNorm := strings.Contains(name, "ln_") || strings.Contains(name, "norm") || hasStats
		switch {
		case name == "logit_scale":
			t.Data[0] = float32(math.Log(1 / 0.07))
		case leaf == "running_var":
			fill(t.Data, func() float64 { return 1 })
		case leaf == "running_mean", leaf == "bias", strings.HasSuffix(leaf, "_bias"):
			fill(t.Data, func() float64 { return 0 })
		case isNorm && leaf == "weight":
			fill(t.Data, func() float64 { return 1 })
		case len(dims) >= 2:
			fanIn := 1
			for _, d := range dims[1:] {
				fanIn *= d
			}
			std := 1 / math.Sqrt(float64(fanIn))
			if strings.Contains(name, "embedding") {
				std = 0.02
			}
			if name == "visual.proj" || strings.HasSuffix(name, "text_projection") {
				std = 1 / math.Sqrt(float64(dims[0]))
			}
			fill(t.Data, func() float64 { return rng.NormFloat64() * std })
		default:
			fill(t.Data, func() float64 { return rng.NormFloat64() * 0.02 })
		}
		sd[name] = t
	}
	return sd, nil
}

func fill(xs []float32, f func() float64) {
	for i := range xs {
		xs[i] = float32(f())
	}
}
