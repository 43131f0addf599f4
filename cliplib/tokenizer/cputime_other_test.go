//go:build !unix

package tokenizer

import "time"

// processCPU is not measured on this platform (the per-CPU-second metrics are then omitted).
func processCPU() time.Duration { return 0 }
