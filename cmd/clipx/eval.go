package main

import (
	"context"
	"encoding/json"
	"fmt"
	"image"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/clipkit/clipkit/cliplib"
	"github.com/clipkit/clipkit/cliplib/eval"
	"github.com/clipkit/clipkit/data"
	"github.com/clipkit/clipkit/internal/atomicfile"
	"github.com/clipkit/clipkit/weights"
	"github.com/spf13/cobra"
)

// evalOut receives the eval command's output (tests replace it).
var evalOut io.Writer = os.Stdout

func init() {
	addCommand("", newEvalCmd)
	addCommand("eval", newEvalListCmd)
	for _, sub := range evalRunCommands {
		addCommand("eval", func() *cobra.Command { return newEvalRunCmd(sub) })
	}
	addCommand("eval", newEvalTableCmd)
}

func newEvalCmd() *cobra.Command {
	return newGroup(&cobra.Command{
		Use:   "eval <sub-command> [flags]",
		Short: "standard evaluations: zero-shot, retrieval, linear probe; table against published numbers",
		Long: `Standard evaluations of a model on public benchmarks: zero-shot classification, image-text
retrieval and linear probes, saved as results that 'clipx eval table' sets beside the published
numbers; and the speed of the evaluation pipeline.`,
		Example: `  clipx eval list
  clipx eval zeroshot --model ViT-B/32 --dataset cifar10
  clipx eval table`,
	})
}

// defaultEvalDir is where results and embeddings go by default.
func defaultEvalDir(sub string) string { return filepath.Join(weights.DefaultCacheDir(), "eval", sub) }

func newEvalListCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Short:   "the benchmarks, their prompts' source and the data layouts each accepts",
		Long:    "List the benchmarks: kind, classes and templates, where the data comes from (downloaded and verified, or --data in one of the layouts listed), and the source of the prompts.",
		Example: "  clipx eval list",
		Args:    noArgs(""),
		RunE:    func(*cobra.Command, []string) error { return evalList() },
	}
}

func evalList() error {
	for _, b := range eval.Benchmarks() {
		kind := fmt.Sprintf("classification, %d classes, %d templates, main metric %s", len(b.Classes), len(b.Templates), b.Main)
		if b.Retrieval {
			kind = "retrieval"
		}
		fmt.Fprintf(evalOut, "%-13s %s (%s)\n", b.Name, b.Title, kind)
		if b.Fetch != "" {
			fmt.Fprintf(evalOut, "              data: downloaded and verified as %q, or --data: %s\n", b.Fetch, b.Layouts)
		} else {
			fmt.Fprintf(evalOut, "              data: --data: %s\n", b.Layouts)
		}
		if b.PromptSource != "" {
			fmt.Fprintf(evalOut, "              prompts: %s\n", b.PromptSource)
		}
	}
	return nil
}

// evalRunCommands are the eval sub-commands that run a model on a benchmark, with their help.
var evalRunCommands = []struct{ name, short, long, example string }{
	{"zeroshot", "zero-shot classification: top-1, top-5, mean per-class recall",
		"Zero-shot classification: the class names in the benchmark's prompt templates make the classifier;\ntop-1, top-5 and mean per-class recall.",
		"  clipx eval zeroshot --model ViT-B/32 --dataset cifar10\n  clipx eval zeroshot --model RN50 --dataset cifar10 --n 1000 --backend xla:cpu"},
	{"retrieval", "image→text and text→image recall@1/5/10 (flickr30k, mscoco5k)",
		"Image→text and text→image retrieval on a captioned benchmark (flickr30k, mscoco5k): recall@1/5/10.",
		"  clipx eval retrieval --dataset flickr30k --data dataset_flickr30k.json --images flickr30k-images"},
	{"linprobe", "linear probe on frozen image features (logistic regression, C chosen on a validation split)",
		"Linear probe: logistic regression on frozen image features of the training split (C chosen on a\nvalidation split), scored on the test split.",
		"  clipx eval linprobe --model ViT-B/32 --dataset cifar10 --n-train 10000"},
	{"speed", "images/s of a zero-shot run (decoding in parallel) against encoding alone",
		"Images/s of a zero-shot run (decoding and preprocessing in parallel with encoding) against encoding\nalone, and the overhead of the pipeline.",
		"  clipx eval speed --model ViT-B/32 --dataset mnist --n 2000"},
}

// evalOptions are the flags of clipx eval zeroshot, retrieval, linprobe and speed.
type evalOptions struct {
	sub                                                            string // zeroshot, retrieval, linprobe or speed
	model, dataset, path, images, devkit, split, cacheDir, results string
	jsonOut                                                        string
	n, nTrain, batch, workers                                      int
	noCache                                                        bool
	mf                                                             modelFlags
}

func newEvalRunCmd(sub struct{ name, short, long, example string }) *cobra.Command {
	o := &evalOptions{sub: sub.name}
	c := &cobra.Command{
		Use:     sub.name + " --model NAME --dataset NAME [--data PATH] [--n N] ...",
		Short:   sub.short,
		Long:    sub.long + "\n\nThe result is saved in --results for 'clipx eval table'; embeddings are cached in --cache-dir.",
		Example: sub.example,
		Args:    noArgs(""),
		RunE:    func(*cobra.Command, []string) error { return evalRun(o) },
	}
	fs := c.Flags()
	fs.StringVar(&o.model, "model", "ViT-B/32", "model registry name or checkpoint path")
	fs.StringVar(&o.dataset, "dataset", "", "benchmark name (clipx eval list)")
	fs.StringVar(&o.path, "data", "", "the data set in one of its published layouts (clipx eval list); default: download where a verified public source exists")
	fs.StringVar(&o.images, "images", "", "image folder of a retrieval annotation file (Karpathy split or COCO captions JSON)")
	fs.StringVar(&o.devkit, "devkit", "", "ImageNet devkit folder (map_clsloc.txt, ILSVRC2012_validation_ground_truth.txt); default: beside the images")
	fs.StringVar(&o.split, "split", "test", "split evaluated (a Karpathy split name for retrieval)")
	fs.IntVar(&o.n, "n", 0, "evaluate an evenly spread subset of N images (0: all)")
	fs.IntVar(&o.nTrain, "n-train", 0, "linprobe: train on an evenly spread subset of N training images (0: all)")
	fs.IntVar(&o.batch, "batch", 32, "images per encoder call")
	fs.IntVar(&o.workers, "workers", 0, "goroutines decoding and preprocessing in parallel with encoding (default: CPUs-1)")
	fs.StringVar(&o.cacheDir, "cache-dir", defaultEvalDir("embeddings"), "embedding cache folder")
	fs.BoolVar(&o.noCache, "no-cache", false, "neither read nor write the embedding cache")
	fs.StringVar(&o.results, "results", defaultEvalDir("results"), "folder that collects results for clipx eval table")
	fs.StringVar(&o.jsonOut, "json", "", "also write the result as JSON to this file")
	o.mf = addModelFlags(fs)
	return c
}

func evalRun(o *evalOptions) error {
	if o.dataset == "" {
		return fmt.Errorf("%w: --dataset is required (clipx eval list)", errUsage)
	}
	if o.n < 0 || o.nTrain < 0 || o.batch < 1 || o.workers < 0 {
		return fmt.Errorf("%w: --n, --n-train and --workers must be >= 0 and --batch >= 1", errUsage)
	}
	b, err := eval.Lookup(o.dataset)
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	switch {
	case o.sub == "retrieval" && !b.Retrieval:
		return fmt.Errorf("%w: %s is a classification benchmark: use clipx eval zeroshot or linprobe", errUsage, b.Name)
	case o.sub != "retrieval" && b.Retrieval:
		return fmt.Errorf("%w: %s is a retrieval benchmark: use clipx eval retrieval", errUsage, b.Name)
	}
	if o.jsonOut != "" {
		if err := atomicfile.CheckWritable(o.jsonOut); err != nil {
			return err
		}
	}
	ctx := context.Background()
	dopt := eval.DataOptions{Path: o.path, Images: o.images, Devkit: o.devkit, Fetch: data.Options{Offline: *o.mf.offline}}
	d, err := eval.Open(ctx, b, o.split, dopt)
	if err != nil {
		return err
	}
	m, err := cliplib.Load(o.model, o.mf.options())
	if err != nil {
		return err
	}
	defer m.Close()
	enc := eval.FromModel(m)
	cache := eval.Cache{Dir: o.cacheDir}
	if o.noCache {
		cache.Dir = ""
	}
	opt := eval.RunOptions{N: o.n, Cache: cache, Stream: eval.StreamOptions{Batch: o.batch, Workers: o.workers}}
	if m.RandomWeights() {
		fmt.Fprintf(evalOut, "[RANDOM WEIGHTS] %s: the numbers below measure nothing comparable to a paper\n", m.Name)
	}
	if o.sub == "speed" {
		return evalSpeed(ctx, m, enc, b, d, opt, o.jsonOut)
	}
	var r *eval.Result
	switch o.sub {
	case "zeroshot":
		r, err = eval.ZeroShot(ctx, enc, b, d, opt)
	case "retrieval":
		r, err = eval.Retrieval(ctx, enc, b, d, opt)
	case "linprobe":
		train, terr := eval.Open(ctx, b, "train", dopt)
		if terr != nil {
			return fmt.Errorf("linear probe needs the training split: %w", terr)
		}
		r, err = eval.LinearProbeRun(ctx, enc, b, train, d, o.nTrain, opt, eval.ProbeOptions{})
	}
	if err != nil {
		return err
	}
	eval.Describe(r, m)
	printResult(evalOut, r)
	p, err := eval.SaveResult(o.results, r)
	if err != nil {
		return err
	}
	fmt.Fprintf(evalOut, "result: %s\n", p)
	if o.jsonOut != "" {
		return atomicfile.Write(o.jsonOut, 0o644, func(w io.Writer) error {
			e := json.NewEncoder(w)
			e.SetIndent("", " ")
			return e.Encode(r)
		})
	}
	return nil
}

func printResult(w io.Writer, r *eval.Result) {
	prefix := ""
	if r.RandomWeights {
		prefix = "[RANDOM WEIGHTS] "
	}
	fmt.Fprintf(w, "%s%s %s on %s (%s): %d images", prefix, r.Model, r.Task, r.Benchmark, r.Data, r.Images)
	if r.Texts > 0 {
		fmt.Fprintf(w, ", %d texts", r.Texts)
	}
	if r.Subset {
		fmt.Fprint(w, " (a subset)")
	}
	fmt.Fprintln(w)
	keys := make([]string, 0, len(r.Metrics))
	for k := range r.Metrics {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := r.Metrics[k]
		switch k {
		case "C", "train_images":
			fmt.Fprintf(w, "%s  %-22s %g\n", prefix, k, v)
		default:
			mark := ""
			if k == r.Main {
				mark = "  (main metric)"
			}
			fmt.Fprintf(w, "%s  %-22s %.2f%%%s\n", prefix, k, 100*v, mark)
		}
	}
	if r.Cached {
		fmt.Fprintf(w, "%s  embeddings: from the cache\n", prefix)
	} else if r.Seconds > 0 {
		fmt.Fprintf(w, "%s  images/s: %.1f (%.1f s, of which %.1f s encoding)\n", prefix, float64(r.Images)/r.Seconds, r.Seconds, r.EncodeSeconds)
	}
}

// evalSpeed times a zero-shot pass with decoding in parallel (no cache) against encoding the same
// images alone (decoded beforehand, batch by batch, outside the timer).
func evalSpeed(ctx context.Context, m *cliplib.Model, enc eval.Encoder, b eval.Benchmark, d *eval.Opened, opt eval.RunOptions, jsonOut string) error {
	if b.Retrieval {
		return fmt.Errorf("%w: speed runs a zero-shot benchmark", errUsage)
	}
	idx := eval.Spread(d.Len(), opt.N)
	if idx == nil {
		idx = make([]int, d.Len())
		for i := range idx {
			idx[i] = i
		}
	}
	t0 := time.Now()
	w, err := eval.ClassifierWeights(eval.Cache{}, enc, b.Classes, b.Templates)
	if err != nil {
		return err
	}
	textTime := time.Since(t0)
	// Warm-up: compile the batch shapes used below.
	batch := opt.Stream.Batch
	if _, _, _, err := eval.EncodeDataset(ctx, enc, d, idx[:min(len(idx), batch)], opt.Stream); err != nil {
		return err
	}
	if len(idx)%batch != 0 {
		if _, _, _, err := eval.EncodeDataset(ctx, enc, d, idx[:len(idx)%batch], opt.Stream); err != nil {
			return err
		}
	}
	start := time.Now()
	embs, labels, tm, err := eval.EncodeDataset(ctx, enc, d, idx, opt.Stream)
	if err != nil {
		return err
	}
	top1, err := eval.TopKAccuracy(cliplib.Similarity(embs, w), labels, 1)
	if err != nil {
		return err
	}
	pipeline := time.Since(start)
	var alone time.Duration
	for lo := 0; lo < len(idx); lo += batch {
		hi := min(lo+batch, len(idx))
		imgs := make([]image.Image, 0, hi-lo)
		for _, i := range idx[lo:hi] {
			img, _, err := d.Item(i)
			if err != nil {
				return err
			}
			imgs = append(imgs, img)
		}
		px, err := enc.Preprocess(imgs)
		if err != nil {
			return err
		}
		t := time.Now()
		if _, err := enc.EncodePixels(px, hi-lo); err != nil {
			return err
		}
		alone += time.Since(t)
	}
	n := float64(len(idx))
	fmt.Fprintf(evalOut, "%s zero-shot %s, %d images, batch %d, backend %s, %s\n", m.Name, b.Name, len(idx), batch, m.Encoder().BackendChoice().Config, m.Encoder().Precision())
	fmt.Fprintf(evalOut, "  class embeddings (%d prompts): %.2f s, once per model and benchmark\n", len(b.Classes)*len(b.Templates), textTime.Seconds())
	fmt.Fprintf(evalOut, "  eval (decode ‖ preprocess ‖ encode, then metrics): %.1f images/s (%.2f s; %.2f s inside the encoder; top-1 %.2f%%)\n", n/pipeline.Seconds(), pipeline.Seconds(), tm.Encode.Seconds(), 100*top1)
	fmt.Fprintf(evalOut, "  encoding alone (pre-decoded batches):              %.1f images/s (%.2f s)\n", n/alone.Seconds(), alone.Seconds())
	fmt.Fprintf(evalOut, "  overhead of decoding, preprocessing and metrics: %+.1f%% (goal: <= 10%%)\n", 100*(pipeline.Seconds()/alone.Seconds()-1))
	if jsonOut != "" {
		rep := map[string]any{"model": m.Name, "random_weights": m.RandomWeights(), "benchmark": b.Name, "images": len(idx),
			"batch": batch, "backend": m.Encoder().BackendChoice().String(), "precision": string(m.Encoder().Precision()),
			"class_embeddings_s": textTime.Seconds(), "eval_s": pipeline.Seconds(), "eval_inside_encoder_s": tm.Encode.Seconds(),
			"eval_images_per_s": n / pipeline.Seconds(), "encode_alone_s": alone.Seconds(), "encode_alone_images_per_s": n / alone.Seconds(),
			"overhead_fraction": pipeline.Seconds()/alone.Seconds() - 1, "top1": top1}
		return atomicfile.Write(jsonOut, 0o644, func(w io.Writer) error {
			e := json.NewEncoder(w)
			e.SetIndent("", " ")
			return e.Encode(rep)
		})
	}
	return nil
}

// evalTableOptions are the flags of clipx eval table.
type evalTableOptions struct {
	results string
	models  string
	all     bool
	asJSON  bool
	out     string
}

func newEvalTableCmd() *cobra.Command {
	o := &evalTableOptions{}
	c := &cobra.Command{
		Use:   "table [--results DIR] [--models A,B] [--all] [--json] [--out FILE]",
		Short: "published numbers beside ours, for every registered model (Markdown or JSON)",
		Long: `Build the table of published numbers beside ours ("not run here" where we have none), for every
registered model or --models, from the results that clipx eval zeroshot/retrieval/linprobe saved in
--results: Markdown, or JSON rows with --json; to standard output or, atomically, to --out.`,
		Example: `  clipx eval table
  clipx eval table --models ViT-B/32,RN50 --out results.md`,
		Args: noArgs(""),
		RunE: func(*cobra.Command, []string) error { return evalTable(o) },
	}
	f := c.Flags()
	f.StringVar(&o.results, "results", defaultEvalDir("results"), "folder of results written by clipx eval zeroshot/retrieval/linprobe")
	f.StringVar(&o.models, "models", "", "comma-separated models (default: every registered model)")
	f.BoolVar(&o.all, "all", false, "also list rows with neither a published number nor a result")
	f.BoolVar(&o.asJSON, "json", false, "JSON rows instead of Markdown")
	f.StringVar(&o.out, "out", "", "write to this file (atomically) instead of standard output")
	return c
}

func evalTable(o *evalTableOptions) error {
	rs, err := eval.LoadResults(o.results)
	if err != nil {
		return err
	}
	pub, err := eval.PublishedNumbers()
	if err != nil {
		return err
	}
	ms := eval.TableModels()
	if o.models != "" {
		ms = splitList(o.models)
	}
	rows := eval.BuildTable(ms, rs, pub)
	write := func(w io.Writer) error {
		if o.asJSON {
			e := json.NewEncoder(w)
			e.SetIndent("", " ")
			return e.Encode(rows)
		}
		_, err := io.WriteString(w, eval.Markdown(rows, !o.all))
		return err
	}
	if o.out == "" {
		return write(evalOut)
	}
	if err := atomicfile.Write(o.out, 0o644, write); err != nil {
		return err
	}
	measured := 0
	for _, r := range rows {
		if r.HasOurs {
			measured++
		}
	}
	fmt.Fprintf(evalOut, "%s: %d rows, %d measured here with trained weights, results from %s\n", o.out, len(rows), measured, strings.TrimSpace(o.results))
	return nil
}
