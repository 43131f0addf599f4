// Package mobileclip builds Apple's MobileCLIP and MobileCLIP2 towers as GoMLX graphs:
//
//   - the MCi image encoders mci0..mci4 (FastViT-style hybrids: MobileOne stem, RepMixer stages,
//     large-kernel downsampling, conditional positional encoding, attention stages, a final
//     grouped conv with squeeze-excite, average pooling and a projection), see MCiConfig;
//   - the ViT-B/16 image tower with a convolutional stem of MobileCLIP-B and MobileCLIP2-B
//     (timm's vit_base_mci_224), see EncodeViT;
//   - the "mct" hybrid text encoder of MobileCLIP-S0 (RepMixer, transformer blocks, RepMixer),
//     see EncodeTextMCT. The other MobileCLIP text towers are CLIP text transformers (package
//     textenc), non-causal except for the B models.
//
// Parameter names are the OpenCLIP / timm hub layout ("visual.trunk.*", "text.*"); the original
// Apple checkpoints are mapped onto it by ToOpenCLIP. Checkpoints hold the
// train-time, multi-branch form of the re-parameterisable blocks; Reparameterize folds them into
// single convolutions at load time (the default), and the graph builders compute either form
// (model.Config.Unfolded selects the train-time one).
//
// Activations inside the convolutional towers are channels-first, [C, B, H, W]: every 1×1
// convolution is then a plain [out, in]·[in, B·H·W] matrix product, and depthwise convolutions
// are batched matrix products over the channel axis on simplego and sums of shifted slices on
// XLA backends (see conv.go). Weights keep PyTorch's layouts (OIHW kernels, [out, in] linears).
package mobileclip

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Mixer is the token mixer of an MCi stage.
type Mixer string

const (
	// RepMixer mixes tokens with a re-parameterisable 3×3 depthwise convolution (FastViT).
	RepMixer Mixer = "repmixer"
	// Attention mixes tokens with multi-head self-attention (head dimension 32).
	Attention Mixer = "attention"
)

// Norm is the normalisation in front of the attention of an attention stage.
type Norm string

const (
	// BatchNorm is a BatchNorm2d over channels (mci0..mci2).
	BatchNorm Norm = "batchnorm"
	// LayerNorm is a LayerNorm over channels at every position, eps 1e-5 (mci3, mci4).
	LayerNorm Norm = "layernorm"
)

// MCiConfig describes an MCi image encoder with the names of the FastViT / MobileCLIP papers
// (and of timm's fastvit.py, which the checkpoints' parameter names follow). Every stage after
// the first starts with a stride-2 downsampling (PatchEmbed: a large-kernel depthwise conv with
// channel multiplier, then a 1×1 MobileOne block); the feature map after the last stage goes
// through a 3×3 grouped conv that multiplies the channels by FinalRatio, with squeeze-excite,
// then average pooling and the projection head.
type MCiConfig struct {
	Name   string
	Depths []int   // blocks per stage, e.g. [2, 6, 10, 2] for mci0
	Widths []int   // channels per stage, e.g. [64, 128, 256, 512]
	Mixers []Mixer // token mixer per stage
	// MLPRatio is the ConvFFN expansion: hidden channels = MLPRatio·C.
	MLPRatio int
	// DownsampleSE adds a squeeze-excite to the large-kernel conv of the stage's downsampling.
	DownsampleSE []bool
	// CPE puts a conditional positional encoding (RepCPE, 7×7 depthwise) after the stage's
	// downsampling.
	CPE []bool
	// AttentionNorm is the normalisation before the attention of attention blocks.
	AttentionNorm Norm
	// StemScaleBranch gives the stem's 3×3 MobileOne blocks their 1×1 "scale" branch (mci0..2;
	// timm's mci3/mci4 stems have none).
	StemScaleBranch bool
	// RepMixerKernel (3), DownsampleKernel (7), CPEKernel (7), ConvFFNKernel (7): kernel sizes.
	RepMixerKernel, DownsampleKernel, CPEKernel, ConvFFNKernel int
	// HeadDim is the attention head dimension (32): heads = width / HeadDim.
	HeadDim int
	// FinalRatio multiplies the last width in the final conv (2).
	FinalRatio int
}

func mciDefaults(c MCiConfig) MCiConfig {
	c.RepMixerKernel, c.DownsampleKernel, c.CPEKernel, c.ConvFFNKernel = 3, 7, 7, 7
	c.HeadDim, c.FinalRatio = 32, 2
	return c
}

func stages4(depths, widths []int, mlp int) MCiConfig {
	return mciDefaults(MCiConfig{Depths: depths, Widths: widths, MLPRatio: mlp,
		Mixers:        []Mixer{RepMixer, RepMixer, RepMixer, Attention},
		DownsampleSE:  []bool{false, false, true, true},
		CPE:           []bool{false, false, false, true},
		AttentionNorm: BatchNorm, StemScaleBranch: true})
}

func stages5(depths, widths []int) MCiConfig {
	return mciDefaults(MCiConfig{Depths: depths, Widths: widths, MLPRatio: 4,
		Mixers:        []Mixer{RepMixer, RepMixer, RepMixer, Attention, Attention},
		DownsampleSE:  []bool{false, false, false, false, false},
		CPE:           []bool{false, false, false, true, true},
		AttentionNorm: LayerNorm, StemScaleBranch: false})
}

// mciVariants are the MCi encoders (values: timm fastvit.py fastvit_mci0..4, which agree with
// Apple's mci.py for mci0..2 and mobileclip2.py for mci3/4), plus two small test layouts that
// keep every block type of the 4-stage (mci0..2) and 5-stage (mci3/4) families.
var mciVariants = map[string]MCiConfig{
	"mci0": stages4([]int{2, 6, 10, 2}, []int{64, 128, 256, 512}, 3),
	"mci1": stages4([]int{4, 12, 20, 4}, []int{64, 128, 256, 512}, 3),
	"mci2": stages4([]int{4, 12, 24, 4}, []int{80, 160, 320, 640}, 3),
	"mci3": stages5([]int{2, 12, 24, 4, 2}, []int{96, 192, 384, 768, 1536}),
	"mci4": stages5([]int{2, 12, 24, 4, 4}, []int{128, 256, 512, 1024, 2048}),
	// Test layouts (tools/reference/make_mobileclip_fixtures.py builds the same ones).
	"mci-test":  stages4([]int{1, 2, 1, 1}, []int{16, 16, 32, 64}, 3),
	"mci-test5": stages5([]int{1, 1, 1, 1, 1}, []int{16, 16, 32, 32, 32}),
}

func init() {
	for name, c := range mciVariants {
		c.Name = name
		mciVariants[name] = c
	}
}

// LookupMCi returns the named MCi layout ("mci0".."mci4", "mci-test", "mci-test5").
func LookupMCi(name string) (MCiConfig, error) {
	c, ok := mciVariants[name]
	if !ok {
		names := make([]string, 0, len(mciVariants))
		for n := range mciVariants {
			names = append(names, n)
		}
		sort.Strings(names)
		return MCiConfig{}, fmt.Errorf("unknown MCi variant %q; known: %s", name, strings.Join(names, ", "))
	}
	c.Depths, c.Widths = slices.Clone(c.Depths), slices.Clone(c.Widths)
	c.Mixers, c.DownsampleSE, c.CPE = slices.Clone(c.Mixers), slices.Clone(c.DownsampleSE), slices.Clone(c.CPE)
	return c, c.Validate()
}

// Validate checks that the layout is complete and self-consistent.
func (c MCiConfig) Validate() error {
	n := len(c.Depths)
	if n == 0 || len(c.Widths) != n || len(c.Mixers) != n || len(c.DownsampleSE) != n || len(c.CPE) != n {
		return fmt.Errorf("MCi %q: depths, widths, mixers, downsample SE and CPE need one entry per stage (got %d, %d, %d, %d, %d)",
			c.Name, n, len(c.Widths), len(c.Mixers), len(c.DownsampleSE), len(c.CPE))
	}
	for i, w := range c.Widths {
		if w <= 0 || c.Depths[i] < 0 {
			return fmt.Errorf("MCi %q: stage %d has width %d and depth %d", c.Name, i, w, c.Depths[i])
		}
		switch c.Mixers[i] {
		case RepMixer:
		case Attention:
			if c.HeadDim <= 0 || w%c.HeadDim != 0 {
				return fmt.Errorf("MCi %q: attention stage %d width %d is not a multiple of the head dimension %d", c.Name, i, w, c.HeadDim)
			}
		default:
			return fmt.Errorf("MCi %q: stage %d has unknown mixer %q", c.Name, i, c.Mixers[i])
		}
	}
	if c.AttentionNorm != BatchNorm && c.AttentionNorm != LayerNorm {
		return fmt.Errorf("MCi %q: unknown attention norm %q", c.Name, c.AttentionNorm)
	}
	if c.MLPRatio <= 0 || c.FinalRatio <= 0 {
		return fmt.Errorf("MCi %q: MLP ratio %d and final ratio %d must be positive", c.Name, c.MLPRatio, c.FinalRatio)
	}
	for _, k := range []int{c.RepMixerKernel, c.DownsampleKernel, c.CPEKernel, c.ConvFFNKernel} {
		if k <= 0 || k%2 == 0 {
			return fmt.Errorf("MCi %q: kernel sizes must be odd and positive, got %d", c.Name, k)
		}
	}
	return nil
}

// FinalWidth is the channel count after the final conv: FinalRatio · last width.
func (c MCiConfig) FinalWidth() int { return c.FinalRatio * c.Widths[len(c.Widths)-1] }

// makeDivisible is timm's make_divisible(v, divisor, round_limit=0): v rounded to the nearest
// multiple of divisor (halves up), at least divisor. It sizes the squeeze-excite reductions.
func makeDivisible(v float64, divisor int) int {
	return max(divisor, int(v+float64(divisor)/2)/divisor*divisor)
}

// seReduction returns the hidden width of a squeeze-excite over channels: timm's
// SqueezeExcite(channels, rd_ratio=ratio, rd_divisor=divisor).
func seReduction(channels int, ratio float64, divisor int) int {
	return makeDivisible(float64(channels)*ratio, divisor)
}
