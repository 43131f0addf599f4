package bench

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
)

// ReadReport reads a JSON report written by `clipx bench models --json` or by
// tools/bench/torch_bench.py (same schema).
func ReadReport(path string) (*Report, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r Report
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &r, nil
}

// key identifies a point across reports; model names are compared in clipkit's spelling.
func key(r Result) string {
	m := r.Model
	for oc, ck := range map[string]string{"ViT-B-32": "ViT-B/32", "ViT-B-16": "ViT-B/16", "ViT-L-14-336": "ViT-L/14@336px", "ViT-L-14": "ViT-L/14"} {
		if m == oc {
			m = ck
		}
	}
	return fmt.Sprintf("%s|%s|%d|%s", m, r.Tower, r.Batch, r.Precision)
}

// CompareTable formats ours next to a reference report (e.g. PyTorch on the same machine), with
// the throughput ratio ours/reference for every point both measured.
func CompareTable(ours, ref *Report) string {
	refBy := map[string]Result{}
	for _, r := range ref.Results {
		refBy[key(r)] = r
	}
	var b strings.Builder
	fmt.Fprintf(&b, "ours:      %s on %s\nreference: %s on %s\n", ours.Backend, ours.Machine, ref.Backend, ref.Machine)
	fmt.Fprintf(&b, "%-16s %-5s %5s %-4s %12s %12s %8s\n", "model", "tower", "batch", "prec", "ours items/s", "ref items/s", "ratio")
	for _, r := range ours.Results {
		o := refBy[key(r)]
		switch {
		case r.Error != "":
			fmt.Fprintf(&b, "%-16s %-5s %5d %-4s error: %s\n", r.Model, r.Tower, r.Batch, r.Precision, r.Error)
		case o.ItemsPerSec == 0:
			fmt.Fprintf(&b, "%-16s %-5s %5d %-4s %12.2f %12s %8s\n", r.Model, r.Tower, r.Batch, r.Precision, r.ItemsPerSec, "-", "-")
		default:
			fmt.Fprintf(&b, "%-16s %-5s %5d %-4s %12.2f %12.2f %8.3f\n", r.Model, r.Tower, r.Batch, r.Precision,
				r.ItemsPerSec, o.ItemsPerSec, r.ItemsPerSec/o.ItemsPerSec)
		}
	}
	return b.String()
}
