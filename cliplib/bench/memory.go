package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Memory is the memory use of this process: resident memory as the Linux kernel reports it
// (/proc/self/status) and, where measurable, GPU memory.
type Memory struct {
	RSS  int64 `json:"rss"`  // resident set size now, bytes (VmRSS)
	Peak int64 `json:"peak"` // largest resident set size since the process started or ResetPeak, bytes (VmHWM)
	// Device is the GPU memory this process holds, bytes (nvidia-smi's used_memory for this
	// process); -1 when not measured, with DeviceNote saying why.
	Device     int64  `json:"device"`
	DeviceNote string `json:"device_note,omitempty"`
}

// DeviceMemoryNote says why PJRT's own memory statistics are not used: what go-xla v0.1.4 (the
// PJRT binding under GoMLX v0.26.0) exposes, and what is measured instead.
const DeviceMemoryNote = "go-xla v0.1.4 exposes no device memory statistics to Go (PJRT_Device_MemoryStats has only a " +
	"generated C binding; the per-executable compiled sizes sit behind GoMLX's unexported executable), so GPU memory is " +
	"read from nvidia-smi for this process; XLA's GPU client reserves a pool up front, so it shows the pool, not what a " +
	"batch needs"

// ProcessMemory reads the current and peak resident memory of this process (Linux /proc only;
// elsewhere an error) and, when an NVIDIA GPU is visible, the GPU memory it holds.
func ProcessMemory() (Memory, error) {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return Memory{}, fmt.Errorf("reading process memory (Linux /proc only): %w", err)
	}
	m, err := ParseStatus(data)
	if err != nil {
		return m, err
	}
	m.Device, m.DeviceNote = GPUMemory(os.Getpid())
	return m, nil
}

// ParseStatus extracts VmRSS and VmHWM (in kB) from the text of /proc/<pid>/status. Device is
// left at -1 (not measured).
func ParseStatus(data []byte) (Memory, error) {
	m := Memory{Device: -1}
	found := 0
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok || (key != "VmRSS" && key != "VmHWM") {
			continue
		}
		f := strings.Fields(val)
		if len(f) != 2 || f[1] != "kB" {
			return Memory{Device: -1}, fmt.Errorf("process status: unexpected %s line %q (want \"<n> kB\")", key, val)
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil || n < 0 {
			return Memory{Device: -1}, fmt.Errorf("process status: %s: %q is not a size in kB", key, f[0])
		}
		if key == "VmRSS" {
			m.RSS = n * 1024
		} else {
			m.Peak = n * 1024
		}
		found++
	}
	if found != 2 {
		return Memory{Device: -1}, fmt.Errorf("process status: VmRSS and VmHWM not both found")
	}
	return m, nil
}

// ResetPeak resets the kernel's peak resident size of this process (VmHWM) to the current one,
// by writing 5 to /proc/self/clear_refs (Linux 4.0 or later), so that a following Peak is the
// peak of what ran in between. It returns an error where that is not possible.
func ResetPeak() error {
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		return fmt.Errorf("resetting the peak resident size (/proc/self/clear_refs): %w", err)
	}
	return nil
}

// GPUMemory returns the GPU memory held by process pid in bytes, summed over its GPUs, as
// nvidia-smi reports it; -1 and the reason when it cannot be measured (no nvidia-smi, no GPU, the
// process holds none). nvidia-smi gets 10 s.
func GPUMemory(pid int) (int64, string) {
	path, err := exec.LookPath("nvidia-smi")
	if err != nil {
		return -1, "no GPU memory: nvidia-smi not found (no NVIDIA GPU driver here)"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, path, "--query-compute-apps=pid,used_memory", "--format=csv,noheader,nounits")
	cmd.Stdout = &out
	if err := cmd.Run(); err != nil {
		return -1, fmt.Sprintf("no GPU memory: nvidia-smi failed: %v", err)
	}
	n, err := ParseComputeApps(out.Bytes(), pid)
	if err != nil {
		return -1, "no GPU memory: " + err.Error()
	}
	return n, "nvidia-smi used_memory of this process; " + DeviceMemoryNote
}

// errNoProcess is returned by ParseComputeApps when pid holds no GPU memory.
var errNoProcess = errors.New("this process holds no GPU memory (not in nvidia-smi's compute apps)")

// ParseComputeApps sums the used memory (MiB) of pid over the lines of
// `nvidia-smi --query-compute-apps=pid,used_memory --format=csv,noheader,nounits` and returns it
// in bytes; an error when a line is malformed or pid is not listed.
func ParseComputeApps(out []byte, pid int) (int64, error) {
	var total int64
	found := false
	for i, line := range strings.Split(string(out), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "No running") {
			continue
		}
		f := strings.Split(line, ",")
		if len(f) != 2 {
			return -1, fmt.Errorf("nvidia-smi line %d: %q: want \"pid, used_memory\"", i+1, line)
		}
		p, err1 := strconv.Atoi(strings.TrimSpace(f[0]))
		mib, err2 := strconv.ParseInt(strings.TrimSpace(f[1]), 10, 64)
		if err1 != nil || err2 != nil || mib < 0 {
			return -1, fmt.Errorf("nvidia-smi line %d: %q: want a pid and a size in MiB", i+1, line)
		}
		if p == pid {
			total += mib << 20
			found = true
		}
	}
	if !found {
		return -1, errNoProcess
	}
	return total, nil
}

// MemoryPoint is one benchmark point with the process memory read right after it, while the
// model that ran it was still loaded.
type MemoryPoint struct {
	Result
	Memory
}

// MemoryReport is a benchmark run with memory per point.
type MemoryReport struct {
	*Report
	Points []MemoryPoint `json:"points"`
	// Before is the process memory before each precision's model was loaded, by precision.
	Before map[string]Memory `json:"before"`
	// PeakPerPrecision is true when the peak was reset before each precision (ResetPeak), so a
	// point's Peak covers only its own precision's run; otherwise Peak is the process's peak so far.
	PeakPerPrecision bool   `json:"peak_per_precision"`
	PeakNote         string `json:"peak_note,omitempty"` // why the peak could not be reset
}

// RunWithMemory is Run, one precision after another, reading the process memory (resident, peak,
// GPU) after every point while the model is loaded. Before each precision it resets the peak
// resident size where the kernel allows it (PeakPerPrecision), so the peaks of f32, bf16 and f16
// are measured apart, and returns freed memory to the system first (debug.FreeOSMemory). One
// untimed warm-up point (the first precision, tower and smallest batch) runs before measuring,
// so that starting the backend, its plugin and its compiler is not charged to the first precision. Memory that cannot be read is an error; GPU
// memory that cannot be read is Device -1 with DeviceNote.
func RunWithMemory(cfg Config) (*MemoryReport, error) {
	cfg.defaults()
	out := &MemoryReport{Before: map[string]Memory{}, PeakPerPrecision: true}
	warm := cfg
	warm.Towers, warm.Precisions, warm.Batches = cfg.Towers[:1], cfg.Precisions[:1], sortedCopy(cfg.Batches)[:1]
	warm.MinIters, warm.MinTime, warm.Progress = 1, time.Nanosecond, nil
	if _, err := Run(warm); err != nil {
		return nil, err
	}
	for _, prec := range cfg.Precisions {
		debug.FreeOSMemory()
		if err := ResetPeak(); err != nil {
			out.PeakPerPrecision, out.PeakNote = false, err.Error()
		}
		before, err := ProcessMemory()
		if err != nil {
			return nil, err
		}
		out.Before[prec] = before
		one := cfg
		one.Precisions = []string{prec}
		var memErr error
		one.Progress = func(r Result) {
			m, err := ProcessMemory()
			if err != nil && memErr == nil {
				memErr = err
			}
			out.Points = append(out.Points, MemoryPoint{Result: r, Memory: m})
			if cfg.Progress != nil {
				cfg.Progress(r)
			}
		}
		rep, err := Run(one)
		if err != nil {
			return nil, err
		}
		if memErr != nil {
			return nil, memErr
		}
		if out.Report == nil {
			out.Report = rep
		} else {
			out.Report.Results = append(out.Report.Results, rep.Results...)
		}
	}
	return out, nil
}

// ScalingPoint is one batch size of a plain batch-size sweep: throughput, time per item and the
// speed-up over batch 1.
type ScalingPoint struct {
	Batch       int     `json:"batch"`
	ItemsPerSec float64 `json:"items_per_sec"`
	// MsPerItem is the median latency of one batch call divided by the batch size.
	MsPerItem float64 `json:"ms_per_item"`
	// Speedup is ItemsPerSec over the batch-1 throughput (NaN without a batch-1 point).
	Speedup float64 `json:"speedup"`
}

// Scaling returns the sweep of one tower and precision from benchmark results, by increasing
// batch size, leaving out points that failed or were skipped.
func Scaling(results []Result, tower, precision string) []ScalingPoint {
	var pts []ScalingPoint
	base := math.NaN()
	for _, r := range results {
		if r.Tower != tower || r.Precision != precision || r.Error != "" || r.Batch <= 0 || r.ItemsPerSec <= 0 {
			continue
		}
		if r.Batch == 1 {
			base = r.ItemsPerSec
		}
		pts = append(pts, ScalingPoint{Batch: r.Batch, ItemsPerSec: r.ItemsPerSec, MsPerItem: r.P50ms / float64(r.Batch)})
	}
	sort.Slice(pts, func(i, j int) bool { return pts[i].Batch < pts[j].Batch })
	for i := range pts {
		pts[i].Speedup = pts[i].ItemsPerSec / base
	}
	return pts
}
