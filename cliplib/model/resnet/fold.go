package resnet

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/clipkit/clipkit/cliplib/checkpoint"
)

// bnToConv maps the name prefix of a ModifiedResNet BatchNorm to the convolution it follows.
func bnToConv(bn string) (string, bool) {
	i := strings.LastIndexByte(bn, '.')
	parent, leaf := bn[:i+1], bn[i+1:]
	switch {
	case leaf == "bn1" || leaf == "bn2" || leaf == "bn3":
		return parent + "conv" + leaf[2:], true
	case leaf == "1" && strings.HasSuffix(parent, "downsample."):
		return parent + "0", true
	}
	return "", false
}

// FoldBatchNorm returns a copy of a ModifiedResNet state dict (internal names) in which every
// "visual.*" convolution followed by a BatchNorm is replaced by one convolution with a bias:
//
//	W' = W · γ/√(σ²+ε) per output channel,   b' = β − μ·γ/√(σ²+ε)
//
// (ε = 1e-5, computed in float64). BatchNorm parameters and num_batches_tracked counters are
// removed; every other tensor is shared with sd. Inference results are unchanged up to float32
// rounding.
func FoldBatchNorm(sd checkpoint.StateDict) (checkpoint.StateDict, error) {
	out := checkpoint.StateDict{}
	var bns []string
	for name, t := range sd {
		if strings.HasPrefix(name, "visual.") && strings.HasSuffix(name, ".running_mean") {
			bns = append(bns, strings.TrimSuffix(name, ".running_mean"))
		}
		out[name] = t
	}
	sort.Strings(bns)
	for _, bn := range bns {
		conv, ok := bnToConv(bn)
		if !ok {
			return nil, fmt.Errorf("fold batch norm: %q does not follow a known convolution", bn)
		}
		w, ok := sd[conv+".weight"]
		if !ok || len(w.Shape) != 4 {
			return nil, fmt.Errorf("fold batch norm: %q has no 4-D convolution weight %q", bn, conv+".weight")
		}
		if _, hasBias := sd[conv+".bias"]; hasBias {
			return nil, fmt.Errorf("fold batch norm: convolution %q already has a bias", conv)
		}
		outC := w.Shape[0]
		get := func(leaf string) ([]float32, error) {
			t, ok := sd[bn+"."+leaf]
			if !ok || len(t.Data) != outC {
				return nil, fmt.Errorf("fold batch norm: %q needs %s of %d values", bn, leaf, outC)
			}
			return t.Data, nil
		}
		gamma, err := get("weight")
		if err != nil {
			return nil, err
		}
		beta, err := get("bias")
		if err != nil {
			return nil, err
		}
		mean, err := get("running_mean")
		if err != nil {
			return nil, err
		}
		variance, err := get("running_var")
		if err != nil {
			return nil, err
		}
		per := len(w.Data) / outC
		fw := &checkpoint.Tensor{Shape: append([]int(nil), w.Shape...), DType: w.DType, Data: make([]float32, len(w.Data))}
		fb := &checkpoint.Tensor{Shape: []int{outC}, DType: w.DType, Data: make([]float32, outC)}
		for o := 0; o < outC; o++ {
			scale := float64(gamma[o]) / math.Sqrt(float64(variance[o])+bnEps)
			for i := o * per; i < (o+1)*per; i++ {
				fw.Data[i] = float32(float64(w.Data[i]) * scale)
			}
			fb.Data[o] = float32(float64(beta[o]) - float64(mean[o])*scale)
		}
		out[conv+".weight"], out[conv+".bias"] = fw, fb
		for _, leaf := range []string{"weight", "bias", "running_mean", "running_var", "num_batches_tracked"} {
			delete(out, bn+"."+leaf)
		}
	}
	return out, nil
}
