package bench

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"
)

func TestParseStatusReadsRSSAndPeak(t *testing.T) {
	for _, tc := range []struct {
		name string
		text string
		want Memory
		err  string
	}{
		{"both", "Name:\tx\nVmHWM:\t  2048 kB\nVmRSS:\t  1024 kB\nThreads: 3\n", Memory{RSS: 1 << 20, Peak: 2 << 20, Device: -1}, ""},
		{"missing peak", "VmRSS:\t1 kB\n", Memory{}, "not both found"},
		{"bad unit", "VmRSS:\t1 MB\nVmHWM:\t1 kB\n", Memory{}, "unexpected VmRSS"},
		{"bad number", "VmRSS:\tx kB\nVmHWM:\t1 kB\n", Memory{}, "VmRSS"},
		{"negative", "VmRSS:\t-4 kB\nVmHWM:\t1 kB\n", Memory{}, "not a size"},
	} {
		got, err := ParseStatus([]byte(tc.text))
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: err = %v, want %q", tc.name, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s: %+v, %v; want %+v", tc.name, got, err, tc.want)
		}
	}
}

func TestParseComputeAppsSumsThisProcessesGPUMemory(t *testing.T) {
	for _, tc := range []struct {
		name string
		out  string
		want int64
		err  string
	}{
		{"one GPU", "1234, 512\n999, 100\n", 512 << 20, ""},
		{"two GPUs", "1234, 512\n1234, 256\n", 768 << 20, ""},
		{"not listed", "999, 100\n", -1, "holds no GPU memory"},
		{"no apps", "No running processes found\n", -1, "holds no GPU memory"},
		{"empty", "", -1, "holds no GPU memory"},
		{"malformed", "1234 512\n", -1, "want \"pid, used_memory\""},
		{"not a number", "1234, [N/A]\n", -1, "size in MiB"},
	} {
		got, err := ParseComputeApps([]byte(tc.out), 1234)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) || got != -1 {
				t.Errorf("%s: %d, %v; want -1 and %q", tc.name, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s: %d, %v; want %d", tc.name, got, err, tc.want)
		}
	}
}

func TestScalingGivesPerItemLatencyAndSpeedupOverBatchOne(t *testing.T) {
	res := []Result{
		{Tower: "image", Precision: "f32", Batch: 4, ItemsPerSec: 40, P50ms: 100},
		{Tower: "image", Precision: "f32", Batch: 1, ItemsPerSec: 10, P50ms: 100},
		{Tower: "image", Precision: "f32", Batch: 8, Error: "out of memory"},
		{Tower: "text", Precision: "f32", Batch: 2, ItemsPerSec: 99, P50ms: 1},
		{Tower: "image", Precision: "bf16", Batch: 2, ItemsPerSec: 99, P50ms: 1},
		{Tower: "image", Precision: "f32", Batch: 16, ItemsPerSec: 80, P50ms: 200},
	}
	got := Scaling(res, "image", "f32")
	want := []ScalingPoint{{1, 10, 100, 1}, {4, 40, 25, 4}, {16, 80, 12.5, 8}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Scaling = %v, want %v", got, want)
	}
	if s := Scaling(res[:1], "image", "f32"); len(s) != 1 || !math.IsNaN(s[0].Speedup) {
		t.Errorf("without a batch-1 point the speed-up must be NaN: %v", s)
	}
}

func TestRepeatWorkloadHoldsEveryQueryAndIsSeeded(t *testing.T) {
	distinct := []string{"a", "b", "c", "d"}
	w1, err := RepeatWorkload(distinct, 100, 7)
	if err != nil {
		t.Fatal(err)
	}
	w2, _ := RepeatWorkload(distinct, 100, 7)
	if len(w1) != 100 || fmt.Sprint(w1) != fmt.Sprint(w2) {
		t.Fatalf("want 100 queries, the same for the same seed: %d, equal %v", len(w1), fmt.Sprint(w1) == fmt.Sprint(w2))
	}
	seen := map[string]bool{}
	for _, q := range w1 {
		seen[q] = true
	}
	if len(seen) != 4 {
		t.Errorf("workload holds %d distinct queries, want 4", len(seen))
	}
	for _, tc := range []struct {
		d []string
		n int
	}{{nil, 10}, {distinct, 0}} {
		if _, err := RepeatWorkload(tc.d, tc.n, 1); err == nil {
			t.Errorf("RepeatWorkload(%v, %d): no error", tc.d, tc.n)
		}
	}
}

func TestRepeatedQueriesSplitsFirstTimesFromRepeats(t *testing.T) {
	// A fake cache: a miss sleeps 2 ms, a hit returns at once.
	for _, tc := range []struct {
		name     string
		workload []string
		distinct int
		hitRate  float64
	}{
		{"repeats", []string{"a", "b", "a", "a", "b", "c"}, 3, 0.5},
		{"no repeats", []string{"a", "b"}, 2, 0},
	} {
		cached := map[string]bool{}
		rep, err := RepeatedQueries(tc.workload, func(q string) error {
			if !cached[q] {
				time.Sleep(2 * time.Millisecond)
				cached[q] = true
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Queries != len(tc.workload) || rep.Distinct != tc.distinct || rep.ExpectedHitRate != tc.hitRate || rep.FirstMs < 2 {
			t.Errorf("%s: %+v", tc.name, rep)
		}
		if tc.hitRate == 0 && !math.IsNaN(rep.RepeatMs) {
			t.Errorf("%s: RepeatMs = %v without repeats, want NaN", tc.name, rep.RepeatMs)
		}
		if tc.hitRate > 0 && (rep.RepeatMs >= 1 || rep.Speedup() < 2) {
			t.Errorf("%s: repeats took %.3f ms (speed-up %.1f), want hits far faster than the 2 ms misses", tc.name, rep.RepeatMs, rep.Speedup())
		}
	}
	if _, err := RepeatedQueries([]string{"a", "b"}, func(q string) error { return errors.New("boom") }); err == nil ||
		!strings.Contains(err.Error(), `query 1 ("a")`) {
		t.Errorf("error = %v, want the failing query named", err)
	}
	if _, err := RepeatedQueries(nil, func(string) error { return nil }); err == nil {
		t.Error("empty workload: no error")
	}
}

func TestRunWithMemoryReadsMemoryAtEveryPoint(t *testing.T) {
	rep, err := RunWithMemory(Config{Models: []string{"tiny-vit"}, Backend: "go", Towers: []string{"image"}, Batches: []int{1, 2},
		Precisions: []string{"f32", "bf16", "f16"}, MinIters: 1, MinTime: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Points) != 6 || len(rep.Results) != 6 || len(rep.Before) != 3 {
		t.Fatalf("%d points, %d results, %d baselines; want 6, 6, 3", len(rep.Points), len(rep.Results), len(rep.Before))
	}
	for _, p := range rep.Points {
		if p.Precision == "f16" {
			if p.Error == "" {
				t.Errorf("f16 on simplego ran (%+v): want the refusal", p.Result)
			}
			continue
		}
		if p.Error != "" || p.ItemsPerSec <= 0 || p.RSS <= 0 || p.Peak < p.RSS || (p.Device < 0 && p.DeviceNote == "") {
			t.Errorf("point %s batch %d: %+v", p.Precision, p.Batch, p)
		}
	}
	if !rep.PeakPerPrecision && rep.PeakNote == "" {
		t.Error("peak not reset and no note why")
	}
}
