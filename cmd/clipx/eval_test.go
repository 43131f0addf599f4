package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clipkit/clipkit/cliplib/eval"
	"github.com/clipkit/clipkit/data/datatest"
)

func captureEval(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var buf bytes.Buffer
	old := evalOut
	evalOut = &buf
	defer func() { evalOut = old }()
	code := run(args)
	return code, buf.String()
}

// TestEvalCommandRunsZeroShotAndTheTable: tiny-vit (random weights, simplego) on a 10-class
// webdataset in clip_benchmark's layout for cifar10; the result is saved and flagged, and the
// table then still says "not run here" for every model.
func TestEvalCommandRunsZeroShotAndTheTable(t *testing.T) {
	dir := t.TempDir()
	b, _ := eval.Lookup("cifar10")
	var s []datatest.WDSSample
	for i := range 6 {
		s = append(s, datatest.WDSSample{Colour: datatest.Colour(i), Label: i})
	}
	if err := datatest.WebDataset(filepath.Join(dir, "wds"), "test", s, 4, b.Classes, nil, false); err != nil {
		t.Fatal(err)
	}
	results := filepath.Join(dir, "results")
	code, out := captureEval(t, "eval", "zeroshot", "--model", "tiny-vit", "--random-weights", "--backend", "go", "--dataset", "cifar10",
		"--data", filepath.Join(dir, "wds"), "--results", results, "--cache-dir", filepath.Join(dir, "cache"), "--batch", "4", "--json", filepath.Join(dir, "r.json"))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, out)
	}
	for _, want := range []string{"[RANDOM WEIGHTS]", "tiny-vit zeroshot on cifar10 (webdataset): 6 images", "top1", "(main metric)", "result: "} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if b, err := os.ReadFile(filepath.Join(dir, "r.json")); err != nil || !strings.Contains(string(b), `"random_weights": true`) {
		t.Errorf("--json file: %v %s", err, b)
	}
	// eval speed writes its figures to --json too.
	code, out = captureEval(t, "eval", "speed", "--model", "tiny-vit", "--random-weights", "--backend", "go", "--dataset", "cifar10",
		"--data", filepath.Join(dir, "wds"), "--batch", "4", "--json", filepath.Join(dir, "speed.json"))
	if code != 0 || !strings.Contains(out, "overhead of decoding") {
		t.Fatalf("speed: exit %d\n%s", code, out)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "speed.json")); err != nil || !strings.Contains(string(b), `"encode_alone_images_per_s"`) {
		t.Errorf("speed --json file: %v %s", err, b)
	}
	// Second run: embeddings from the cache.
	code, out = captureEval(t, "eval", "zeroshot", "--model", "tiny-vit", "--random-weights", "--backend", "go", "--dataset", "cifar10",
		"--data", filepath.Join(dir, "wds"), "--results", results, "--cache-dir", filepath.Join(dir, "cache"), "--batch", "4")
	if code != 0 || !strings.Contains(out, "embeddings: from the cache") {
		t.Errorf("second run: exit %d\n%s", code, out)
	}
	code, out = captureEval(t, "eval", "table", "--results", results, "--models", "ViT-B/32,tiny-vit")
	if code != 0 {
		t.Fatalf("table: exit %d %s", code, out)
	}
	for _, want := range []string{"| ViT-B/32 | cifar10 | zeroshot | top1 | 89.8 [1] | not run here |", "| ViT-B/32 | flickr30k | retrieval | i2t_r@1 | 78.9 [2] | not run here |", "| tiny-vit | cifar10 | zeroshot | top1 | — | not run here (only random weights were run) |"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}

func TestEvalCommandUsageErrors(t *testing.T) {
	cases := []struct {
		args []string
		code int
	}{
		{[]string{"eval"}, 2},
		{[]string{"eval", "nope"}, 2},
		{[]string{"eval", "zeroshot"}, 2},                                           // no --dataset
		{[]string{"eval", "zeroshot", "--dataset", "imagenet2"}, 2},                 // unknown benchmark
		{[]string{"eval", "retrieval", "--dataset", "cifar10"}, 2},                  // wrong task
		{[]string{"eval", "zeroshot", "--dataset", "flickr30k"}, 2},                 // wrong task
		{[]string{"eval", "zeroshot", "--dataset", "stl10", "--batch", "0"}, 2},     // bad flag value
		{[]string{"eval", "zeroshot", "--dataset", "stl10", "--random-weights"}, 1}, // no data path: clear error
	}
	for _, c := range cases {
		if code, out := captureEval(t, c.args...); code != c.code {
			t.Errorf("%v: exit %d, want %d (%s)", c.args, code, c.code, out)
		}
	}
	code, out := captureEval(t, "eval", "list")
	if code != 0 || !strings.Contains(out, "imagenet1k") || !strings.Contains(out, "Prompt_Engineering_for_ImageNet.ipynb") {
		t.Errorf("list: %d\n%s", code, out)
	}
}
