//go:build !unix

package preprocess

import "time"

// processCPUTime is not measured on this platform; the cpu-ns/op metric then reads 0.
func processCPUTime() time.Duration { return 0 }
