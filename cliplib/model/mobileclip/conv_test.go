package mobileclip

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	clipbackend "github.com/clipkit/clipkit/cliplib/backend"
	"github.com/clipkit/clipkit/cliplib/internal/testutil"

	"github.com/gomlx/gomlx/backends"
	_ "github.com/gomlx/gomlx/backends/simplego"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/clipkit/clipkit/cliplib/model/nn"
)

// TestConv2dMatchesConvGeneral checks the channels-first convolutions, with both algorithms
// (matrix products with Toeplitz depthwise products, and the shifted-tap depthwise sums XLA
// backends use), against GoMLX's ConvGeneral (through nn.Conv2d, NCHW) on every kind MobileCLIP
// uses, at sizes that are not multiples of the Toeplitz tile.
func TestConv2dMatchesConvGeneral(t *testing.T) {
	cases := []convSpec{
		{stride: 2, pad: [2]int{1, 1}, groups: 1, kernel: [2]int{3, 3}, in: 3, out: 8, bias: true},  // stem.0
		{stride: 2, pad: [2]int{0, 0}, groups: 1, kernel: [2]int{1, 1}, in: 3, out: 8},              // stem.0 scale branch
		{stride: 1, groups: 1, kernel: [2]int{1, 1}, in: 6, out: 10, bias: true},                    // 1×1
		{stride: 4, groups: 1, kernel: [2]int{4, 4}, in: 3, out: 5},                                 // ViT stem conv 0
		{stride: 2, groups: 1, kernel: [2]int{2, 2}, in: 5, out: 7, bias: true},                     // ViT stem conv 2
		{stride: 1, pad: [2]int{3, 3}, groups: 6, kernel: [2]int{7, 7}, in: 6, out: 6, bias: true},  // ConvFFN, CPE
		{stride: 1, pad: [2]int{1, 1}, groups: 6, kernel: [2]int{3, 3}, in: 6, out: 6, bias: true},  // RepMixer
		{stride: 2, pad: [2]int{1, 1}, groups: 6, kernel: [2]int{3, 3}, in: 6, out: 6},              // stem.1
		{stride: 2, pad: [2]int{3, 3}, groups: 4, kernel: [2]int{7, 7}, in: 4, out: 8, bias: true},  // downsample, ×2
		{stride: 2, pad: [2]int{1, 1}, groups: 4, kernel: [2]int{3, 3}, in: 4, out: 8},              // its 3×3 branch
		{stride: 1, pad: [2]int{1, 1}, groups: 4, kernel: [2]int{3, 3}, in: 4, out: 8, bias: true},  // final conv, ×2
		{stride: 1, pad: [2]int{0, 5}, groups: 5, kernel: [2]int{1, 11}, in: 5, out: 5, bias: true}, // text RepMixer
		{stride: 2, pad: [2]int{0, 0}, groups: 4, kernel: [2]int{1, 1}, in: 4, out: 8},              // 1×1 depthwise ×2
	}
	// Even sizes take depthwisePhaseTaps on XLA (stride 1 and 2), odd ones the padded-row taps.
	sizes := [][2]int{{13, 19}, {16, 16}, {1, 77}, {8, 3}, {14, 18}}
	if testing.Short() && testutil.BackendConfig() != "go" {
		sizes = [][2]int{{14, 18}, {1, 77}} // XLA compiles every case: keep -short runs short
	}
	backend, err := clipbackend.New(testutil.BackendConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer backend.Finalize()
	rng := rand.New(rand.NewPCG(5, 6))
	for _, s := range cases {
		for _, hw := range sizes {
			h, w := hw[0], hw[1]
			if h+2*s.pad[0] < s.kernel[0] || w+2*s.pad[1] < s.kernel[1] || (s.kernel[0] == 4 && (h%4 != 0 || w%4 != 0)) {
				continue
			}
			for _, algo := range []string{nn.ConvMatMul, nn.ConvNative} {
				name := fmt.Sprintf("%s/k%dx%d_s%d_g%d_%dto%d_%dx%d", algo, s.kernel[0], s.kernel[1], s.stride, s.groups, s.in, s.out, h, w)
				t.Run(name, func(t *testing.T) {
					const batch = 2
					x := testutil.RandTensor(rng, batch, s.in, h, w)
					wt := testutil.RandTensor(rng, s.out, s.in/s.groups, s.kernel[0], s.kernel[1])
					bias := testutil.RandTensor(rng, s.out)
					ctx := context.New()
					ctx.SetParam(nn.ParamConvAlgorithm, algo)
					ctx.In("c").VariableWithValue("weight", wt)
					if s.bias {
						ctx.In("c").VariableWithValue("bias", bias)
					}
					outs, err := context.ExecOnceN(backend, ctx.Reuse(), func(ctx *context.Context, x *Node) []*Node {
						want := nn.Conv2d(ctx.In("c"), x, nn.Conv2dOptions{Stride: [2]int{s.stride, s.stride}, Padding: s.pad, Groups: s.groups})
						got := conv(ctx.In("c"), TransposeAllDims(x, 1, 0, 2, 3), s)
						return []*Node{want, TransposeAllDims(got, 1, 0, 2, 3)}
					}, x)
					if err != nil {
						t.Fatal(err)
					}
					want, got := tensors.MustCopyFlatData[float32](outs[0]), tensors.MustCopyFlatData[float32](outs[1])
					if !outs[0].Shape().Equal(outs[1].Shape()) {
						t.Fatalf("shape %s, want %s", outs[1].Shape(), outs[0].Shape())
					}
					d := 0.0
					for i := range want {
						d = math.Max(d, math.Abs(float64(got[i]-want[i])))
					}
					if d > 1e-4 {
						t.Errorf("max |conv2d - ConvGeneral| = %g", d)
					}
				})
			}
		}
	}
}

// BenchmarkDepthwise7x7 compares, on the backend CLIPKIT_TEST_BACKEND names (simplego by
// default), the depthwise convolutions of the two algorithms (Toeplitz products, used on
// simplego; shifted-tap sums, used on XLA) with GoMLX's grouped ConvGeneral and with an unfused
// sum of 49 2-D shifted slices, on the ConvFFN shapes of MCi stage 1 (128 channels, 32×32) at
// batch 1 and 8. Run with:
//
//	CLIPKIT_TEST_BACKEND=xla:cpu go test -run=^$ -bench=Depthwise ./cliplib/model/mobileclip/
func BenchmarkDepthwise7x7(b *testing.B) {
	const c, hw = 128, 32
	backend, err := clipbackend.New(testutil.BackendConfig())
	if err != nil {
		b.Fatal(err)
	}
	defer backend.Finalize()
	rng := rand.New(rand.NewPCG(1, 1))
	w := testutil.RandTensor(rng, c, 1, 7, 7)
	spec := convSpec{stride: 1, pad: [2]int{3, 3}, groups: c, kernel: [2]int{7, 7}, in: c, out: c}
	taps := spec
	taps.algo = nn.ConvNative
	impls := map[string]func(x, w *Node) *Node{
		"toeplitz": func(x, w *Node) *Node { return conv2d(x, w, nil, spec) },
		"taps":     func(x, w *Node) *Node { return conv2d(x, w, nil, taps) },
		"shifted-slices": func(x, w *Node) *Node {
			xp := pad2d(x, 3, 3, 3, 3)
			var acc *Node
			for i := 0; i < 7; i++ {
				for j := 0; j < 7; j++ {
					k := Reshape(Slice(w, AxisRange(), AxisRange(), AxisElem(i), AxisElem(j)), c, 1, 1, 1)
					term := Mul(tap(xp, i, j, hw, hw, 1), k)
					if acc == nil {
						acc = term
					} else {
						acc = Add(acc, term)
					}
				}
			}
			return acc
		},
		"ConvGeneral": func(x, w *Node) *Node {
			return ConvGeneral(x, w, backends.ConvolveAxesConfig{
				InputBatch: 1, InputChannels: 0, InputSpatial: []int{2, 3},
				KernelOutputChannels: 0, KernelInputChannels: 1, KernelSpatial: []int{2, 3},
				OutputBatch: 1, OutputChannels: 0, OutputSpatial: []int{2, 3},
			}, []int{1, 1}, [][2]int{{3, 3}, {3, 3}}, nil, []int{1, 1}, c, 1)
		},
	}
	for _, batch := range []int{1, 8} {
		x := testutil.RandTensor(rng, c, batch, hw, hw)
		for _, name := range []string{"toeplitz", "taps", "shifted-slices", "ConvGeneral"} {
			b.Run(fmt.Sprintf("%s/batch%d", name, batch), func(b *testing.B) { timeConv(b, backend, impls[name], x, w) })
		}
	}
}

// BenchmarkDepthwiseShapes times the depthwise convolutions the MCi image towers run, at batch 8,
// with the algorithm of the backend CLIPKIT_TEST_BACKEND names (the shifted-tap sums on XLA):
// the RepMixers' 3×3 and the ConvFFNs' 7×7 on the feature maps of MCi0's first three stages at
// 256×256 input (64 channels at 64×64, 128 at 32×32, 256 at 16×16). tools/bench/torch_depthwise.py
// times PyTorch's torch.nn.Conv2d on the same shapes. Run with:
//
//	CLIPKIT_TEST_BACKEND=xla:cpu go test -run=^$ -bench=DepthwiseShapes -benchtime 20x ./cliplib/model/mobileclip/
func BenchmarkDepthwiseShapes(b *testing.B) {
	backend, err := clipbackend.New(testutil.BackendConfig())
	if err != nil {
		b.Fatal(err)
	}
	defer backend.Finalize()
	algo := nn.ConvNative // as the encoder sets it on XLA backends
	if strings.Contains(strings.ToLower(backend.Name()), "simplego") {
		algo = nn.ConvMatMul
	}
	rng := rand.New(rand.NewPCG(1, 1))
	const batch = 8
	for _, sh := range []struct{ c, hw, k int }{{64, 64, 3}, {64, 64, 7}, {128, 32, 3}, {128, 32, 7}, {256, 16, 3}, {256, 16, 7}} {
		spec := convSpec{stride: 1, pad: [2]int{sh.k / 2, sh.k / 2}, groups: sh.c, kernel: [2]int{sh.k, sh.k}, in: sh.c, out: sh.c, algo: algo}
		w := testutil.RandTensor(rng, sh.c, 1, sh.k, sh.k)
		x := testutil.RandTensor(rng, sh.c, batch, sh.hw, sh.hw)
		b.Run(fmt.Sprintf("c%d_%dx%d_k%d_batch%d", sh.c, sh.hw, sh.hw, sh.k, batch), func(b *testing.B) {
			timeConv(b, backend, func(x, w *Node) *Node { return conv2d(x, w, nil, spec) }, x, w)
		})
	}
}

// timeConv compiles conv on backend, runs it once untimed, then times b.N calls on (x, w).
func timeConv(b *testing.B, backend backends.Backend, conv func(x, w *Node) *Node, x, w *tensors.Tensor) {
	exec, err := NewExec(backend, conv)
	if err != nil {
		b.Fatal(err)
	}
	defer exec.Finalize()
	if _, err := exec.Exec(x, w); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		out, err := exec.Exec(x, w)
		if err != nil {
			b.Fatal(err)
		}
		out[0].FinalizeAll()
	}
}

// TestFusionBarriersAreExact checks that fusionBarrier (a division by ones computed at run time)
// and keepApart (a multiplication by them) return their input bit for bit, including negative
// zeros, the largest value and the smallest normal one. (Subnormals are left out: XLA's CPU
// runtime flushes them to zero in every operation.)
func TestFusionBarriersAreExact(t *testing.T) {
	backend, err := clipbackend.New(testutil.BackendConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer backend.Finalize()
	rng := rand.New(rand.NewPCG(3, 4))
	y := testutil.RandTensor(rng, 4, 2, 3, 5)
	vals := tensors.MustCopyFlatData[float32](y)
	vals[0], vals[1], vals[2] = float32(math.Copysign(0, -1)), math.MaxFloat32, -0x1p-126
	y = tensors.FromFlatDataAndDimensions(vals, 4, 2, 3, 5)
	k := testutil.RandTensor(rng, 4, 3, 3)
	for name, barrier := range map[string]func(y, k *Node) *Node{"fusionBarrier": fusionBarrier, "keepApart": keepApart} {
		t.Run(name, func(t *testing.T) {
			exec, err := NewExec(backend, barrier)
			if err != nil {
				t.Fatal(err)
			}
			defer exec.Finalize()
			out, err := exec.Exec(y, k)
			if err != nil {
				t.Fatal(err)
			}
			got := tensors.MustCopyFlatData[float32](out[0])
			for i, v := range vals {
				if math.Float32bits(got[i]) != math.Float32bits(v) {
					t.Fatalf("%s changed element %d: %g -> %g", name, i, v, got[i])
				}
			}
		})
	}
}
