package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/clipkit/clipkit/cliplib/internal/testutil"

	_ "github.com/gomlx/gomlx/backends/simplego"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
)

// refConv2d is a direct (loop) implementation of torch.nn.functional.conv2d for NCHW input
// [b, cin, h, w] and OIHW weight [cout, cin/groups, kh, kw] with symmetric padding.
func refConv2d(x []float32, b, cin, h, w int, wt []float32, cout, kh, kw, stride, padH, padW, groups int) ([]float32, int, int) {
	oh := (h+2*padH-kh)/stride + 1
	ow := (w+2*padW-kw)/stride + 1
	inPer, outPer := cin/groups, cout/groups
	out := make([]float32, b*cout*oh*ow)
	for n := 0; n < b; n++ {
		for o := 0; o < cout; o++ {
			g := o / outPer
			for y := 0; y < oh; y++ {
				for xx := 0; xx < ow; xx++ {
					var s float64
					for ci := 0; ci < inPer; ci++ {
						c := g*inPer + ci
						for ky := 0; ky < kh; ky++ {
							iy := y*stride + ky - padH
							if iy < 0 || iy >= h {
								continue
							}
							for kx := 0; kx < kw; kx++ {
								ix := xx*stride + kx - padW
								if ix < 0 || ix >= w {
									continue
								}
								s += float64(x[((n*cin+c)*h+iy)*w+ix]) * float64(wt[((o*inPer+ci)*kh+ky)*kw+kx])
							}
						}
					}
					out[((n*cout+o)*oh+y)*ow+xx] = float32(s)
				}
			}
		}
	}
	return out, oh, ow
}

func randSlice(rng *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(rng.NormFloat64())
	}
	return v
}

// TestConv2dGroupedChannelMultiplier checks nn.Conv2d against a loop reference for the grouped
// convolutions MobileCLIP uses, including channel multipliers (groups = in, out = 2·in: the MCi
// downsampling 7×7 and the final 3×3 conv) and non-square (1×11) depthwise kernels.
func TestConv2dGroupedChannelMultiplier(t *testing.T) {
	cases := []struct {
		cin, cout, k, kw, stride, pad, padW, groups, h, w int
	}{
		{cin: 4, cout: 8, k: 7, kw: 7, stride: 2, pad: 3, padW: 3, groups: 4, h: 9, w: 10},  // LKC downsample
		{cin: 4, cout: 8, k: 3, kw: 3, stride: 1, pad: 1, padW: 1, groups: 4, h: 5, w: 5},   // final conv
		{cin: 6, cout: 6, k: 3, kw: 3, stride: 2, pad: 1, padW: 1, groups: 6, h: 8, w: 8},   // depthwise stem
		{cin: 6, cout: 12, k: 1, kw: 1, stride: 2, pad: 0, padW: 0, groups: 6, h: 7, w: 7},  // 1×1 scale branch
		{cin: 5, cout: 5, k: 1, kw: 11, stride: 1, pad: 0, padW: 5, groups: 5, h: 1, w: 13}, // text RepMixer
		{cin: 6, cout: 4, k: 3, kw: 3, stride: 1, pad: 1, padW: 1, groups: 2, h: 4, w: 6},   // ordinary grouped
	}
	backend := testutil.SimpleGo(t)
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range cases {
		name := fmt.Sprintf("in=%d,out=%d,k=%dx%d,s=%d,groups=%d", tc.cin, tc.cout, tc.k, tc.kw, tc.stride, tc.groups)
		t.Run(name, func(t *testing.T) {
			const batch = 2
			x := randSlice(rng, batch*tc.cin*tc.h*tc.w)
			wt := randSlice(rng, tc.cout*(tc.cin/tc.groups)*tc.k*tc.kw)
			bias := randSlice(rng, tc.cout)
			want, oh, ow := refConv2d(x, batch, tc.cin, tc.h, tc.w, wt, tc.cout, tc.k, tc.kw, tc.stride, tc.pad, tc.padW, tc.groups)
			for i := range want {
				want[i] += bias[(i/(oh*ow))%tc.cout]
			}
			ctx := context.New()
			ctx.In("conv").VariableWithValue("weight", tensors.FromFlatDataAndDimensions(wt, tc.cout, tc.cin/tc.groups, tc.k, tc.kw))
			ctx.In("conv").VariableWithValue("bias", tensors.FromFlatDataAndDimensions(bias, tc.cout))
			out, err := context.ExecOnce(backend, ctx.Reuse(), func(ctx *context.Context, x *Node) *Node {
				return Conv2d(ctx.In("conv"), x, Conv2dOptions{Stride: [2]int{tc.stride, tc.stride},
					Padding: [2]int{tc.pad, tc.padW}, Groups: tc.groups})
			}, tensors.FromFlatDataAndDimensions(x, batch, tc.cin, tc.h, tc.w))
			if err != nil {
				t.Fatal(err)
			}
			if got := out.Shape().Dimensions; got[0] != batch || got[1] != tc.cout || got[2] != oh || got[3] != ow {
				t.Fatalf("output shape %v, want [%d %d %d %d]", got, batch, tc.cout, oh, ow)
			}
			got := tensors.MustCopyFlatData[float32](out)
			maxDiff := 0.0
			for i := range want {
				maxDiff = math.Max(maxDiff, math.Abs(float64(got[i]-want[i])))
			}
			if maxDiff > 1e-4 {
				t.Errorf("max |Conv2d - reference| = %g", maxDiff)
			}
		})
	}
}
