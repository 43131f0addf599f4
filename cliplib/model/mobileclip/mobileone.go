package mobileclip

import (
	"fmt"

	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/clipkit/clipkit/cliplib/checkpoint"
	"github.com/clipkit/clipkit/cliplib/model/nn"
)

// block is one re-parameterisable (or plain) piece of a MobileCLIP tower. The same description
// drives the parameter list, the load-time folding and the graph, so the three cannot drift.
type block interface {
	// shapes records the block's parameters under prefix, in folded or train-time form.
	shapes(sh nn.Shapes, prefix string, unfolded bool)
	// fold replaces, in sd, the block's train-time parameters under prefix by their folded
	// form; blocks without re-parameterisable parts do nothing.
	fold(sd checkpoint.StateDict, prefix string) error
	// build applies the block (parameters read from ctx, at the block's scope) to x
	// [C, B, H, W], channels first.
	build(ctx *context.Context, x *Node, unfolded bool) *Node
}

// namedBlock is a block with its parameter-name prefix ("visual.trunk.stem.0").
type namedBlock struct {
	prefix string
	block  block
}

// scopeOf returns ctx moved to the scope of a dotted parameter prefix.
func scopeOf(ctx *context.Context, prefix string) *context.Context {
	for _, part := range splitDots(prefix) {
		ctx = ctx.In(part)
	}
	return ctx
}

func splitDots(s string) []string {
	var parts []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '.' {
			parts = append(parts, s[start:i])
			start = i + 1
		}
	}
	return append(parts, s[start:])
}

// mobileOne is MobileOneBlock(in, out, kernel, stride, groups): at train time the sum of
// conv_kxk.{i} (k×k conv + BN, convs of them), conv_scale (1×1 conv + BN, when scale) and
// identity (BN of the input, when in = out and stride = 1); folded, one k×k conv with bias
// (reparam_conv). Then squeeze-excite (se, when seHidden > 0), then GELU (when act).
// Convolutions use padding kernel/2.
type mobileOne struct {
	in, out  int
	kernel   [2]int
	stride   int
	groups   int
	convs    int  // number of conv_kxk branches (1; 0 for RepMixer's norm)
	scale    bool // has the 1×1 conv_scale branch
	identity bool // has the identity BN branch
	seHidden int  // squeeze-excite hidden width, 0 for none
	act      bool // GELU at the end
}

// newMobileOne describes a MobileOneBlock as timm's (and Apple's) constructor does: the identity
// branch exists iff in == out and stride == 1, the scale branch iff useScale and the kernel has
// more than one row (Apple's check on kernel_size[0]: the 1×11 text kernels have none).
func newMobileOne(in, out int, kernel [2]int, stride, groups int, useScale bool, convs int) mobileOne {
	return mobileOne{in: in, out: out, kernel: kernel, stride: stride, groups: max(groups, 1), convs: convs,
		scale: useScale && kernel[0] > 1, identity: in == out && stride == 1, act: true}
}

func (m mobileOne) spec(kernel [2]int, bias bool) convSpec {
	pad := [2]int{kernel[0] / 2, kernel[1] / 2}
	return convSpec{stride: m.stride, pad: pad, groups: m.groups, bias: bias, kernel: kernel, in: m.in, out: m.out}
}

func (m mobileOne) shapes(sh nn.Shapes, prefix string, unfolded bool) {
	if !unfolded {
		addConvShapes(sh, prefix+".reparam_conv", m.spec(m.kernel, true))
	} else {
		for i := 0; i < m.convs; i++ {
			p := fmt.Sprintf("%s.conv_kxk.%d", prefix, i)
			addConvShapes(sh, p+".conv", m.spec(m.kernel, false))
			addBatchNormShapes(sh, p+".bn", m.out)
		}
		if m.scale {
			addConvShapes(sh, prefix+".conv_scale.conv", m.spec([2]int{1, 1}, false))
			addBatchNormShapes(sh, prefix+".conv_scale.bn", m.out)
		}
		if m.identity {
			addBatchNormShapes(sh, prefix+".identity", m.in)
		}
	}
	if m.seHidden > 0 {
		addSEShapes(sh, prefix+".se", m.out, m.seHidden)
	}
}

// foldedKernel removes the train-time branches of the block from sd and returns their sum as
// one kernel.
func (m mobileOne) foldedKernel(sd checkpoint.StateDict, prefix string) (kern, error) {
	inPer := m.in / m.groups
	k := newKern(m.out, inPer, m.kernel[0], m.kernel[1])
	for i := 0; i < m.convs; i++ {
		c, err := takeConvBN(sd, fmt.Sprintf("%s.conv_kxk.%d", prefix, i), m.spec(m.kernel, false))
		if err != nil {
			return kern{}, err
		}
		k.add(c, 1)
	}
	if m.scale {
		c, err := takeConvBN(sd, prefix+".conv_scale", m.spec([2]int{1, 1}, false))
		if err != nil {
			return kern{}, err
		}
		k.add(c, 1)
	}
	if m.identity {
		c, err := takeIdentityBN(sd, prefix+".identity", m.in, inPer, m.kernel[0], m.kernel[1])
		if err != nil {
			return kern{}, err
		}
		k.add(c, 1)
	}
	return k, nil
}

func (m mobileOne) fold(sd checkpoint.StateDict, prefix string) error {
	if hasFolded(sd, prefix) {
		if left := trainTimeLeftovers(sd, prefix, "conv_kxk.", "conv_scale.", "identity."); len(left) > 0 {
			return fmt.Errorf("block %s has both a folded reparam_conv and train-time branches (%v)", prefix, left)
		}
		return nil
	}
	k, err := m.foldedKernel(sd, prefix)
	if err != nil {
		return err
	}
	putFolded(sd, prefix, k)
	return nil
}

// branches returns the pre-SE output of the block: the folded conv, or the sum of the train-time
// branches.
func (m mobileOne) branches(ctx *context.Context, x *Node, unfolded bool) *Node {
	if !unfolded {
		return conv(ctx.In("reparam_conv"), x, m.spec(m.kernel, true))
	}
	var sum *Node
	acc := func(y *Node) {
		if sum == nil {
			sum = y
		} else {
			sum = Add(sum, y)
		}
	}
	for i := 0; i < m.convs; i++ {
		c := ctx.In("conv_kxk").In(fmt.Sprint(i))
		acc(batchNorm(c.In("bn"), conv(c.In("conv"), x, m.spec(m.kernel, false))))
	}
	if m.scale {
		c := ctx.In("conv_scale")
		acc(batchNorm(c.In("bn"), conv(c.In("conv"), x, m.spec([2]int{1, 1}, false))))
	}
	if m.identity {
		acc(batchNorm(ctx.In("identity"), x))
	}
	if sum == nil {
		nn.Panicf("mobileclip: MobileOne block %q has no branch", nn.ParamName(ctx.Scope(), ""))
	}
	return sum
}

func (m mobileOne) build(ctx *context.Context, x *Node, unfolded bool) *Node {
	y := m.branches(ctx, x, unfolded)
	if m.seHidden > 0 {
		y = squeezeExcite(ctx.In("se"), y, m.seHidden)
	}
	if m.act {
		y = nn.GELU.Apply(y)
	}
	return y
}
