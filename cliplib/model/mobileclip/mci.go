package mobileclip

import (
	"fmt"

	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/clipkit/clipkit/cliplib/checkpoint"
	"github.com/clipkit/clipkit/cliplib/model"
	"github.com/clipkit/clipkit/cliplib/model/nn"
)

// ImagePrefix is the parameter-name prefix of the MobileCLIP image towers (open_clip's TimmModel
// wraps the timm model as "trunk").
const ImagePrefix = "visual.trunk"

// largeKernelConv is RepLKNet's ReparamLargeKernelConv as the first half of MCi's downsampling
// (timm's PatchEmbed.proj.0): a k×k conv, stride 2, groups = in, out = m·in channels (each
// input channel feeds m outputs), without bias, + BN ("large_conv"), plus a parallel 3×3 conv
// + BN with the same stride and groups ("small_conv"); folded, one k×k conv with bias
// ("reparam_conv", the 3×3 kernel zero-padded at the centre). Then squeeze-excite (rd_ratio
// 0.25, divisor 8) when se, then GELU (timm's lkc_use_act, as Apple's code always applies it).
type largeKernelConv struct {
	in, out, kernel, small, stride int
	seHidden                       int
}

func (l largeKernelConv) spec(k int, bias bool) convSpec {
	return convSpec{stride: l.stride, pad: [2]int{k / 2, k / 2}, groups: l.in, bias: bias, kernel: [2]int{k, k}, in: l.in, out: l.out}
}

func (l largeKernelConv) shapes(sh nn.Shapes, prefix string, unfolded bool) {
	if unfolded {
		addConvShapes(sh, prefix+".large_conv.conv", l.spec(l.kernel, false))
		addBatchNormShapes(sh, prefix+".large_conv.bn", l.out)
		addConvShapes(sh, prefix+".small_conv.conv", l.spec(l.small, false))
		addBatchNormShapes(sh, prefix+".small_conv.bn", l.out)
	} else {
		addConvShapes(sh, prefix+".reparam_conv", l.spec(l.kernel, true))
	}
	if l.seHidden > 0 {
		addSEShapes(sh, prefix+".se", l.out, l.seHidden)
	}
}

func (l largeKernelConv) fold(sd checkpoint.StateDict, prefix string) error {
	if hasFolded(sd, prefix) {
		return nil
	}
	k, err := takeConvBN(sd, prefix+".large_conv", l.spec(l.kernel, false))
	if err != nil {
		return err
	}
	s, err := takeConvBN(sd, prefix+".small_conv", l.spec(l.small, false))
	if err != nil {
		return err
	}
	k.add(s, 1)
	putFolded(sd, prefix, k)
	return nil
}

func (l largeKernelConv) build(ctx *context.Context, x *Node, unfolded bool) *Node {
	var y *Node
	if unfolded {
		y = batchNorm(ctx.In("large_conv").In("bn"), conv(ctx.In("large_conv").In("conv"), x, l.spec(l.kernel, false)))
		y = Add(y, batchNorm(ctx.In("small_conv").In("bn"), conv(ctx.In("small_conv").In("conv"), x, l.spec(l.small, false))))
	} else {
		y = conv(ctx.In("reparam_conv"), x, l.spec(l.kernel, true))
	}
	if l.seHidden > 0 {
		y = squeezeExcite(ctx.In("se"), y, l.seHidden)
	}
	return nn.GELU.Apply(y)
}

// poolHead is the classifier head as open_clip uses it for MCi: global average pooling over H, W
// and a Linear to the embedding ("fc", with bias; the bias is zero for converted v1 weights).
// It takes [C, B, H, W] and returns [B, E].
type poolHead struct{ in, embed int }

func (p poolHead) shapes(sh nn.Shapes, prefix string, _ bool) {
	sh.AddLinear(prefix+".fc", p.in, p.embed, true)
}

func (p poolHead) fold(checkpoint.StateDict, string) error { return nil }

func (p poolHead) build(ctx *context.Context, x *Node, _ bool) *Node {
	return nn.Linear(ctx.In("fc"), Transpose(ReduceMean(x, 2, 3), 0, 1)) // [C, B] -> [B, C]
}

// mciModules lists the blocks of an MCi image tower in execution order, with their parameter
// prefixes (timm's fastvit names under ImagePrefix):
//
//	stem.{0,1,2}                          MobileOne 3×3/2 (3→C₀), 3×3/2 depthwise, 1×1
//	stages.{s}.downsample.proj.{0,1}      (s > 0) large-kernel conv C_{s-1}→C_s, MobileOne 1×1
//	stages.{s}.pos_emb                    RepCPE, where CPE[s]
//	stages.{s}.blocks.{j}                 RepMixerBlock or AttentionBlock
//	final_conv                            MobileOne 3×3, groups C, C→FinalRatio·C, SE, GELU
//	head                                  average pooling, fc → E
func mciModules(c MCiConfig, embed int) []namedBlock {
	p := ImagePrefix + "."
	c0 := c.Widths[0]
	stem := func(in, out int, k, stride, groups int) mobileOne {
		return newMobileOne(in, out, [2]int{k, k}, stride, groups, c.StemScaleBranch, 1)
	}
	mods := []namedBlock{
		{p + "stem.0", stem(3, c0, 3, 2, 1)},
		{p + "stem.1", stem(c0, c0, 3, 2, c0)},
		{p + "stem.2", stem(c0, c0, 1, 1, 1)},
	}
	prev := c0
	for s, w := range c.Widths {
		sp := fmt.Sprintf("%sstages.%d.", p, s)
		if s > 0 {
			lk := largeKernelConv{in: prev, out: w, kernel: c.DownsampleKernel, small: 3, stride: 2}
			if c.DownsampleSE[s] {
				lk.seHidden = seReduction(w, 0.25, 8)
			}
			mods = append(mods,
				namedBlock{sp + "downsample.proj.0", lk},
				namedBlock{sp + "downsample.proj.1", newMobileOne(w, w, [2]int{1, 1}, 1, 1, true, 1)})
		}
		if c.CPE[s] {
			mods = append(mods, namedBlock{sp + "pos_emb", repCPE{dim: w, kernel: c.CPEKernel}})
		}
		mlp := convMLP{dim: w, hidden: c.MLPRatio * w, kernel: [2]int{c.ConvFFNKernel, c.ConvFFNKernel}}
		for j := 0; j < c.Depths[s]; j++ {
			var b block
			if c.Mixers[s] == Attention {
				b = attentionBlock{dim: w, headDim: c.HeadDim, norm: c.AttentionNorm, mlp: mlp}
			} else {
				rb := newRepMixerBlock(w, [2]int{c.RepMixerKernel, c.RepMixerKernel}, mlp.kernel, mlp.hidden)
				b = rb
			}
			mods = append(mods, namedBlock{fmt.Sprintf("%sblocks.%d", sp, j), b})
		}
		prev = w
	}
	final := newMobileOne(prev, c.FinalWidth(), [2]int{3, 3}, 1, prev, true, 1)
	final.seHidden = seReduction(c.FinalWidth(), 1.0/16, 1)
	mods = append(mods,
		namedBlock{p + "final_conv", final},
		namedBlock{p + "head", poolHead{in: c.FinalWidth(), embed: embed}})
	return mods
}

// MCiParamShapes returns the parameters of an MCi image tower (folded, or train-time when
// unfolded) with their shapes, for a joint embedding of size embed.
func MCiParamShapes(c MCiConfig, embed int, unfolded bool) nn.Shapes {
	sh := nn.Shapes{}
	for _, m := range mciModules(c, embed) {
		m.block.shapes(sh, m.prefix, unfolded)
	}
	return sh
}

// ImageParamShapes returns the parameters that the image tower of cfg (MCi or MobileViT) reads,
// with their shapes.
func ImageParamShapes(cfg *model.Config) (nn.Shapes, error) {
	switch cfg.Vision.Family {
	case model.MCi:
		c, err := LookupMCi(cfg.Vision.Variant)
		if err != nil {
			return nil, fmt.Errorf("model %q: %w", cfg.Name, err)
		}
		return MCiParamShapes(c, cfg.EmbedDim, cfg.Unfolded), nil
	case model.MobileViT:
		return ViTParamShapes(cfg.Vision, cfg.EmbedDim), nil
	}
	return nil, fmt.Errorf("model %q: %q is not a MobileCLIP image tower", cfg.Name, cfg.Vision.Family)
}

// EncodeMCi builds the MCi image tower for pixels [B, 3, R, R] (NCHW, as preprocessed) and
// returns the image features [B, E] before L2 normalisation. ctx is at the model root; the
// weights are read under ImagePrefix. unfolded selects the train-time branches.
func EncodeMCi(ctx *context.Context, c MCiConfig, embed int, pixels *Node, unfolded bool) *Node {
	d := pixels.Shape().Dimensions
	if len(d) != 4 || d[1] != 3 {
		nn.Panicf("mobileclip: pixels must be [batch, 3, H, W], got %v", d)
	}
	x := TransposeAllDims(pixels, 1, 0, 2, 3) // [3, B, H, W]
	for _, m := range mciModules(c, embed) {
		x = m.block.build(scopeOf(ctx, m.prefix), x, unfolded)
	}
	return x
}
