package backend

import (
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

func TestXLAWithoutPluginIsAnErrorNotADownload(t *testing.T) {
	if !strings.Contains(strings.Join(Available(), ","), "xla") {
		t.Skip("XLA not compiled in")
	}
	t.Setenv(AutoInstallEnv, "")
	t.Setenv("PJRT_PLUGIN_LIBRARY_PATH", t.TempDir())
	_, err := New("xla:cpu")
	if err == nil {
		t.Skip("a PJRT CPU plugin is installed on this machine")
	}
	if !strings.Contains(err.Error(), "xla:cpu") {
		t.Errorf("error does not name the backend: %v", err)
	}
}
