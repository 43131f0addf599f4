package backend

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

func TestResolve(t *testing.T) {
	for _, tc := range []struct{ config, env, want string }{
		{"", "", Default},
		{"", "xla:cpu", "xla:cpu"},
		{"go:parallelism=1", "xla:cuda", "go:parallelism=1"},
	} {
		t.Setenv(EnvVar, tc.env)
		if got := Resolve(tc.config); got != tc.want {
			t.Errorf("Resolve(%q) with %s=%q = %q, want %q", tc.config, EnvVar, tc.env, got, tc.want)
		}
	}
}

func TestNewSimpleGo(t *testing.T) {
	t.Setenv(EnvVar, "")
	b, err := New("")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Finalize()
	if !strings.Contains(b.Name(), "go") {
		t.Errorf("default backend is %q, want go", b.Name())
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
