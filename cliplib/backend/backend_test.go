package backend

import (
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

func TestChooseHonoursCallerThenEnvironment(t *testing.T) {
	for _, tc := range []struct{ config, env, want, reason string }{
		{"", "xla:cpu", "xla:cpu", "from $GOMLX_BACKEND"},
		{"", "go", "go", "from $GOMLX_BACKEND"},
		{"go:parallelism=1", "xla:cuda", "go:parallelism=1", "requested"},
		{"xla:cpu", "", "xla:cpu", "requested"},
	} {
		t.Setenv(EnvVar, tc.env)
		c := Choose(tc.config)
		if c.Config != tc.want || c.Reason != tc.reason || c.Auto {
			t.Errorf("Choose(%q) with %s=%q = %+v, want %q (%s)", tc.config, EnvVar, tc.env, c, tc.want, tc.reason)
		}
		if got := Resolve(tc.config); got != tc.want {
			t.Errorf("Resolve(%q) with %s=%q = %q, want %q", tc.config, EnvVar, tc.env, got, tc.want)
		}
	}
}

// TestAutomaticCandidatesFastestFirst checks the automatic order: CUDA only with a GPU, then the
// XLA CPU plugin, then simplego, which is always last.
func TestAutomaticCandidatesFastestFirst(t *testing.T) {
	both := map[string]string{"cuda": "/p/pjrt_c_api_cuda_plugin.so", "cpu": "/p/pjrt_c_api_cpu_plugin.so"}
	for _, tc := range []struct {
		name    string
		plugins map[string]string
		gpu     bool
		xla     bool
		want    []string
	}{
		{"GPU and both plugins", both, true, true, []string{"xla:cuda", "xla:cpu", "go"}},
		{"both plugins, no GPU", both, false, true, []string{"xla:cpu", "go"}},
		{"CUDA plugin only, GPU", map[string]string{"cuda": "/p/c.so"}, true, true, []string{"xla:cuda", "go"}},
		{"CPU plugin only", map[string]string{"cpu": "/p/c.so"}, true, true, []string{"xla:cpu", "go"}},
		{"no plugin", nil, true, true, []string{"go"}},
		{"built without XLA", both, true, false, []string{"go"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, c := range candidates(tc.plugins, tc.gpu, tc.xla) {
				got = append(got, c.Config)
				if !strings.HasPrefix(c.Reason, "auto: ") || !c.Auto {
					t.Errorf("candidate %s reason %q does not start with \"auto: \"", c.Config, c.Reason)
				}
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("candidates = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestOpenWithNothingSetChoosesAutomatically: with no configuration and $GOMLX_BACKEND unset,
// Open picks xla:cpu where its plugin is installed (simplego otherwise) and says why.
func TestOpenWithNothingSetChoosesAutomatically(t *testing.T) {
	t.Setenv(EnvVar, "")
	t.Setenv(AutoInstallEnv, "")
	b, c, err := Open("")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Finalize()
	if !strings.HasPrefix(c.Reason, "auto: ") || !c.Auto {
		t.Errorf("Choice = %+v, want an automatic reason", c)
	}
	_, cpuInstalled := installedPlugins()["cpu"]
	want := "go"
	if cpuInstalled && slices.Contains(Available(), "xla") {
		want = "xla:cpu"
	}
	if c.Config != want {
		t.Errorf("automatic choice %s (%s), want %s", c.Config, c.Reason, want)
	}
	if got := c.String(); !strings.Contains(got, c.Config) || !strings.Contains(got, c.Reason) {
		t.Errorf("Choice.String() = %q", got)
	}
}

func TestNewSimpleGo(t *testing.T) {
	t.Setenv(EnvVar, "go") // GOMLX_BACKEND=go forces simplego
	b, c, err := Open("")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Finalize()
	if !strings.Contains(b.Name(), "go") || c.Config != "go" {
		t.Errorf("backend is %q (%+v), want go", b.Name(), c)
	}
	if d := Describe(b); !strings.Contains(d, "go") {
		t.Errorf("Describe = %q", d)
	}
}

func TestNewUnknownIsAnError(t *testing.T) {
	_, err := New("nosuchbackend:x")
	if err == nil || !strings.Contains(err.Error(), "nosuchbackend") {
		t.Fatalf("New(unknown) error = %v, want an error naming the backend", err)
	}
}

// TestXLAWithoutPluginIsAnErrorNotADownload checks, in a subprocess whose plugin search path is
// an empty directory (go-xla reads PJRT_PLUGIN_LIBRARY_PATH once per process), that asking for
// xla:cpu without a plugin returns an error naming the backend instead of downloading one.
func TestXLAWithoutPluginIsAnErrorNotADownload(t *testing.T) {
	if !strings.Contains(strings.Join(Available(), ","), "xla") {
		t.Skip("XLA not compiled in")
	}
	if os.Getenv("CLIPKIT_BACKEND_SUBPROCESS") == "1" {
		_, err := New("xla:cpu")
		if err == nil {
			fmt.Println("RESULT: no error")
			return
		}
		fmt.Println("RESULT:", err)
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestXLAWithoutPluginIsAnErrorNotADownload$", "-test.v")
	cmd.Env = append(os.Environ(), "CLIPKIT_BACKEND_SUBPROCESS=1", "PJRT_PLUGIN_LIBRARY_PATH="+t.TempDir(),
		AutoInstallEnv+"=", "HOME="+t.TempDir(), "LD_LIBRARY_PATH=")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("subprocess: %v\n%s", err, out)
	}
	got := string(out)
	if !strings.Contains(got, "RESULT:") || strings.Contains(got, "RESULT: no error") || !strings.Contains(got, "xla:cpu") {
		t.Errorf("want an error naming xla:cpu, got:\n%s", got)
	}
}
