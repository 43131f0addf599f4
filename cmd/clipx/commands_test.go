package main

import (
	"encoding/json"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/clipkit/clipkit/cliplib/checkpoint"
)

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// runCapture runs clipx with args and stdin, returning its exit code and standard output.
func runCapture(t *testing.T, stdin string, args ...string) (int, string) {
	t.Helper()
	oldIn, oldOut := os.Stdin, os.Stdout
	defer func() { os.Stdin, os.Stdout = oldIn, oldOut }()
	inR, inW, _ := os.Pipe()
	outR, outW, _ := os.Pipe()
	os.Stdin, os.Stdout = inR, outW
	go func() { io.WriteString(inW, stdin); inW.Close() }()
	done := make(chan string)
	go func() { b, _ := io.ReadAll(outR); done <- string(b) }()
	code := run(args)
	outW.Close()
	return code, <-done
}

func TestTokenizeCommand(t *testing.T) {
	code, out := runCapture(t, "a photo of a cat\nHello World!\n\n", "tokenize")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	want := [][]int32{{49406, 320, 1125, 539, 320, 2368, 49407}, {49406, 3306, 1002, 256, 49407}, {49406, 49407}}
	if len(lines) != len(want) {
		t.Fatalf("%d lines, want %d: %q", len(lines), len(want), out)
	}
	for i, line := range lines {
		var ids []int32
		if err := json.Unmarshal([]byte(line), &ids); err != nil {
			t.Fatal(err)
		}
		if len(ids) != 77 {
			t.Fatalf("line %d has %d ids", i, len(ids))
		}
		for j, id := range want[i] {
			if ids[j] != id {
				t.Errorf("line %d id %d = %d, want %d", i, j, ids[j], id)
			}
		}
	}
}

// TestEmbedCommandMatchesReference runs `clipx embed` on a committed tiny checkpoint and a sample
// photo: the image goes through our decoder and preprocessing (bit-exact with the reference for
// PNG) and the tower, and must give the reference's normalised features within 1e-5.
func TestEmbedCommandMatchesReference(t *testing.T) {
	photo := filepath.Join(repoRoot(), "..", "shared", "data", "clip_test_images", "astronaut.png")
	if _, err := os.Stat(photo); err != nil {
		t.Skip("no shared sample photos")
	}
	dir := filepath.Join(repoRoot(), "testdata", "clip", "vit-tiny")
	code, out := runCapture(t, "", "embed", "--backend", "go", "--weights", filepath.Join(dir, "open_clip_model.safetensors"), "--image", photo)
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	var res struct {
		ImageEmbeddings [][]float32 `json:"image_embeddings"`
		TextEmbeddings  [][]float32 `json:"text_embeddings"`
		LogitScale      float32     `json:"logit_scale"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v: %q", err, out)
	}
	ref, err := checkpoint.ReadSafetensors(filepath.Join(dir, "reference.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	feat := ref["image_features"]
	dim := feat.Shape[1] // astronaut.png is the first image in name order
	if len(res.ImageEmbeddings) != 1 || len(res.ImageEmbeddings[0]) != dim || len(res.TextEmbeddings) != 0 {
		t.Fatalf("got %d image and %d text embeddings", len(res.ImageEmbeddings), len(res.TextEmbeddings))
	}
	for j := 0; j < dim; j++ {
		if d := math.Abs(float64(res.ImageEmbeddings[0][j] - feat.Data[j])); d > 1e-5 {
			t.Fatalf("dim %d differs from the reference by %g", j, d)
		}
	}
	if math.Abs(float64(res.LogitScale)-100) > 1e-3 {
		t.Errorf("logit_scale = %g, want exp(ln 100)", res.LogitScale)
	}
}

func TestCommandErrorsAreClear(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"nosuchcommand"}, 2},
		{[]string{"embed"}, 2},
		{[]string{"embed", "--weights", "/no/such/file.pt"}, 1},
		{[]string{"tokenize", "extra"}, 2},
		{[]string{"bench", "nosuch"}, 2},
	} {
		if code, _ := runCapture(t, "", tc.args...); code != tc.code {
			t.Errorf("clipx %q exited %d, want %d", tc.args, code, tc.code)
		}
	}
}

func TestModelsCommandListsTheRegistry(t *testing.T) {
	code, out := runCapture(t, "", "models")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, name := range []string{"ViT-B/32", "ViT-L/14@336px", "RN50x64"} {
		found := false
		for _, line := range strings.Split(out, "\n") {
			if strings.HasPrefix(line, name+"\t") {
				found = true
			}
		}
		if !found {
			t.Errorf("no line starts with %q", name)
		}
	}
}
