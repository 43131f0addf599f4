// Package testutil holds the helpers the packages' tests share: the backend they run on and
// random tensors. Tests never go through GoMLX's graphtest.BuildTestBackend, which may try to
// auto-install XLA (and kill the process offline).
package testutil

import (
	"math/rand/v2"
	"os"
	"testing"

	"github.com/gomlx/gomlx/backends"
	_ "github.com/gomlx/gomlx/backends/simplego" // registers "go"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// BackendConfig is the backend configuration tests that honour CLIPKIT_TEST_BACKEND use
// (scripts/test.sh reruns some packages with it set to xla:cpu); "go" (simplego) by default.
func BackendConfig() string {
	if b := os.Getenv("CLIPKIT_TEST_BACKEND"); b != "" {
		return b
	}
	return "go"
}

// SimpleGo returns a fresh simplego backend, finalized when the test ends.
func SimpleGo(t testing.TB) backends.Backend {
	t.Helper()
	b, err := backends.NewWithConfig("go")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Finalize)
	return b
}

// RandTensor returns a float32 tensor of the given dimensions filled with standard normal values
// drawn from rng.
func RandTensor(rng *rand.Rand, dims ...int) *tensors.Tensor {
	n := 1
	for _, d := range dims {
		n *= d
	}
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(rng.NormFloat64())
	}
	return tensors.FromFlatDataAndDimensions(v, dims...)
}
