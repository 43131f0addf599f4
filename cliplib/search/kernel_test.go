package search

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// allKernels lists every kernel set this CPU can run.
func allKernels() []kernelSet {
	ks := []kernelSet{genericKernels}
	ks = append(ks, archKernels()...)
	return ks
}

func randVec(r *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	return v
}

func dot64(a, b []float32) float64 {
	var s float64
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return s
}

// TestKernelsMatchFloat64Reference checks every kernel (including tails that
// are not a multiple of the SIMD width) against a float64 reference.
func TestKernelsMatchFloat64Reference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, k := range allKernels() {
		for _, n := range []int{0, 1, 7, 8, 15, 16, 17, 31, 33, 63, 64, 65, 100, 512, 768, 1023, 1024} {
			a, b := randVec(r, n), randVec(r, n)
			want := dot64(a, b)
			got := float64(k.dot(a, b))
			if math.Abs(got-want) > 1e-4*(1+math.Sqrt(float64(n))) {
				t.Errorf("kernel %s dot n=%d: got %g want %g", k.name, n, got, want)
			}
			rows := [][]float32{randVec(r, n), randVec(r, n)}
			qs := [][]float32{randVec(r, n), randVec(r, n), randVec(r, n), randVec(r, n)}
			out := [8]float32{9, 9, 9, 9, 9, 9, 9, 9}
			k.dot24(rows[0], rows[1], qs[0], qs[1], qs[2], qs[3], &out)
			for ri := 0; ri < 2; ri++ {
				for qi := 0; qi < 4; qi++ {
					want := dot64(rows[ri], qs[qi])
					if got := float64(out[4*ri+qi]); math.Abs(got-want) > 1e-4*(1+math.Sqrt(float64(n))) {
						t.Errorf("kernel %s dot2x4 n=%d [%d,%d]: got %g want %g", k.name, n, ri, qi, got, want)
					}
				}
			}
		}
	}
}

func BenchmarkDot512(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	x, y := randVec(r, 512), randVec(r, 512)
	for _, k := range allKernels() {
		b.Run(k.name, func(b *testing.B) {
			var s float32
			for b.Loop() {
				s += k.dot(x, y)
			}
			_ = s
		})
	}
}

func BenchmarkDot2x4_512(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	v := make([][]float32, 6)
	for i := range v {
		v[i] = randVec(r, 512)
	}
	for _, k := range allKernels() {
		b.Run(k.name, func(b *testing.B) {
			var out [8]float32
			for b.Loop() {
				k.dot24(v[0], v[1], v[2], v[3], v[4], v[5], &out)
			}
		})
	}
}

// TestKernelEnvCapsTheKernel re-runs this test binary with KernelEnv=go and
// checks that the child process selected the portable kernel.
func TestKernelEnvCapsTheKernel(t *testing.T) {
	if os.Getenv("SEARCH_KERNEL_CHILD") == "1" {
		fmt.Print("kernel=" + KernelName())
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestKernelEnvCapsTheKernel$")
	cmd.Env = append(os.Environ(), "SEARCH_KERNEL_CHILD=1", KernelEnv+"=go")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "kernel=go") {
		t.Errorf("with %s=go the child used another kernel: %s", KernelEnv, out)
	}
}
