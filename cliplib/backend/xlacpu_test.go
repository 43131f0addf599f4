package backend

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/backends"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// RequireXLACPUEnv, when "1", turns a missing or failing PJRT CPU plugin into a test failure
// instead of a skip: CI sets it after running scripts/install-xla-cpu.sh.
const RequireXLACPUEnv = "CLIPKIT_REQUIRE_XLA_CPU"

// newXLACPU returns the xla:cpu backend, skipping the test when it cannot be created (no plugin
// installed, or XLA not compiled in) unless $CLIPKIT_REQUIRE_XLA_CPU=1.
func newXLACPU(t *testing.T) backends.Backend {
	t.Helper()
	required := os.Getenv(RequireXLACPUEnv) == "1"
	if !slices.Contains(Available(), "xla") {
		if required {
			t.Fatalf("%s=1 but this test binary was built without XLA", RequireXLACPUEnv)
		}
		t.Skip("XLA not compiled in")
	}
	t.Setenv(AutoInstallEnv, "") // never download during tests
	b, err := New("xla:cpu")
	if err != nil {
		if required {
			t.Fatalf("%s=1 but the xla:cpu backend failed: %v", RequireXLACPUEnv, err)
		}
		t.Skipf("no usable PJRT CPU plugin (scripts/install-xla-cpu.sh installs one): %v", err)
	}
	return b
}

// xlaCPUGraph is a small graph with the ops CLIP's towers lean on: a matrix product, a
// softmax, an erf-GELU and a mean reduction. x is [4, 8], w is [8, 6].
func xlaCPUGraph(x, w *Node) *Node {
	y := MatMul(x, w)
	y = Softmax(y, -1)
	y = Mul(MulScalar(y, 0.5), OnePlus(Erf(MulScalar(y, 1/math.Sqrt2))))
	return Add(y, ReduceAndKeep(y, ReduceMean, -1))
}

// xlaCPUInputs returns fixed inputs for xlaCPUGraph: x [4, 8] and w [8, 6].
func xlaCPUInputs() (x, w [][]float32) {
	x = make([][]float32, 4)
	for i := range x {
		x[i] = make([]float32, 8)
		for j := range x[i] {
			x[i][j] = float32(math.Sin(float64(3*i+j))) * 2
		}
	}
	w = make([][]float32, 8)
	for i := range w {
		w[i] = make([]float32, 6)
		for j := range w[i] {
			w[i][j] = float32(math.Cos(float64(i-2*j))) / 3
		}
	}
	return x, w
}

func TestXLACPUMatchesSimpleGo(t *testing.T) {
	xb := newXLACPU(t)
	defer xb.Finalize()
	if d := Describe(xb); !strings.Contains(d, "PJRT") {
		t.Errorf("Describe(xla:cpu) = %q, want it to name the PJRT plugin", d)
	}
	gb, err := New("go")
	if err != nil {
		t.Fatal(err)
	}
	defer gb.Finalize()

	x, w := xlaCPUInputs()
	run := func(name string, e *Exec) []float32 {
		t.Helper()
		out, err := e.Exec(x, w)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		flat, err := tensors.CopyFlatData[float32](out[0])
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return flat
	}
	got := run("xla:cpu", MustNewExec(xb, xlaCPUGraph))
	want := run("go", MustNewExec(gb, xlaCPUGraph))
	if len(got) != 4*6 || len(got) != len(want) {
		t.Fatalf("xla:cpu returned %d values, simplego %d, want 24", len(got), len(want))
	}
	for i := range want {
		if d := math.Abs(float64(got[i] - want[i])); d > 1e-5 || math.IsNaN(float64(got[i])) {
			t.Errorf("value %d: xla:cpu %g, simplego %g (|diff| %.2g > 1e-5)", i, got[i], want[i], d)
		}
	}
}

// xlaPoolThreads counts this process's threads of XLA's CPU intra-op pool ("tf_XLAEigen"), or
// returns -1 where /proc is not there to count them.
func xlaPoolThreads(t *testing.T) int {
	t.Helper()
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return -1
	}
	n := 0
	for _, task := range tasks {
		comm, err := os.ReadFile(filepath.Join("/proc/self/task", task.Name(), "comm"))
		if err == nil && strings.TrimSpace(string(comm)) == "tf_XLAEigen" {
			n++
		}
	}
	return n
}

// TestXLACPUHasOneDeviceAndOneThreadPerCore checks that every way of naming the CPU
// plugin, through New or through GoMLX's own constructor, gives a backend with CPUDevices device, whose intra-op pool has one thread per core
// (XLA's default of four devices gave four threads on a 2-core machine), and that $NPROC, XLA's
// own setting, still sizes the pool.
func TestXLACPUHasOneDeviceAndOneThreadPerCore(t *testing.T) {
	newXLACPU(t).Finalize()
	t.Setenv("PJRT_NPROC", "")
	for _, tc := range []struct {
		config, nproc string
		threads       int
		viaGoMLX      bool // made by GoMLX's backends.NewWithConfig, not by New
	}{
		{"xla:cpu", "", runtime.NumCPU(), false},
		{"xla", "", runtime.NumCPU(), false},
		{"xla:cpu,shared_buffers", "", runtime.NumCPU(), false},
		{"xla:cpu", "3", 3, false},
		{"xla:cpu", "", runtime.NumCPU(), true},
	} {
		t.Run(fmt.Sprintf("%s/NPROC=%s/viaGoMLX=%v", tc.config, tc.nproc, tc.viaGoMLX), func(t *testing.T) {
			t.Setenv("NPROC", tc.nproc)
			before := xlaPoolThreads(t)
			create := New
			if tc.viaGoMLX {
				create = backends.NewWithConfig
			}
			b, err := create(tc.config)
			if err != nil {
				t.Fatal(err)
			}
			defer b.Finalize()
			if b.NumDevices() != CPUDevices {
				t.Errorf("%s: %d devices, want %d", tc.config, b.NumDevices(), CPUDevices)
			}
			if before < 0 {
				return // no /proc: the pool cannot be counted here
			}
			if got := xlaPoolThreads(t) - before; got != tc.threads {
				t.Errorf("%s with NPROC=%q: %d new intra-op threads, want %d", tc.config, tc.nproc, got, tc.threads)
			}
		})
	}
}
