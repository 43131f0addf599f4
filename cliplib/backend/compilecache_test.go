package backend

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// compileCacheHelperEnv makes TestCompileCacheHelperProcess run: a comma-separated list of the
// graphs ("a", "b") it compiles and runs on xla:cpu.
const compileCacheHelperEnv = "CLIPKIT_COMPILE_CACHE_HELPER"

// cacheRun is what one helper process reports.
type cacheRun struct {
	Outputs [][]float32
	Status  CompileCache
}

// TestCompileCacheHelperProcess is not a test of its own: TestCompileCache* run the test binary
// with it in a fresh process, so that each run starts with an empty process and only the cache
// directory carries compiled programs from one run to the next.
func TestCompileCacheHelperProcess(t *testing.T) {
	graphs := os.Getenv(compileCacheHelperEnv)
	if graphs == "" {
		t.Skip("run by TestCompileCache* in a subprocess")
	}
	b, err := New("xla:cpu")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Finalize()
	x, w := xlaCPUInputs()
	var run cacheRun
	for _, name := range strings.Split(graphs, ",") {
		fn := xlaCPUGraph
		if name == "b" {
			fn = func(x, w *Node) *Node { return Tanh(MatMul(x, w)) }
		}
		out, err := MustNewExec(b, fn).Exec(x, w)
		if err != nil {
			t.Fatal(err)
		}
		flat, err := tensors.CopyFlatData[float32](out[0])
		if err != nil {
			t.Fatal(err)
		}
		run.Outputs = append(run.Outputs, flat)
	}
	run.Status = CompileCacheStatus()
	js, _ := json.Marshal(run)
	fmt.Printf("\nCACHE-RUN %s\n", js)
}

// cacheHelper runs the helper process on graphs with the cache in dir and extra environment, and
// fails the test unless the cache was on.
func cacheHelper(t *testing.T, dir, graphs string, env ...string) cacheRun {
	t.Helper()
	run := cacheHelperAnyState(t, dir, graphs, env...)
	if !run.Status.Enabled {
		t.Fatalf("compilation cache off in the helper process: %s", run.Status.Reason)
	}
	return run
}

// cacheHelperAnyState is cacheHelper without the check that the cache was on.
func cacheHelperAnyState(t *testing.T, dir, graphs string, env ...string) cacheRun {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCompileCacheHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), compileCacheHelperEnv+"="+graphs, CompileCacheEnv+"="+dir, EnvVar+"=", "XLA_FLAGS=")
	for _, e := range env {
		if e != "" {
			cmd.Env = append(cmd.Env, e)
		}
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("helper process: %v\n%s", err, out)
	}
	_, js, ok := bytes.Cut(out, []byte("\nCACHE-RUN "))
	if !ok {
		t.Fatalf("helper process printed no result:\n%s", out)
	}
	js, _, _ = bytes.Cut(js, []byte("\n"))
	var run cacheRun
	if err := json.Unmarshal(js, &run); err != nil {
		t.Fatalf("helper process result: %v\n%s", err, out)
	}
	return run
}

// requireCompileCache skips the test where the xla:cpu backend or the cache library is missing,
// unless $CLIPKIT_REQUIRE_XLA_CPU=1 (CI), where both must be there.
func requireCompileCache(t *testing.T) {
	t.Helper()
	newXLACPU(t).Finalize()
	st := CompileCacheStatus()
	if st.Enabled {
		return
	}
	if os.Getenv(RequireXLACPUEnv) == "1" {
		t.Fatalf("%s=1 but the compilation cache is off: %s", RequireXLACPUEnv, st.Reason)
	}
	t.Skipf("compilation cache off: %s", st.Reason)
}

func entries(t *testing.T, dir string) []string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "*.pjrt"))
	if err != nil {
		t.Fatal(err)
	}
	return names
}

func checkCounts(t *testing.T, what string, got CompileCache, hits, misses, stores int64) {
	t.Helper()
	if got.Hits != hits || got.Misses != misses || got.Stores != stores {
		t.Errorf("%s: %d hits, %d misses, %d stores, want %d, %d, %d (errors %d)",
			what, got.Hits, got.Misses, got.Stores, hits, misses, stores, got.Errors)
	}
}

func sameOutputs(t *testing.T, what string, got, want cacheRun) {
	t.Helper()
	if len(got.Outputs) != len(want.Outputs) {
		t.Fatalf("%s: %d outputs, want %d", what, len(got.Outputs), len(want.Outputs))
	}
	for i := range want.Outputs {
		if !slices.Equal(got.Outputs[i], want.Outputs[i]) {
			t.Errorf("%s: output %d differs from the compiled program's:\n got %v\nwant %v", what, i, got.Outputs[i], want.Outputs[i])
		}
	}
}

// TestCompileCacheServesLaterProcesses compiles a program in one process and checks that the next
// process loads it from the cache instead of compiling it, with bit-identical results; that
// another $XLA_FLAGS, a damaged entry or a foreign file is a miss that compiles again, never a
// wrong program; and that the directory stays within its bound.
func TestCompileCacheServesLaterProcesses(t *testing.T) {
	requireCompileCache(t)
	dir := filepath.Join(t.TempDir(), "xla") // created by the cache

	first := cacheHelper(t, dir, "a")
	checkCounts(t, "first process", first.Status, 0, 1, 1)
	if n := len(entries(t, dir)); n != 1 {
		t.Fatalf("%d cache entries after one compilation, want 1", n)
	}
	// Entries are machine code the process runs: the directory and the entries are this user's.
	for name, want := range map[string]os.FileMode{dir: 0o700, entries(t, dir)[0]: 0o600} {
		if fi, err := os.Stat(name); err != nil {
			t.Error(err)
		} else if fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v", name, fi.Mode().Perm(), want)
		}
	}
	second := cacheHelper(t, dir, "a")
	checkCounts(t, "second process", second.Status, 1, 0, 0)
	sameOutputs(t, "second process", second, first)

	// Other XLA flags may compile other code: a miss, stored beside the first entry.
	flags := cacheHelper(t, dir, "a", "XLA_FLAGS=--xla_cpu_enable_fast_math=false")
	checkCounts(t, "other XLA_FLAGS", flags.Status, 0, 1, 1)
	sameOutputs(t, "other XLA_FLAGS", flags, first)
	if n := len(entries(t, dir)); n != 2 {
		t.Errorf("%d cache entries after a second key, want 2", n)
	}

	// Damage every entry: one byte of the executable, near the end; then a foreign file in its
	// place. Each is a miss followed by a fresh compilation that replaces it.
	for _, damage := range []func([]byte) []byte{
		func(b []byte) []byte { b[len(b)-20] ^= 0x5a; return b },
		func([]byte) []byte { return []byte("not a cache entry") },
	} {
		for _, name := range entries(t, dir) {
			b, err := os.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(name, damage(b), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		again := cacheHelper(t, dir, "a")
		checkCounts(t, "damaged entry", again.Status, 0, 1, 1)
		sameOutputs(t, "damaged entry", again, first)
		if hit := cacheHelper(t, dir, "a"); hit.Status.Hits != 1 {
			t.Errorf("the entry written after a damaged one is not served: %+v", hit.Status)
		}
	}

	// A bound of one entry of graph a (graph b's is smaller) keeps the most recent one only.
	small := t.TempDir()
	one := cacheHelper(t, small, "a")
	size := int64(0)
	for _, name := range entries(t, small) {
		fi, err := os.Stat(name)
		if err != nil {
			t.Fatal(err)
		}
		size += fi.Size()
	}
	bound := fmt.Sprint(CompileCacheMaxEnv, "=", size+1)
	both := cacheHelper(t, small, "a,b", bound)
	checkCounts(t, "bounded cache", both.Status, 1, 1, 1)
	sameOutputs(t, "bounded cache", cacheRun{Outputs: both.Outputs[:1]}, one)
	if n := len(entries(t, small)); n != 1 {
		t.Errorf("%d entries in a cache bounded to one entry, want 1", n)
	}
	if last := cacheHelper(t, small, "b", bound); last.Status.Hits != 1 {
		t.Errorf("the most recent entry was evicted: %+v", last.Status)
	}

	// A cache that cannot be set up (a directory that cannot be created, a bad bound) leaves the
	// plain plugin, which computes the same, and says why.
	for _, tc := range []struct{ dir, env, reason string }{
		{"/proc/no-such-dir/xla", "", "cache directory"},
		{dir, CompileCacheMaxEnv + "=lots", CompileCacheMaxEnv},
	} {
		off := cacheHelperAnyState(t, tc.dir, "a", tc.env)
		if off.Status.Enabled || !strings.Contains(off.Status.Reason, tc.reason) {
			t.Errorf("%s %s: cache state %+v, want it off with a reason naming %q", tc.dir, tc.env, off.Status, tc.reason)
		}
		sameOutputs(t, "uncached", off, first)
	}
}

// TestCompileCacheCanBeTurnedOff checks that CLIPKIT_XLA_CACHE=off leaves the plain plugin and
// that a bad bound is reported.
func TestCompileCacheCanBeTurnedOff(t *testing.T) {
	for _, tc := range []struct{ env, max, wantDir, wantErr string }{
		{"off", "", "", ""},
		{"OFF", "", "", ""},
		{"/some/dir", "", "/some/dir", ""},
		{"/some/dir", "-1", "/some/dir", CompileCacheMaxEnv},
		{"/some/dir", "lots", "/some/dir", CompileCacheMaxEnv},
	} {
		t.Setenv(CompileCacheEnv, tc.env)
		t.Setenv(CompileCacheMaxEnv, tc.max)
		if got := CompileCacheDir(); got != tc.wantDir {
			t.Errorf("%s=%q: CompileCacheDir() = %q, want %q", CompileCacheEnv, tc.env, got, tc.wantDir)
		}
		_, err := compileCacheMaxBytes()
		if (err != nil) != (tc.wantErr != "") || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("%s=%q: error %v, want one naming %s", CompileCacheMaxEnv, tc.max, err, tc.wantErr)
		}
	}
	t.Setenv(CompileCacheEnv, "")
	t.Setenv("CLIPKIT_CACHE", "/ck")
	if got := CompileCacheDir(); got != filepath.Join("/ck", "xla") {
		t.Errorf("default CompileCacheDir() = %q, want /ck/xla", got)
	}
}
