package mobileclip

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/clipkit/clipkit/cliplib/checkpoint"
	"github.com/clipkit/clipkit/cliplib/model"
)

// Reparameterize maps a MobileCLIP state dict in the internal (OpenCLIP / timm) naming from its
// train-time form to the folded inference form that the graph builders expect by default:
//
//   - MobileOne blocks (stem, downsampling 1×1, final conv, RepMixer's mixer and norm): every
//     conv+BN branch becomes W·γ/√(σ²+ε) (per output channel) with bias β − μγ/√(σ²+ε); the 1×1
//     scale branch is zero-padded to the block's kernel at its centre; the identity BN becomes a
//     kernel with γ/√(σ²+ε) at the centre tap of (c, c mod in/groups) and the same bias; the
//     branches are summed into "reparam_conv".
//   - RepMixer: x + γ⊙(mixer(x) − norm(x)) becomes one depthwise conv with kernel
//     I + γ·(W_mixer − W_norm) and bias γ·(b_mixer − b_norm), I the identity kernel.
//   - RepCPE: x + dwconv(x) becomes the depthwise kernel with 1 added at the centre tap.
//   - ReparamLargeKernelConv: the 7×7 conv+BN plus the zero-padded 3×3 conv+BN.
//
// These are the formulas of Apple's ml-mobileclip and timm's reparameterize() methods, so the
// result has the names and values of a timm model after timm.utils.reparameterize_model.
// Blocks already folded (a "reparam_conv" present) are kept. Tensors that are not part of a
// re-parameterisable block are shared with sd, which is not modified; BatchNorm counters
// (num_batches_tracked) are dropped. cfg selects the towers; towers with nothing to fold (the
// ViT image tower, the transformer text tower) pass through.
func Reparameterize(cfg *model.Config, sd checkpoint.StateDict) (checkpoint.StateDict, error) {
	out := make(checkpoint.StateDict, len(sd))
	for k, v := range sd {
		if strings.HasSuffix(k, ".num_batches_tracked") {
			continue
		}
		out[k] = v
	}
	if cfg.Vision.Family == model.MCi {
		mc, err := LookupMCi(cfg.Vision.Variant)
		if err != nil {
			return nil, fmt.Errorf("model %q: %w", cfg.Name, err)
		}
		for _, m := range mciModules(mc, cfg.EmbedDim) {
			if err := m.block.fold(out, m.prefix); err != nil {
				return nil, fmt.Errorf("re-parameterising %s: %w", cfg.Name, err)
			}
		}
	}
	if cfg.Text.Family == model.TextMCT {
		for _, m := range mctModules(cfg.Text) {
			if err := m.block.fold(out, m.prefix); err != nil {
				return nil, fmt.Errorf("re-parameterising %s: %w", cfg.Name, err)
			}
		}
	}
	return out, nil
}

// kern is a convolution kernel in PyTorch's OIHW layout with a bias, in float64 while folding.
type kern struct {
	out, inPer, kh, kw int
	w, b               []float64
}

func newKern(out, inPer, kh, kw int) kern {
	return kern{out: out, inPer: inPer, kh: kh, kw: kw, w: make([]float64, out*inPer*kh*kw), b: make([]float64, out)}
}

func (k kern) at(o, i, y, x int) int { return ((o*k.inPer+i)*k.kh+y)*k.kw + x }

// add accumulates other (of the same or a smaller odd size, centred) into k, scaled by s.
func (k kern) add(other kern, s float64) {
	dy, dx := (k.kh-other.kh)/2, (k.kw-other.kw)/2
	for o := 0; o < other.out; o++ {
		for i := 0; i < other.inPer; i++ {
			for y := 0; y < other.kh; y++ {
				for x := 0; x < other.kw; x++ {
					k.w[k.at(o, i, y+dy, x+dx)] += s * other.w[other.at(o, i, y, x)]
				}
			}
		}
		k.b[o] += s * other.b[o]
	}
}

// identityKern returns the kernel of the identity map as a convolution with inPer input channels
// per group (channels/inPer groups): the centre tap of (c, c mod inPer) set to 1, shaped
// [channels, inPer, kh, kw], zero bias.
func identityKern(channels, inPer, kh, kw int) kern {
	k := newKern(channels, inPer, kh, kw)
	for c := 0; c < channels; c++ {
		k.w[k.at(c, c%inPer, kh/2, kw/2)] = 1
	}
	return k
}

// tensors returns the kernel and bias as float32 checkpoint tensors.
func (k kern) tensors() (w, b *checkpoint.Tensor) {
	w = &checkpoint.Tensor{Shape: []int{k.out, k.inPer, k.kh, k.kw}, DType: checkpoint.F32, Data: make([]float32, len(k.w))}
	for i, v := range k.w {
		w.Data[i] = float32(v)
	}
	b = &checkpoint.Tensor{Shape: []int{k.out}, DType: checkpoint.F32, Data: make([]float32, len(k.b))}
	for i, v := range k.b {
		b.Data[i] = float32(v)
	}
	return w, b
}

// take removes and returns the tensor name from sd, checking its shape (a -1 accepts any size).
func take(sd checkpoint.StateDict, name string, dims ...int) ([]float32, error) {
	t, ok := sd[name]
	if !ok {
		return nil, fmt.Errorf("checkpoint is missing tensor %q", name)
	}
	if len(t.Shape) != len(dims) {
		return nil, fmt.Errorf("tensor %q has shape %v, want %v", name, t.Shape, dims)
	}
	for i, d := range dims {
		if d >= 0 && t.Shape[i] != d {
			return nil, fmt.Errorf("tensor %q has shape %v, want %v", name, t.Shape, dims)
		}
	}
	if !t.DType.IsFloat() {
		return nil, fmt.Errorf("tensor %q is %s, want a floating-point tensor", name, t)
	}
	delete(sd, name)
	return t.Data, nil
}

// takeBN removes a BatchNorm2d from sd and returns its per-channel scale γ/√(σ²+ε) and shift
// β − μ·scale.
func takeBN(sd checkpoint.StateDict, prefix string, c int) (scale, shift []float64, err error) {
	gamma, err := take(sd, prefix+".weight", c)
	if err != nil {
		return nil, nil, err
	}
	beta, err := take(sd, prefix+".bias", c)
	if err != nil {
		return nil, nil, err
	}
	mean, err := take(sd, prefix+".running_mean", c)
	if err != nil {
		return nil, nil, err
	}
	variance, err := take(sd, prefix+".running_var", c)
	if err != nil {
		return nil, nil, err
	}
	delete(sd, prefix+".num_batches_tracked")
	scale, shift = make([]float64, c), make([]float64, c)
	for i := range scale {
		scale[i] = float64(gamma[i]) / math.Sqrt(float64(variance[i])+bnEps)
		shift[i] = float64(beta[i]) - float64(mean[i])*scale[i]
	}
	return scale, shift, nil
}

// takeConvBN removes a conv (prefix.conv.weight, no bias) followed by a BatchNorm2d (prefix.bn)
// and returns the fused kernel.
func takeConvBN(sd checkpoint.StateDict, prefix string, s convSpec) (kern, error) {
	inPer := s.in / max(s.groups, 1)
	w, err := take(sd, prefix+".conv.weight", s.out, inPer, s.kernel[0], s.kernel[1])
	if err != nil {
		return kern{}, err
	}
	scale, shift, err := takeBN(sd, prefix+".bn", s.out)
	if err != nil {
		return kern{}, err
	}
	k := newKern(s.out, inPer, s.kernel[0], s.kernel[1])
	per := len(w) / s.out
	for o := 0; o < s.out; o++ {
		for i := 0; i < per; i++ {
			k.w[o*per+i] = float64(w[o*per+i]) * scale[o]
		}
		k.b[o] = shift[o]
	}
	return k, nil
}

// takeIdentityBN removes an identity-branch BatchNorm2d and returns it as a kernel.
func takeIdentityBN(sd checkpoint.StateDict, prefix string, channels, inPer, kh, kw int) (kern, error) {
	scale, shift, err := takeBN(sd, prefix, channels)
	if err != nil {
		return kern{}, err
	}
	k := identityKern(channels, inPer, kh, kw)
	for c := 0; c < channels; c++ {
		k.w[k.at(c, c%inPer, kh/2, kw/2)] = scale[c]
		k.b[c] = shift[c]
	}
	return k, nil
}

// hasFolded reports whether prefix.reparam_conv.weight is already in sd.
func hasFolded(sd checkpoint.StateDict, prefix string) bool {
	_, ok := sd[prefix+".reparam_conv.weight"]
	return ok
}

// putFolded stores k as prefix.reparam_conv.{weight,bias}.
func putFolded(sd checkpoint.StateDict, prefix string, k kern) {
	w, b := k.tensors()
	sd[prefix+".reparam_conv.weight"] = w
	sd[prefix+".reparam_conv.bias"] = b
}

// trainTimeLeftovers lists keys under prefix. that still look like train-time branches (used to
// refuse a half-folded block).
func trainTimeLeftovers(sd checkpoint.StateDict, prefix string, parts ...string) []string {
	var left []string
	for k := range sd {
		if !strings.HasPrefix(k, prefix+".") {
			continue
		}
		rest := k[len(prefix)+1:]
		for _, p := range parts {
			if strings.HasPrefix(rest, p) {
				left = append(left, k)
				break
			}
		}
	}
	slices.Sort(left)
	return left
}
