package eval

import (
	"bytes"
	_ "embed"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/clipkit/clipkit/data"
)

//go:embed metadata/prompts.json
var promptsJSON []byte

//go:embed metadata/published.csv
var publishedCSV []byte

// Tasks of a benchmark.
const (
	ZeroShotTask    = "zeroshot"
	RetrievalTask   = "retrieval"
	LinearProbeTask = "linearprobe"
)

// Main metrics.
const (
	MetricTop1               = "top1"
	MetricMeanPerClassRecall = "mean_per_class_recall"
)

// Benchmark is one data set of the suite with what it is evaluated with.
type Benchmark struct {
	// Name is how clipx eval and the tables call it ("imagenet1k", "cifar10", "flickr30k", ...).
	Name string
	// Title is the data set's name for people.
	Title string
	// Retrieval marks image↔text retrieval sets; the others are classification sets (zero-shot and
	// linear probe).
	Retrieval bool
	// Classes and Templates are the zero-shot class names and prompt templates ("{}" = class).
	Classes, Templates []string
	// PromptSource says where Classes and Templates come from.
	PromptSource string
	// Main is the metric the paper reports: MetricTop1, or MetricMeanPerClassRecall (Pets).
	Main string
	// Fetch names the data package's downloadable source for the test split ("" when the data set
	// has no public URL we verify: the user gives its path).
	Fetch string
	// Layouts says which published layouts a path given for it may have.
	Layouts string
}

var benchmarks []Benchmark

func init() {
	var p map[string]struct {
		Classes   []string `json:"classes"`
		Templates []string `json:"templates"`
		Source    string   `json:"source"`
	}
	if err := json.Unmarshal(promptsJSON, &p); err != nil {
		panic("eval: metadata/prompts.json: " + err.Error()) // embedded at build time; a test reads it
	}
	wds := "a clip_benchmark webdataset folder (classnames.txt, test/*.tar)"
	add := func(name, title, main, fetch, layouts string) {
		e, ok := p[name]
		if !ok {
			panic("eval: metadata/prompts.json lacks " + name)
		}
		benchmarks = append(benchmarks, Benchmark{Name: name, Title: title, Classes: e.Classes, Templates: e.Templates,
			PromptSource: e.Source, Main: main, Fetch: fetch, Layouts: layouts})
	}
	add("imagenet1k", "ImageNet-1k validation (50,000 images)", MetricTop1, "",
		"the validation folder, flat (ILSVRC2012_val_*.JPEG with the devkit's ILSVRC2012_validation_ground_truth.txt and map_clsloc.txt) or one folder per WordNet id; or "+wds)
	add("cifar10", "CIFAR-10 test (10,000 images)", MetricTop1, "cifar10", "a CIFAR archive or extracted folder (binary or python version); or "+wds)
	add("cifar100", "CIFAR-100 test (10,000 images)", MetricTop1, "cifar100", "a CIFAR archive or extracted folder (binary or python version); or "+wds)
	add("stl10", "STL-10 test (8,000 images)", MetricTop1, "", "one folder per class named as the class (airplane/, bird/, ...); or "+wds)
	add("mnist", "MNIST test (10,000 images)", MetricTop1, "mnist", "a folder of the IDX files; or "+wds)
	benchmarks = append(benchmarks, Benchmark{Name: "fashion-mnist", Title: "Fashion-MNIST test (10,000 images)",
		Classes: data.FashionMNISTClasses, Templates: []string{"a photo of a {}."}, Main: MetricTop1, Fetch: "fashion-mnist",
		PromptSource: "not in the CLIP paper nor clip_benchmark: the data set's own class names (zalandoresearch/fashion-mnist README) and clipkit's choice of the single prompt \"a photo of a {}.\"",
		Layouts:      "a folder of the IDX files; or " + wds})
	add("food101", "Food-101 test (25,250 images)", MetricTop1, "", "one folder per class (food-101/images/apple_pie/, ...; names matched with '_' as ' '); or "+wds)
	add("pets", "Oxford-IIIT Pets test (3,669 images)", MetricMeanPerClassRecall, "", "one folder per class named as the class (Abyssinian/, ...; '_' matched as ' '); or "+wds)
	benchmarks = append(benchmarks,
		Benchmark{Name: "flickr30k", Title: "Flickr30k test, Karpathy split (1,000 images, 5,000 captions)", Retrieval: true, Main: "i2t_r@1",
			Layouts: "dataset_flickr30k.json (Karpathy split) with --images the flickr30k-images folder; or a retrieval " + wds},
		Benchmark{Name: "mscoco5k", Title: "MS-COCO 5k test, Karpathy split (5,000 images, 25,010 captions)", Retrieval: true, Main: "i2t_r@1",
			Layouts: "dataset_coco.json (Karpathy split) with --images the folder holding val2014/; a COCO captions JSON (annotations/captions_val2014.json) with --images its image folder; or a retrieval " + wds})
}

// Benchmarks lists the suite, in table order.
func Benchmarks() []Benchmark { return slices.Clone(benchmarks) }

// Lookup finds a benchmark by name.
func Lookup(name string) (Benchmark, error) {
	for _, b := range benchmarks {
		if b.Name == name {
			return b, nil
		}
	}
	names := make([]string, len(benchmarks))
	for i, b := range benchmarks {
		names[i] = b.Name
	}
	return Benchmark{}, fmt.Errorf("eval: unknown benchmark %q (known: %s)", name, strings.Join(names, ", "))
}

// Published is a number from a paper or results table.
type Published struct {
	Model, Dataset, Metric string
	Value                  float64
	// Source names the file, commit, row and column it was copied from.
	Source string
}

// PublishedNumbers are the numbers of metadata/published.csv. Classification rows use the metric
// "main": the benchmark's main metric as the source reports it.
func PublishedNumbers() ([]Published, error) {
	r := csv.NewReader(bytes.NewReader(publishedCSV))
	rows, err := r.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("eval: metadata/published.csv: %w", err)
	}
	if len(rows) == 0 || !slices.Equal(rows[0], []string{"model", "dataset", "metric", "value", "source"}) {
		return nil, fmt.Errorf("eval: metadata/published.csv: unexpected header")
	}
	var out []Published
	for i, row := range rows[1:] {
		v, err := strconv.ParseFloat(row[3], 64)
		if err != nil || v < 0 || v > 1 {
			return nil, fmt.Errorf("eval: metadata/published.csv line %d: value %q is not a fraction", i+2, row[3])
		}
		if row[4] == "" {
			return nil, fmt.Errorf("eval: metadata/published.csv line %d: no source", i+2)
		}
		out = append(out, Published{Model: row[0], Dataset: row[1], Metric: row[2], Value: v, Source: row[4]})
	}
	return out, nil
}

// PublishedMain returns the published main metric of model on dataset (PublishedNumbers, metric
// "main"), and false when none was copied.
func PublishedMain(model, dataset string) (Published, bool, error) {
	all, err := PublishedNumbers()
	if err != nil {
		return Published{}, false, err
	}
	for _, p := range all {
		if p.Model == model && p.Dataset == dataset && p.Metric == "main" {
			return p, true, nil
		}
	}
	return Published{}, false, nil
}
