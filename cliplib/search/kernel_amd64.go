package search

import (
	"os"

	"golang.org/x/sys/cpu"
)

// Assembly kernels (kernel_amd64.s). They process the largest prefix whose
// length is a multiple of the vector width; the Go wrappers add the tail.

//go:noescape
func dotAVX2(a, b *float32, n int) float32

//go:noescape
func dotAVX512(a, b *float32, n int) float32

//go:noescape
func dot2x4AVX2(r0, r1, q0, q1, q2, q3 *float32, n int, out *[8]float32)

//go:noescape
func dot2x4AVX512(r0, r1, q0, q1, q2, q3 *float32, n int, out *[8]float32)

func dotAVX2Go(a, b []float32) float32 {
	n := len(a)
	if n == 0 {
		return 0
	}
	b = b[:n]
	m := n &^ 7
	var s float32
	if m > 0 {
		s = dotAVX2(&a[0], &b[0], m)
	}
	for i := m; i < n; i++ {
		s += a[i] * b[i]
	}
	return s
}

func dotAVX512Go(a, b []float32) float32 {
	n := len(a)
	if n == 0 {
		return 0
	}
	b = b[:n]
	m := n &^ 15
	var s float32
	if m > 0 {
		s = dotAVX512(&a[0], &b[0], m)
	}
	for i := m; i < n; i++ {
		s += a[i] * b[i]
	}
	return s
}

// dot2x4Tail finishes a 2x4 block over elements [m, n) in Go.
func dot2x4Tail(r0, r1, q0, q1, q2, q3 []float32, m int, out *[8]float32) {
	for i := m; i < len(r0); i++ {
		x, y := r0[i], r1[i]
		out[0] += x * q0[i]
		out[1] += x * q1[i]
		out[2] += x * q2[i]
		out[3] += x * q3[i]
		out[4] += y * q0[i]
		out[5] += y * q1[i]
		out[6] += y * q2[i]
		out[7] += y * q3[i]
	}
}

func dot2x4AVX2Go(r0, r1, q0, q1, q2, q3 []float32, out *[8]float32) {
	n := len(r0)
	r1, q0, q1, q2, q3 = r1[:n], q0[:n], q1[:n], q2[:n], q3[:n]
	m := n &^ 7
	if m == 0 {
		*out = [8]float32{}
	} else {
		dot2x4AVX2(&r0[0], &r1[0], &q0[0], &q1[0], &q2[0], &q3[0], m, out)
	}
	dot2x4Tail(r0, r1, q0, q1, q2, q3, m, out)
}

func dot2x4AVX512Go(r0, r1, q0, q1, q2, q3 []float32, out *[8]float32) {
	n := len(r0)
	r1, q0, q1, q2, q3 = r1[:n], q0[:n], q1[:n], q2[:n], q3[:n]
	m := n &^ 15
	if m == 0 {
		*out = [8]float32{}
	} else {
		dot2x4AVX512(&r0[0], &r1[0], &q0[0], &q1[0], &q2[0], &q3[0], m, out)
	}
	dot2x4Tail(r0, r1, q0, q1, q2, q3, m, out)
}

var (
	avx2Kernels   = kernelSet{name: "avx2", dot: dotAVX2Go, dot24: dot2x4AVX2Go}
	avx512Kernels = kernelSet{name: "avx512", dot: dotAVX512Go, dot24: dot2x4AVX512Go}
)

// hasAVX2 and hasAVX512 report what this CPU (and OS) support.
var (
	hasAVX2   = cpu.X86.HasAVX2 && cpu.X86.HasFMA
	hasAVX512 = cpu.X86.HasAVX512F && hasAVX2
)

func init() {
	switch want := os.Getenv(KernelEnv); {
	case want == "go":
		kern = genericKernels
	case want == "avx2" && hasAVX2:
		kern = avx2Kernels
	case hasAVX512 && (want == "" || want == "avx512"):
		kern = avx512Kernels
	case hasAVX2:
		kern = avx2Kernels
	}
}

// archKernels lists the assembly kernel sets this CPU supports (for tests).
func archKernels() []kernelSet {
	var ks []kernelSet
	if hasAVX2 {
		ks = append(ks, avx2Kernels)
	}
	if hasAVX512 {
		ks = append(ks, avx512Kernels)
	}
	return ks
}

//go:noescape
func prefetchLines(p *float32, lines int)

// prefetch asks the CPU to start loading v into cache (HNSW fetches the
// vectors of all unvisited neighbours of a node before scoring any of them, so
// their DRAM latencies overlap instead of adding up).
func prefetch(v []float32) {
	if len(v) > 0 {
		prefetchLines(&v[0], (len(v)*4+63)/64)
	}
}
