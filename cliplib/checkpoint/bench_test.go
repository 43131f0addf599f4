package checkpoint

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// benchStateDict builds a state dict of about mib MiB of float32 values in 4 MiB matrices.
func benchStateDict(mib int) StateDict {
	sd := StateDict{}
	const rows, cols = 1024, 1024 // 4 MiB per tensor
	for i := 0; i < mib/4; i++ {
		t := &Tensor{Shape: []int{rows, cols}, DType: F32, Data: make([]float32, rows*cols)}
		for j := range t.Data {
			t.Data[j] = float32(j%977) * 0.001
		}
		sd[fmt.Sprintf("layer.%d.weight", i)] = t
	}
	return sd
}

// BenchmarkReadSafetensors reads a 64 MiB file stored as F32, F16 and BF16:
//
//	go test -run=^$ -bench=ReadSafetensors ./cliplib/checkpoint/
func BenchmarkReadSafetensors(b *testing.B) {
	sd := benchStateDict(64)
	for _, dt := range []DType{F32, F16, BF16} {
		path := filepath.Join(b.TempDir(), "bench.safetensors")
		if err := WriteSafetensors(path, sd, dt); err != nil {
			b.Fatal(err)
		}
		st, _ := os.Stat(path)
		b.Run(string(dt), func(b *testing.B) {
			b.SetBytes(st.Size())
			for b.Loop() {
				if _, err := ReadSafetensors(path); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestReadLargeCheckpointFile reads the file named by $CLIPKIT_CHECKPOINT_LARGE (any supported
// format) and logs time, throughput and Go heap figures; it is skipped when the variable is
// unset. Peak RSS is measured from outside, e.g. with /usr/bin/time -v on the test binary.
func TestReadLargeCheckpointFile(t *testing.T) {
	path := os.Getenv("CLIPKIT_CHECKPOINT_LARGE")
	if path == "" {
		t.Skip("set CLIPKIT_CHECKPOINT_LARGE=<file> to measure reading a large checkpoint")
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	sd, format, err := ReadFile(path)
	elapsed := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	var elems int
	for _, v := range sd {
		elems += v.NumElements()
	}
	t.Logf("%s (%s): %d tensors, %d elements, %.1f MB file read in %.2fs (%.0f MB/s); Go heap in use %.1f MB, allocated %.1f MB",
		path, format, len(sd), elems, float64(st.Size())/1e6, elapsed.Seconds(), float64(st.Size())/1e6/elapsed.Seconds(),
		float64(after.HeapInuse)/1e6, float64(after.TotalAlloc-before.TotalAlloc)/1e6)
	runtime.KeepAlive(sd)
}
