package repo

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestRootFrom(t *testing.T) {
	tmp := t.TempDir()
	root := filepath.Join(tmp, "repo")
	write(t, filepath.Join(root, "go.mod"), "// comment\nmodule "+ModulePath+"\n\ngo 1.26\n")
	write(t, filepath.Join(root, "a", "b", "x.txt"), "")
	// A nested module (another go.mod) does not stop the search.
	write(t, filepath.Join(root, "tools", "go.mod"), "module example.com/tools\n")
	write(t, filepath.Join(tmp, "quoted", "go.mod"), `module "`+ModulePath+`"`+"\n")
	write(t, filepath.Join(tmp, "other", "go.mod"), "module "+ModulePath+"/sub\n")
	write(t, filepath.Join(tmp, "prefix", "go.mod"), "modulex "+ModulePath+"\n")
	for _, c := range []struct{ start, want string }{
		{root, root},
		{filepath.Join(root, "a", "b"), root},
		{filepath.Join(root, "tools"), root},
		{filepath.Join(tmp, "quoted"), filepath.Join(tmp, "quoted")},
		{filepath.Join(tmp, "other"), ""},
		{filepath.Join(tmp, "prefix"), ""},
	} {
		got, err := RootFrom(c.start)
		if c.want == "" {
			if err == nil || !strings.Contains(err.Error(), c.start) {
				t.Errorf("RootFrom(%s) = %q, %v; want an error naming the start", c.start, got, err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("RootFrom(%s) = %q, %v; want %q", c.start, got, err, c.want)
		}
	}
}

func TestRootFindsThisCheckout(t *testing.T) {
	got, err := Root()
	if err != nil {
		t.Fatal(err)
	}
	want, _ := filepath.Abs("../..")
	if got != want {
		t.Errorf("Root() = %q, want %q", got, want)
	}
}
