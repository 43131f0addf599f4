package explore

import "github.com/clipkit/clipkit/cliplib/bench"

// Memory is the memory use of this process (bench.Memory): resident now and at peak (Linux
// /proc/self/status) and the GPU memory it holds where an NVIDIA GPU is visible (Device, -1 when
// not measured, with DeviceNote saying why).
type Memory = bench.Memory

// ProcessMemory reads the current and peak resident memory of this process and its GPU memory
// (bench.ProcessMemory). It needs Linux's /proc; elsewhere it returns an error.
func ProcessMemory() (Memory, error) { return bench.ProcessMemory() }
