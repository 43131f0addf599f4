//go:build !amd64

package search

// On other architectures the portable Go kernels (kernel.go) are used.

// archKernels lists the assembly kernel sets this CPU supports: none here.
func archKernels() []kernelSet { return nil }

// prefetch is a no-op without assembly support.
func prefetch(v []float32) {}
