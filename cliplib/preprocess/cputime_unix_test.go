//go:build unix

package preprocess

import (
	"syscall"
	"time"
)

// processCPUTime is the user+system CPU time of this process so far. The benchmarks report it
// per operation ("cpu-ns/op") because wall time is unreliable on a shared, oversubscribed
// machine.
func processCPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
