// Package resnet builds CLIP's ModifiedResNet image tower (RN50, RN101, RN50x4, RN50x16, RN50x64)
// as a GoMLX graph, faithful to OpenAI's model.py:
//
//	stem: 3×(conv3×3 + BN + ReLU) (first with stride 2), AvgPool2d(2)
//	4 stages of Bottlenecks (expansion 4; the strided ones average-pool after conv2, and their
//	identity branch average-pools before its 1×1 conv: anti-aliased downsampling)
//	AttentionPool2d: [mean token; spatial tokens] + positional embedding, multi-head attention
//	with the mean token as the only query, c_proj to the embedding
//
// Parameters are read under OpenAI's names relative to the "visual" scope (conv1, bn1, ...,
// layer{1-4}.{j}.conv{1,2,3}, bn{1,2,3}, downsample.{0,1}, attnpool.*). A convolution followed by
// a BatchNorm can be given either unfolded (conv without bias + BN with running statistics, as
// checkpoints store them) or folded into a conv with a bias (see FoldBatchNorm): the graph uses
// whichever form the context holds.
package resnet

import (
	"fmt"

	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/clipkit/clipkit/cliplib/model"
	"github.com/clipkit/clipkit/cliplib/model/nn"
)

// Expansion is the Bottleneck's channel expansion factor.
const Expansion = 4

// bnEps is PyTorch's BatchNorm2d default epsilon, used by CLIP.
const bnEps = 1e-5

// convBN applies conv (scope convName) then BN (scope bnName) if the BN parameters are present,
// else the conv alone (which then carries the folded bias). Activations are channels-last
// [B, H, W, C] inside the tower (see nn.Conv2dNHWC for why).
func convBN(ctx *context.Context, x *Node, convName, bnName string, opt nn.Conv2dOptions) *Node {
	x = nn.Conv2dNHWC(ctx.In(convName), x, opt)
	if bn := ctx.In(bnName); nn.Has(bn, "running_mean") {
		x = nn.BatchNormNHWC(bn, x, bnEps)
	}
	return x
}

func relu(x *Node) *Node { return nn.ReLU.Apply(x) }

// Stem applies the three-convolution stem and the 2×2 average pool: [B,R,R,3] → [B,R/4,R/4,w].
func Stem(ctx *context.Context, x *Node) *Node {
	x = relu(convBN(ctx, x, "conv1", "bn1", nn.Conv2dOptions{Stride: [2]int{2, 2}, Padding: [2]int{1, 1}}))
	x = relu(convBN(ctx, x, "conv2", "bn2", nn.Conv2dOptions{Padding: [2]int{1, 1}}))
	x = relu(convBN(ctx, x, "conv3", "bn3", nn.Conv2dOptions{Padding: [2]int{1, 1}}))
	return nn.AvgPoolNHWC(x, 2)
}

// Bottleneck applies one block with the given stride: [B,H,W,C] → [B,H/s,W/s,4·planes]. The
// identity branch (downsample) exists when the context holds it.
func Bottleneck(ctx *context.Context, x *Node, stride int) *Node {
	out := relu(convBN(ctx, x, "conv1", "bn1", nn.Conv2dOptions{}))
	out = relu(convBN(ctx, out, "conv2", "bn2", nn.Conv2dOptions{Padding: [2]int{1, 1}}))
	out = nn.AvgPoolNHWC(out, stride)
	out = convBN(ctx, out, "conv3", "bn3", nn.Conv2dOptions{})
	identity := x
	if ds := ctx.In("downsample"); nn.Has(ds.In("0"), "weight") {
		identity = convBN(ds, nn.AvgPoolNHWC(x, stride), "0", "1", nn.Conv2dOptions{})
	}
	return relu(Add(out, identity))
}

// AttentionPool applies AttentionPool2d to x [B, g, g, C] with heads heads and returns [B, E].
// Parameters: positional_embedding [g²+1, C], {q,k,v,c}_proj.{weight,bias}. Spatial tokens are in
// row-major order, as torch's flatten(2) of the NCHW map gives them.
func AttentionPool(ctx *context.Context, x *Node, heads int) *Node {
	g := x.Graph()
	d := x.Shape().Dimensions
	batch, tokens, c := d[0], d[1]*d[2], d[3]
	x = Reshape(x, batch, tokens, c)        // [B, HW, C]
	mean := ReduceAndKeep(x, ReduceMean, 1) // [B, 1, C]
	x = Concatenate([]*Node{mean, x}, 1)    // [B, HW+1, C]
	pos := nn.Weight(ctx, g, "positional_embedding", tokens+1, c)
	if pos.DType() != x.DType() {
		pos = ConvertDType(pos, x.DType())
	}
	x = Add(x, ExpandLeftToRank(pos, 3))
	headDim := c / heads
	if headDim*heads != c {
		nn.Panicf("attnpool: %d channels are not divisible by %d heads", c, heads)
	}
	query := Slice(x, AxisRange(), AxisRange(0, 1)) // the mean token only
	q := Reshape(nn.Linear(ctx.In("q_proj"), query), batch, 1, heads, headDim)
	k := Reshape(nn.Linear(ctx.In("k_proj"), x), batch, tokens+1, heads, headDim)
	v := Reshape(nn.Linear(ctx.In("v_proj"), x), batch, tokens+1, heads, headDim)
	out := nn.AttentionOut(ctx.In("c_proj"), nn.ScaledDotProductAttention(q, k, v, nil)) // [B, 1, E]
	return Reshape(out, batch, out.Shape().Dimensions[2])
}

// Encode builds the image tower for pixels [B, 3, R, R] and returns the image features [B, E]
// before L2 normalisation. ctx must be at the "visual" scope.
func Encode(ctx *context.Context, cfg model.VisionConfig, pixels *Node) *Node {
	if d := pixels.Shape().Dimensions; d[2] != cfg.ImageSize || d[3] != cfg.ImageSize {
		nn.Panicf("resnet: model expects %d×%d images, got pixels of shape %v", cfg.ImageSize, cfg.ImageSize, d)
	}
	x := Stem(ctx, TransposeAllDims(pixels, 0, 2, 3, 1)) // NCHW → NHWC
	for stage, blocks := range cfg.StageBlocks {
		layer := ctx.In(fmt.Sprintf("layer%d", stage+1))
		for j := 0; j < blocks; j++ {
			stride := 1
			if stage > 0 && j == 0 {
				stride = 2
			}
			x = Bottleneck(layer.In(fmt.Sprint(j)), x, stride)
		}
	}
	return AttentionPool(ctx.In("attnpool"), x, cfg.Heads)
}

// ParamShapes returns the parameters the tower reads (under "visual."), with their shapes. When
// folded is true, every conv+BN pair is expected in folded form (conv weight and bias, no BN).
func ParamShapes(cfg model.VisionConfig, embedDim int, folded bool) nn.Shapes {
	s := nn.Shapes{}
	conv := func(prefix, bn string, in, out, k int) {
		s[prefix+".weight"] = []int{out, in, k, k}
		if folded {
			s[prefix+".bias"] = []int{out}
		} else {
			s.AddBatchNorm(bn, out)
		}
	}
	w := cfg.Width
	conv("visual.conv1", "visual.bn1", 3, w/2, 3)
	conv("visual.conv2", "visual.bn2", w/2, w/2, 3)
	conv("visual.conv3", "visual.bn3", w/2, w, 3)
	inplanes := w
	for stage, blocks := range cfg.StageBlocks {
		planes := w << stage
		for j := 0; j < blocks; j++ {
			stride := 1
			if stage > 0 && j == 0 {
				stride = 2
			}
			p := fmt.Sprintf("visual.layer%d.%d.", stage+1, j)
			conv(p+"conv1", p+"bn1", inplanes, planes, 1)
			conv(p+"conv2", p+"bn2", planes, planes, 3)
			conv(p+"conv3", p+"bn3", planes, planes*Expansion, 1)
			if stride > 1 || inplanes != planes*Expansion {
				conv(p+"downsample.0", p+"downsample.1", inplanes, planes*Expansion, 1)
			}
			inplanes = planes * Expansion
		}
	}
	c, grid := w*32, cfg.ImageSize/32
	s["visual.attnpool.positional_embedding"] = []int{grid*grid + 1, c}
	s.AddLinear("visual.attnpool.q_proj", c, c, true)
	s.AddLinear("visual.attnpool.k_proj", c, c, true)
	s.AddLinear("visual.attnpool.v_proj", c, c, true)
	s.AddLinear("visual.attnpool.c_proj", c, embedDim, true)
	return s
}
