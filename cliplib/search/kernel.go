package search

// This file holds the distance kernels. Similarity is the inner product of
// L2-normalised float32 vectors, so every search reduces to dot products.
//
// Pure Go has no SIMD intrinsics, so on amd64 the hot loops are written in Go
// assembly (kernel_amd64.s: AVX2+FMA and AVX-512F variants, chosen at start-up
// from the CPU's feature flags); everywhere else, and as the reference the
// assembly is tested against, the unrolled pure-Go loops below are used.

// dotGeneric returns Σ a[i]·b[i] over len(a) elements (b must be at least as
// long). It is unrolled by 8 with 4 independent accumulators so the Go compiler
// keeps them in registers and the adds do not form one serial chain.
func dotGeneric(a, b []float32) float32 {
	n := len(a)
	b = b[:n]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+8 <= n; i += 8 {
		s0 += a[i]*b[i] + a[i+4]*b[i+4]
		s1 += a[i+1]*b[i+1] + a[i+5]*b[i+5]
		s2 += a[i+2]*b[i+2] + a[i+6]*b[i+6]
		s3 += a[i+3]*b[i+3] + a[i+7]*b[i+7]
	}
	for ; i < n; i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// dot2x4Generic computes the 8 dot products of rows r0, r1 against queries
// q0..q3 (all of length len(r0)); out[4*r+q] = <r_r, q_q>. Used by batched
// exact search so each row loaded from memory is reused for 4 queries.
func dot2x4Generic(r0, r1, q0, q1, q2, q3 []float32, out *[8]float32) {
	n := len(r0)
	r1, q0, q1, q2, q3 = r1[:n], q0[:n], q1[:n], q2[:n], q3[:n]
	var a0, a1, a2, a3, b0, b1, b2, b3 float32
	for i := 0; i < n; i++ {
		x, y := r0[i], r1[i]
		a0 += x * q0[i]
		a1 += x * q1[i]
		a2 += x * q2[i]
		a3 += x * q3[i]
		b0 += y * q0[i]
		b1 += y * q1[i]
		b2 += y * q2[i]
		b3 += y * q3[i]
	}
	*out = [8]float32{a0, a1, a2, a3, b0, b1, b2, b3}
}

// kernelSet is one implementation of the distance kernels.
type kernelSet struct {
	name  string
	dot   func(a, b []float32) float32
	dot24 func(r0, r1, q0, q1, q2, q3 []float32, out *[8]float32)
}

var genericKernels = kernelSet{name: "go", dot: dotGeneric, dot24: dot2x4Generic}

// KernelEnv names the environment variable that caps the kernel choice:
// "go", "avx2" or "avx512" (the default is the best the CPU supports). It is
// meant for benchmarking and debugging; an unsupported request falls back to
// the best available kernel below it.
const KernelEnv = "CLIPKIT_SEARCH_KERNEL"

// kern is the kernel set in use, chosen once at init (see kernel_amd64.go).
var kern = genericKernels

// KernelName names the dot-product kernel this process uses: "avx512",
// "avx2" (both amd64 assembly) or "go" (portable unrolled Go).
func KernelName() string { return kern.name }

// dot is the inner product with the selected kernel; len(b) >= len(a).
func dot(a, b []float32) float32 { return kern.dot(a, b) }

// Dot returns the inner product Σ a[i]·b[i] with the fastest kernel for this
// CPU; b must be at least as long as a. Exported for benchmarks and tools.
func Dot(a, b []float32) float32 { return kern.dot(a, b[:len(a)]) }
