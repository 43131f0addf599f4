package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clipkit/clipkit/internal/download/downloadtest"
	"github.com/clipkit/clipkit/weights"
)

// capture runs fn with out redirected into a buffer.
func capture(t *testing.T, out *io.Writer, fn func() error) (string, error) {
	t.Helper()
	var buf bytes.Buffer
	old := *out
	*out = &buf
	defer func() { *out = old }()
	err := fn()
	return buf.String(), err
}

func TestWeightsListPrintsOneLinePerModelStartingWithItsName(t *testing.T) {
	out, err := capture(t, &weightsOut, func() error { return runWeights([]string{"list"}) })
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	entries := weights.List()
	if len(lines) != len(entries) {
		t.Fatalf("%d lines for %d models", len(lines), len(entries))
	}
	for i, e := range entries {
		f := strings.Fields(lines[i])
		if len(f) != 5 || f[0] != e.Name || f[1] != e.Arch || f[2] != string(e.Format) || f[4] != e.Source.String() {
			t.Errorf("line %q for %s", lines[i], e.Name)
		}
	}
	for _, name := range []string{"ViT-B/32", "RN50x4", "MobileCLIP-S0", "ViT-L/14@336px"} {
		if !strings.Contains(out, "\n"+name+" ") && !strings.HasPrefix(out, name+" ") {
			t.Errorf("no line starts with %s", name)
		}
	}
}

func TestWeightsFetchAndVerifyAgainstAFakeHub(t *testing.T) {
	srv := downloadtest.New(t)
	files := map[string][]byte{"config.json": []byte(`{"model": "S0"}`), "mobileclip_s0.pt": bytes.Repeat([]byte("weights!"), 50_000)}
	srv.AddHFRepo("apple/MobileCLIP-S0", strings.Repeat("ab", 20), files, []string{"mobileclip_s0.pt"}, false)
	hubCache := t.TempDir()
	for k, v := range map[string]string{"HF_ENDPOINT": srv.URL, "HF_HUB_CACHE": hubCache, "CLIPKIT_CACHE": t.TempDir(),
		"HF_TOKEN": "", "CLIPKIT_OFFLINE": "", "HF_HUB_OFFLINE": ""} {
		t.Setenv(k, v)
	}
	out, err := capture(t, &weightsOut, func() error { return runWeights([]string{"fetch", "--quiet", "MobileCLIP-S0"}) })
	if err != nil {
		t.Fatal(err)
	}
	snap := filepath.Join(hubCache, "models--apple--MobileCLIP-S0", "snapshots", strings.Repeat("ab", 20))
	for _, want := range []string{"MobileCLIP-S0\tweights " + filepath.Join(snap, "mobileclip_s0.pt"),
		"MobileCLIP-S0\tconfig " + filepath.Join(snap, "config.json"), "MobileCLIP-S0\tcommit " + strings.Repeat("ab", 20)} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	out, err = capture(t, &weightsOut, func() error { return runWeights([]string{"verify", "MobileCLIP-S0"}) })
	if err != nil {
		t.Fatalf("verify: %v\n%s", err, out)
	}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if f := strings.Fields(line); len(f) != 4 || f[0] != "MobileCLIP-S0" || f[2] != "ok" {
			t.Errorf("verify line %q", line)
		}
	}
	if n := strings.Count(out, "\n"); n != 2 {
		t.Errorf("verify printed %d lines, want 2:\n%s", n, out)
	}
	// Corrupt the weights: verify fails and names the file; a new fetch repairs it.
	blob, _ := filepath.EvalSymlinks(filepath.Join(snap, "mobileclip_s0.pt"))
	if err := os.WriteFile(blob, []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(time.Minute)
	_ = os.Chtimes(blob, later, later)
	out, err = capture(t, &weightsOut, func() error { return runWeights([]string{"verify"}) })
	if err == nil || !strings.Contains(err.Error(), "MobileCLIP-S0 mobileclip_s0.pt") || !strings.Contains(out, "corrupt") {
		t.Fatalf("verify of a corrupt file: %v\n%s", err, out)
	}
	if _, err := capture(t, &weightsOut, func() error { return runWeights([]string{"fetch", "--quiet", "MobileCLIP-S0"}) }); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(blob); !bytes.Equal(b, files["mobileclip_s0.pt"]) {
		t.Error("fetch did not repair the corrupt file")
	}
}

func TestWeightsCommandUsageErrors(t *testing.T) {
	for _, args := range [][]string{{}, {"frobnicate"}, {"fetch"}, {"list", "extra"}, {"fetch", "--bogus", "x"}} {
		if _, err := capture(t, &weightsOut, func() error { return runWeights(args) }); !errors.Is(err, errUsage) {
			t.Errorf("%q: %v, want a usage error", args, err)
		}
	}
	_, err := capture(t, &weightsOut, func() error { return runWeights([]string{"fetch", "--offline", "no-such-model"}) })
	if err == nil || errors.Is(err, errUsage) {
		t.Errorf("unknown model: %v", err)
	}
	if _, err := capture(t, &weightsOut, func() error { return runWeights([]string{"-h"}) }); !errors.Is(err, errHelp) {
		t.Errorf("-h: %v", err)
	}
}
