package encoder

import (
	"flag"
	"strings"
)

var benchArch = flag.String("arch", "ViT-B/32", "comma-separated architectures for the benchmarks")

func benchArchs() []string { return strings.Split(*benchArch, ",") }
