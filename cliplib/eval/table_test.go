package eval

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPublishedNumbersHaveSourcesAndKnownBenchmarks(t *testing.T) {
	pub, err := PublishedNumbers()
	if err != nil {
		t.Fatal(err)
	}
	if len(pub) < 100 {
		t.Fatalf("%d published numbers, want the open_clip and MobileCLIP tables", len(pub))
	}
	models := map[string]bool{}
	for _, m := range TableModels() {
		models[m] = true
	}
	registered := 0
	for _, p := range pub {
		if _, err := Lookup(p.Dataset); err != nil {
			t.Errorf("%v", err)
		}
		if !strings.Contains(p.Source, "@") || !strings.Contains(p.Source, "github.com/") {
			t.Errorf("%s %s: source %q names no repository and commit", p.Model, p.Dataset, p.Source)
		}
		if models[p.Model] {
			registered++
		}
	}
	// Spot checks against the source files (open_clip docs/openclip_results.csv row ViT-B-32,openai;
	// docs/openclip_retrieval_results.csv; ml-mobileclip README).
	want := map[[3]string]float64{
		{"ViT-B/32", "imagenet1k", "main"}:      0.6332,
		{"ViT-B/32", "cifar10", "main"}:         0.8983,
		{"ViT-B/32", "flickr30k", "i2t_r@1"}:    0.7890,
		{"ViT-B/32", "mscoco5k", "t2i_r@5"}:     0.5594,
		{"MobileCLIP-S2", "imagenet1k", "main"}: 0.744,
	}
	for k, v := range want {
		found := false
		for _, p := range pub {
			if p.Model == k[0] && p.Dataset == k[1] && p.Metric == k[2] {
				found = p.Value == v
			}
		}
		if !found {
			t.Errorf("%v: want %v", k, v)
		}
	}
	if registered < 80 {
		t.Errorf("only %d published numbers are for registered models", registered)
	}
}

func TestTableSaysNotRunHereUnlessTrainedWeightsWereMeasured(t *testing.T) {
	pub, _ := PublishedNumbers()
	dir := t.TempDir()
	results := []*Result{
		{Model: "ViT-B/32", Benchmark: "cifar10", Task: ZeroShotTask, Metrics: map[string]float64{"top1": 0.9}, Main: "top1", Images: 10000},
		{Model: "RN50", Benchmark: "cifar10", Task: ZeroShotTask, Metrics: map[string]float64{"top1": 0.1}, Main: "top1", RandomWeights: true},
		{Model: "ViT-B/32", Benchmark: "pets", Task: ZeroShotTask, Metrics: map[string]float64{"top1": 0.5, "mean_per_class_recall": 0.8}, Main: "mean_per_class_recall", Subset: true, Images: 100},
	}
	for _, r := range results {
		if _, err := SaveResult(dir, r); err != nil {
			t.Fatal(err)
		}
	}
	loaded, err := LoadResults(dir)
	if err != nil || len(loaded) != 3 {
		t.Fatalf("%d results, %v", len(loaded), err)
	}
	rows := BuildTable([]string{"ViT-B/32", "RN50"}, loaded, pub)
	find := func(m, b, task, metric string) Row {
		for _, r := range rows {
			if r.Model == m && r.Benchmark == b && r.Task == task && r.Metric == metric {
				return r
			}
		}
		t.Fatalf("no row %s %s %s %s", m, b, task, metric)
		return Row{}
	}
	if r := find("ViT-B/32", "cifar10", ZeroShotTask, "top1"); !r.HasOurs || r.Ours != 0.9 || !r.HasPublished || r.Published != 0.8983 {
		t.Errorf("measured row: %+v", r)
	}
	if r := find("RN50", "cifar10", ZeroShotTask, "top1"); r.HasOurs || !strings.Contains(r.Note, "only random weights") {
		t.Errorf("random-weights row: %+v", r)
	}
	if r := find("ViT-B/32", "pets", ZeroShotTask, "mean_per_class_recall"); r.Ours != 0.8 || r.Note != "subset of 100 images" {
		t.Errorf("pets row uses the main metric: %+v", r)
	}
	if r := find("ViT-B/32", "imagenet1k", ZeroShotTask, "top1"); r.HasOurs || r.Note != NotRunHere {
		t.Errorf("unmeasured row: %+v", r)
	}
	md := Markdown(rows, true)
	for _, want := range []string{"| ViT-B/32 | cifar10 | zeroshot | top1 | 89.8 [1] | 90.0 |", "| RN50 | cifar10 | zeroshot | top1 | 71.6 [1] | not run here (only random weights were run) |", "docs/openclip_results.csv"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md[:min(len(md), 2000)])
		}
	}
	os.WriteFile(filepath.Join(dir, "bad__x__y.json"), []byte("{}"), 0o644)
	if _, err := LoadResults(dir); err == nil || !strings.Contains(err.Error(), "bad__x__y.json") {
		t.Errorf("bad result file: %v", err)
	}
}
