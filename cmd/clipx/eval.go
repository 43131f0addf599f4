package main

import (
	"context"
	"encoding/json"
	"flag"
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
)

// evalOut receives the eval command's output (tests replace it).
var evalOut io.Writer = os.Stdout

const evalUsage = `list | zeroshot | retrieval | linprobe | table | speed  (clipx eval <sub-command> -h for flags)

  list       the benchmarks, their prompts' source and the data layouts each accepts
  zeroshot   zero-shot classification: top-1, top-5, mean per-class recall
  retrieval  image→text and text→image recall@1/5/10 (flickr30k, mscoco5k)
  linprobe   linear probe on frozen image features (logistic regression, C chosen on a validation split)
  table      published numbers beside ours, for every registered model (Markdown or JSON)
  speed      images/s of a zero-shot run (decoding in parallel) against encoding alone`

func init() {
	register("eval", "standard evaluations: zero-shot, retrieval, linear probe; table against published numbers", runEval)
}

func runEval(args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintln(os.Stderr, "usage: clipx eval "+evalUsage)
		if len(args) == 0 {
			return fmt.Errorf("%w: missing sub-command", errUsage)
		}
		return errHelp
	}
	switch args[0] {
	case "list":
		return evalList(args[1:])
	case "zeroshot", "retrieval", "linprobe", "speed":
		return evalRun(args[0], args[1:])
	case "table":
		return evalTable(args[1:])
	}
	return fmt.Errorf("%w: unknown eval sub-command %q (want list, zeroshot, retrieval, linprobe, table or speed)", errUsage, args[0])
}

// defaultEvalDir is where results and embeddings go by default.
func defaultEvalDir(sub string) string { return filepath.Join(weights.DefaultCacheDir(), "eval", sub) }

func evalList(args []string) error {
	fs := newFlagSet("eval list", "")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
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

type evalFlags struct {
	model, dataset, path, images, devkit, split, cacheDir, results, jsonOut *string
	n, nTrain, batch, workers                                               *int
	noCache                                                                 *bool
	mf                                                                      modelFlags
}

func addEvalFlags(fs *flag.FlagSet) evalFlags {
	return evalFlags{
		model:    fs.String("model", "ViT-B/32", "model registry name or checkpoint path"),
		dataset:  fs.String("dataset", "", "benchmark name (clipx eval list)"),
		path:     fs.String("data", "", "the data set in one of its published layouts (clipx eval list); default: download where a verified public source exists"),
		images:   fs.String("images", "", "image folder of a retrieval annotation file (Karpathy split or COCO captions JSON)"),
		devkit:   fs.String("devkit", "", "ImageNet devkit folder (map_clsloc.txt, ILSVRC2012_validation_ground_truth.txt); default: beside the images"),
		split:    fs.String("split", "test", "split evaluated (a Karpathy split name for retrieval)"),
		n:        fs.Int("n", 0, "evaluate an evenly spread subset of N images (0: all)"),
		nTrain:   fs.Int("n-train", 0, "linprobe: train on an evenly spread subset of N training images (0: all)"),
		batch:    fs.Int("batch", 32, "images per encoder call"),
		workers:  fs.Int("workers", 0, "goroutines decoding and preprocessing in parallel with encoding (default: CPUs-1)"),
		cacheDir: fs.String("cache-dir", defaultEvalDir("embeddings"), "embedding cache folder"),
		noCache:  fs.Bool("no-cache", false, "neither read nor write the embedding cache"),
		results:  fs.String("results", defaultEvalDir("results"), "folder that collects results for clipx eval table"),
		jsonOut:  fs.String("json", "", "also write the result as JSON to this file"),
		mf:       addModelFlags(fs),
	}
}

func evalRun(sub string, args []string) error {
	fs := newFlagSet("eval "+sub, "--model NAME --dataset NAME [--data PATH] [--n N] ...")
	f := addEvalFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected arguments %q", errUsage, fs.Args())
	}
	if *f.dataset == "" {
		return fmt.Errorf("%w: --dataset is required (clipx eval list)", errUsage)
	}
	if *f.n < 0 || *f.nTrain < 0 || *f.batch < 1 || *f.workers < 0 {
		return fmt.Errorf("%w: --n, --n-train and --workers must be >= 0 and --batch >= 1", errUsage)
	}
	b, err := eval.Lookup(*f.dataset)
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	switch {
	case sub == "retrieval" && !b.Retrieval:
		return fmt.Errorf("%w: %s is a classification benchmark: use clipx eval zeroshot or linprobe", errUsage, b.Name)
	case sub != "retrieval" && b.Retrieval:
		return fmt.Errorf("%w: %s is a retrieval benchmark: use clipx eval retrieval", errUsage, b.Name)
	}
	if *f.jsonOut != "" {
		if err := atomicfile.CheckWritable(*f.jsonOut); err != nil {
			return err
		}
	}
	ctx := context.Background()
	dopt := eval.DataOptions{Path: *f.path, Images: *f.images, Devkit: *f.devkit, Fetch: data.Options{Offline: *f.mf.offline}}
	d, err := eval.Open(ctx, b, *f.split, dopt)
	if err != nil {
		return err
	}
	m, err := cliplib.Load(*f.model, f.mf.options())
	if err != nil {
		return err
	}
	defer m.Close()
	enc := eval.FromModel(m)
	cache := eval.Cache{Dir: *f.cacheDir}
	if *f.noCache {
		cache.Dir = ""
	}
	opt := eval.RunOptions{N: *f.n, Cache: cache, Stream: eval.StreamOptions{Batch: *f.batch, Workers: *f.workers}}
	if m.RandomWeights() {
		fmt.Fprintf(evalOut, "[RANDOM WEIGHTS] %s: the numbers below measure nothing comparable to a paper\n", m.Name)
	}
	if sub == "speed" {
		return evalSpeed(ctx, m, enc, b, d, opt, *f.jsonOut)
	}
	var r *eval.Result
	switch sub {
	case "zeroshot":
		r, err = eval.ZeroShot(ctx, enc, b, d, opt)
	case "retrieval":
		r, err = eval.Retrieval(ctx, enc, b, d, opt)
	case "linprobe":
		train, terr := eval.Open(ctx, b, "train", dopt)
		if terr != nil {
			return fmt.Errorf("linear probe needs the training split: %w", terr)
		}
		r, err = eval.LinearProbeRun(ctx, enc, b, train, d, *f.nTrain, opt, eval.ProbeOptions{})
	}
	if err != nil {
		return err
	}
	eval.Describe(r, m)
	printResult(evalOut, r)
	p, err := eval.SaveResult(*f.results, r)
	if err != nil {
		return err
	}
	fmt.Fprintf(evalOut, "result: %s\n", p)
	if *f.jsonOut != "" {
		return atomicfile.Write(*f.jsonOut, 0o644, func(w io.Writer) error {
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

func evalTable(args []string) error {
	fs := newFlagSet("eval table", "[--results DIR] [--models A,B] [--all] [--json] [--out FILE]")
	results := fs.String("results", defaultEvalDir("results"), "folder of results written by clipx eval zeroshot/retrieval/linprobe")
	models := fs.String("models", "", "comma-separated models (default: every registered model)")
	all := fs.Bool("all", false, "also list rows with neither a published number nor a result")
	asJSON := fs.Bool("json", false, "JSON rows instead of Markdown")
	out := fs.String("out", "", "write to this file (atomically) instead of standard output")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected arguments %q", errUsage, fs.Args())
	}
	rs, err := eval.LoadResults(*results)
	if err != nil {
		return err
	}
	pub, err := eval.PublishedNumbers()
	if err != nil {
		return err
	}
	ms := eval.TableModels()
	if *models != "" {
		ms = splitList(*models)
	}
	rows := eval.BuildTable(ms, rs, pub)
	write := func(w io.Writer) error {
		if *asJSON {
			e := json.NewEncoder(w)
			e.SetIndent("", " ")
			return e.Encode(rows)
		}
		_, err := io.WriteString(w, eval.Markdown(rows, !*all))
		return err
	}
	if *out == "" {
		return write(evalOut)
	}
	if err := atomicfile.Write(*out, 0o644, write); err != nil {
		return err
	}
	measured := 0
	for _, r := range rows {
		if r.HasOurs {
			measured++
		}
	}
	fmt.Fprintf(evalOut, "%s: %d rows, %d measured here with trained weights, results from %s\n", *out, len(rows), measured, strings.TrimSpace(*results))
	return nil
}
