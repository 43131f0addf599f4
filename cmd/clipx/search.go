package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/clipkit/clipkit/cliplib"
	"github.com/clipkit/clipkit/cliplib/imagesearch"
	"github.com/clipkit/clipkit/cliplib/search"
	"github.com/clipkit/clipkit/internal/atomicfile"
)

// searchOut receives the search command's JSON (tests replace it).
var searchOut io.Writer = os.Stdout

func init() {
	register("search", "image search: index a folder of images (search index), query it by text or image (search query); embed a folder into a store, file or milvus://, in N shards (search embed), load/delete; JSON out", runSearch)
}

func runSearch(args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintln(os.Stderr, "usage: clipx search index --model M --images DIR --out INDEX | clipx search query --index INDEX (--text T | --image FILE) [-k 5]")
		fmt.Fprintln(os.Stderr, "       clipx search embed --images DIR --store URL [--shard i/N] [--checkpoint F] [--export DIR] | "+
			"clipx search query --store URL --model M (--text T | --image FILE) [--filter k=v] | clipx search load --store URL --from DIR --dim D | "+
			"clipx search delete --store URL --dim D --id ID")
		if len(args) == 0 {
			return fmt.Errorf("%w: missing sub-command", errUsage)
		}
		return errHelp
	}
	switch args[0] {
	case "index":
		return runSearchIndex(args[1:])
	case "query":
		if hasStoreFlag(args[1:]) { // a store (searchstore.go) rather than an index file with a manifest
			return runStoreQuery(args[1:])
		}
		return runSearchQuery(args[1:])
	case "embed":
		return runSearchEmbed(args[1:])
	case "load":
		return runSearchLoad(args[1:])
	case "delete":
		return runSearchDelete(args[1:])
	}
	return fmt.Errorf("%w: unknown search sub-command %q (want index, query, embed, load or delete)", errUsage, args[0])
}

// searchModelOptions are the load options of the search commands: every optimisation on
// (Options.Optimized), the caches in cacheDir, or off with noCache.
func searchModelOptions(opt cliplib.Options, cacheDir string, noCache bool) cliplib.Options {
	opt = opt.Optimized()
	opt.CacheDir = cacheDir
	if noCache {
		opt.TextCache, opt.ImageCache = false, false
	}
	return opt
}

// loadSearchModel loads the model of a command that embeds images into an index or a store, and
// warns on standard error when it runs on random weights.
func loadSearchModel(name string, opt cliplib.Options, cacheDir string, noCache bool) (*cliplib.Model, error) {
	model, err := cliplib.Load(name, searchModelOptions(opt, cacheDir, noCache))
	if err != nil {
		return nil, err
	}
	if model.RandomWeights() {
		fmt.Fprintf(os.Stderr, "clipx search: WARNING: %s runs on RANDOM WEIGHTS (%s); results are meaningless\n", model.Name, model.Source.Reason)
	}
	return model, nil
}

func runSearchIndex(args []string) error {
	fs := newFlagSet("search index", "--model ViT-B/32 --images DIR --out INDEX [--kind exact|hnsw]")
	name := fs.String("model", "ViT-B/32", "model registry name or checkpoint path")
	dir := fs.String("images", "", "folder of images, searched recursively (.png .jpg .jpeg .gif .webp .bmp .tif .tiff)")
	out := fs.String("out", "", "index file to write (one file: the manifest naming the model, then the vectors)")
	kind := fs.String("kind", "exact", "exact (brute force) or hnsw (approximate, for large collections)")
	m := fs.Int("hnsw-m", 0, "HNSW neighbours per node (default 16)")
	efc := fs.Int("hnsw-ef-construction", 0, "HNSW build beam width (default 100)")
	efs := fs.Int("hnsw-ef-search", 0, "HNSW default query beam width (default 64)")
	skipBad := fs.Bool("skip-bad", false, "skip files that cannot be decoded instead of failing")
	cacheDir := fs.String("cache-dir", "", "directory of the embedding caches (default $CLIPKIT_CACHE)")
	noCache := fs.Bool("no-cache", false, "do not use or update the embedding caches")
	mf := addModelFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *dir == "" || *out == "" {
		return fmt.Errorf("%w: --images and --out are required", errUsage)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected arguments %q", errUsage, fs.Args())
	}
	// Fail before any image is encoded if the index cannot be written, or another run is writing it.
	if err := atomicfile.CheckWritable(*out); err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	if unlock, err := atomicfile.Lock(*out, 0); err != nil {
		return fmt.Errorf("--out: %w (is another clipx search index writing it?)", err)
	} else {
		unlock() // Save takes it again while it writes
	}
	model, err := loadSearchModel(*name, mf.options(), *cacheDir, *noCache)
	if err != nil {
		return err
	}
	defer model.Close()
	start := time.Now()
	ix, err := imagesearch.IndexFolder(model, *dir, imagesearch.IndexOptions{Kind: *kind, SkipBad: *skipBad,
		HNSW:     search.HNSWConfig{M: *m, EfConstruction: *efc, EfSearch: *efs},
		Progress: func(done, total int) { fmt.Fprintf(os.Stderr, "\rprocessed %d/%d files", done, total) }})
	fmt.Fprintln(os.Stderr)
	if err != nil {
		return err
	}
	if err := ix.Save(*out); err != nil {
		return err
	}
	for _, s := range ix.Skipped {
		fmt.Fprintln(os.Stderr, "skipped:", s)
	}
	fmt.Fprintf(os.Stderr, "indexed %d images, skipped %d\n", ix.Index.Len(), len(ix.Skipped))
	st := model.Stats()
	summary := struct {
		Index       string               `json:"index"`
		Manifest    imagesearch.Manifest `json:"manifest"`
		Skipped     []string             `json:"skipped,omitempty"`
		Seconds     float64              `json:"seconds"`
		CachedFiles int64                `json:"cached_files"` // served by the image cache
	}{*out, ix.Manifest, ix.Skipped, time.Since(start).Seconds(), st.ImageCache.Hits}
	return json.NewEncoder(searchOut).Encode(summary)
}

func runSearchQuery(args []string) error {
	fs := newFlagSet("search query", "--index INDEX (--text T | --image FILE)... [-k 5]")
	index := fs.String("index", "", "index file written by clipx search index")
	var texts, images multiFlag
	fs.Var(&texts, "text", "text query (repeatable)")
	fs.Var(&images, "image", "image file query (repeatable)")
	k := fs.Int("k", 5, "results per query")
	backendCfg := fs.String("backend", "", "GoMLX backend for the query model (default $GOMLX_BACKEND, else the fastest installed: xla:cuda, xla:cpu, go)")
	offline := fs.Bool("offline", false, "never touch the network; weights must be cached")
	cacheDir := fs.String("cache-dir", "", "directory of the embedding caches (default $CLIPKIT_CACHE)")
	noCache := fs.Bool("no-cache", false, "do not use or update the embedding caches")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *index == "" || len(texts)+len(images) == 0 {
		return fmt.Errorf("%w: --index and at least one --text or --image are required", errUsage)
	}
	if *k <= 0 {
		return fmt.Errorf("%w: -k must be positive", errUsage)
	}
	ix, err := imagesearch.LoadIndex(*index)
	if err != nil {
		return err
	}
	// The query model is the one the index was built with: same weights and precision.
	opt := cliplib.Options{Backend: *backendCfg, Precision: ix.Manifest.Precision, RandomWeights: ix.Manifest.RandomWeights, Offline: *offline}
	model, err := cliplib.Load(ix.Manifest.Model, searchModelOptions(opt, *cacheDir, *noCache))
	if err != nil {
		return fmt.Errorf("loading the index's model %s: %w", ix.Manifest.Model, err)
	}
	defer model.Close()
	type queryResult struct {
		Query string            `json:"query"`
		Kind  string            `json:"kind"` // "text" or "image"
		Hits  []imagesearch.Hit `json:"hits"`
	}
	out := struct {
		Index         string        `json:"index"`
		Model         string        `json:"model"`
		RandomWeights bool          `json:"random_weights"`
		Count         int           `json:"count"`
		Results       []queryResult `json:"results"`
	}{*index, ix.Manifest.Model, ix.Manifest.RandomWeights, ix.Index.Len(), nil}
	for _, t := range texts {
		hits, err := imagesearch.SearchText(model, ix, t, *k)
		if err != nil {
			return fmt.Errorf("query %q: %w", t, err)
		}
		out.Results = append(out.Results, queryResult{t, "text", hits})
	}
	for _, p := range images {
		hits, err := imagesearch.SearchImageFile(model, ix, p, *k)
		if err != nil {
			return fmt.Errorf("query image %s: %w", p, err)
		}
		out.Results = append(out.Results, queryResult{p, "image", hits})
	}
	if ix.Manifest.RandomWeights {
		fmt.Fprintf(os.Stderr, "clipx search: WARNING: the index was built with RANDOM WEIGHTS; results are meaningless\n")
	}
	enc := json.NewEncoder(searchOut)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
