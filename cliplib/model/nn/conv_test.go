package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/clipkit/clipkit/cliplib/internal/testutil"

	"github.com/gomlx/gomlx/backends"
	_ "github.com/gomlx/gomlx/backends/simplego"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// TestConvMatMulEqualsNative proves that the matrix-product formulations of Conv2dNHWC (im2col,
// patchify, 1×1, depthwise with channel multipliers) compute what the backend's native
// convolution computes, for the shapes CLIP's and MobileCLIP's towers use, with the kernel in
// PyTorch's OIHW layout and in HWIO (ParamConvLayout).
func TestConvMatMulEqualsNative(t *testing.T) {
	backend, err := backends.NewWithConfig("go")
	if err != nil {
		t.Fatal(err)
	}
	defer backend.Finalize()
	rng := rand.New(rand.NewPCG(1, 1))
	for _, tc := range []struct {
		h, w, in, out, k, stride, pad, groups int
	}{
		{9, 9, 3, 8, 3, 2, 1, 1},  // ResNet stem conv1
		{8, 8, 4, 4, 3, 1, 1, 1},  // 3×3 same
		{8, 8, 6, 5, 1, 1, 0, 1},  // 1×1
		{8, 8, 6, 5, 1, 2, 0, 1},  // strided 1×1
		{8, 8, 3, 7, 4, 4, 0, 1},  // patchify
		{8, 8, 4, 4, 3, 1, 1, 4},  // depthwise
		{9, 9, 4, 8, 7, 2, 3, 4},  // depthwise ×2 (MCi downsample)
		{1, 11, 4, 4, 0, 1, 0, 4}, // 1×11 text RepMixer (k=0 means 1×11 below)
	} {
		kh, kw, padH, padW := tc.k, tc.k, tc.pad, tc.pad
		if tc.k == 0 {
			kh, kw, padH, padW = 1, 11, 0, 5
		}
		name := fmt.Sprintf("%dx%dx%d_k%dx%d_s%d_g%d", tc.h, tc.w, tc.in, kh, kw, tc.stride, tc.groups)
		x := testutil.RandTensor(rng, 2, tc.h, tc.w, tc.in)
		w := testutil.RandTensor(rng, tc.out, tc.in/tc.groups, kh, kw)
		b := testutil.RandTensor(rng, tc.out)
		opt := Conv2dOptions{Stride: [2]int{tc.stride, tc.stride}, Padding: [2]int{padH, padW}, Groups: tc.groups}
		run := func(algo, layout string) []float32 {
			e := MustNewExec(backend, func(x, w, b *Node) *Node {
				if layout == LayoutHWIO {
					w = TransposeAllDims(w, OIHWToHWIO...)
				}
				return ConvNHWCLayout(x, w, b, opt, algo, layout)
			})
			out := e.MustExec(x, w, b)[0]
			return tensors.MustCopyFlatData[float32](out)
		}
		n := run(ConvNative, LayoutOIHW)
		for _, v := range [][2]string{{ConvMatMul, LayoutOIHW}, {ConvMatMul, LayoutHWIO}, {ConvNative, LayoutHWIO}} {
			a := run(v[0], v[1])
			worst := 0.0
			for i := range a {
				worst = max(worst, math.Abs(float64(a[i]-n[i])))
			}
			if worst > 1e-4 {
				t.Errorf("%s: %s convolution with %s kernel and native OIHW differ by %g", name, v[0], v[1], worst)
			}
		}
	}
}
