package encoder

import (
	"flag"
	"strconv"
	"strings"
)

var benchArch = flag.String("arch", "ViT-B/32", "comma-separated architectures for the benchmarks")

func benchArchs() []string { return strings.Split(*benchArch, ",") }

var benchBatches = flag.String("batches", "1,8,32", "comma-separated batch sizes for the benchmarks")

// benchBatchSizes parses -batches (sizes that do not parse are skipped).
func benchBatchSizes() []int {
	var out []int
	for _, f := range strings.Split(*benchBatches, ",") {
		if n, err := strconv.Atoi(strings.TrimSpace(f)); err == nil && n > 0 {
			out = append(out, n)
		}
	}
	return out
}
