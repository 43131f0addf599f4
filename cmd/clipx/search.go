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
	"github.com/spf13/cobra"
)

// searchOut receives the search command's JSON (tests replace it).
var searchOut io.Writer = os.Stdout

func init() {
	addCommand("", newSearchCmd)
	addCommand("search", newSearchIndexCmd)
	addCommand("search", newSearchQueryCmd)
}

func newSearchCmd() *cobra.Command {
	return newGroup(&cobra.Command{
		Use:   "search <sub-command> [flags]",
		Short: "image search: index a folder, query it by text or image; embed into a store (file, mem:, milvus://) in N shards; JSON out",
		Long: `Image search. One machine: 'search index' embeds a folder of images into one index file (exact or
HNSW), and 'search query --index' queries it by text or image. At scale: 'search embed' embeds a
collection into a store (an index file, mem:, or milvus://) in N resumable shards, 'search query
--store' queries it with metadata filters, 'search load' loads an export, 'search delete' removes
items. Every command prints JSON.`,
		Example: `  clipx search index --model ViT-B/32 --images ~/photos --out photos.idx
  clipx search query --index photos.idx --text "a dog on a beach"
  clipx search embed --images ~/photos --store milvus://127.0.0.1:19530/photos --shard 0/4`,
	})
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

// searchIndexOptions are the flags of clipx search index.
type searchIndexOptions struct {
	name     string
	dir      string
	out      string
	kind     string
	m        int
	efc      int
	efs      int
	skipBad  bool
	cacheDir string
	noCache  bool
	mf       modelFlags
}

func newSearchIndexCmd() *cobra.Command {
	o := &searchIndexOptions{}
	c := &cobra.Command{
		Use:   "index --model ViT-B/32 --images DIR --out INDEX [--kind exact|hnsw]",
		Short: "embed a folder of images into one index file (exact or HNSW); JSON summary out",
		Long: `Embed every image under --images (searched recursively) with --model and write one index file to
--out: a manifest naming the model, precision and weights, then the vectors, exact (brute force) or
HNSW. Embeddings are cached (--cache-dir), so re-indexing a folder serves unchanged files from
the cache. The --out file is checked before any image is encoded.`,
		Example: `  clipx search index --model ViT-B/32 --images ~/photos --out photos.idx
  clipx search index --images ~/photos --out photos.idx --kind hnsw --skip-bad`,
		Args: noArgs(""),
		RunE: func(*cobra.Command, []string) error { return runSearchIndex(o) },
	}
	f := c.Flags()
	f.StringVar(&o.name, "model", "ViT-B/32", "model registry name or checkpoint path")
	f.StringVar(&o.dir, "images", "", "folder of images, searched recursively (.png .jpg .jpeg .gif .webp .bmp .tif .tiff)")
	f.StringVar(&o.out, "out", "", "index file to write (one file: the manifest naming the model, then the vectors)")
	f.StringVar(&o.kind, "kind", "exact", "exact (brute force) or hnsw (approximate, for large collections)")
	f.IntVar(&o.m, "hnsw-m", 0, "HNSW neighbours per node (default 16)")
	f.IntVar(&o.efc, "hnsw-ef-construction", 0, "HNSW build beam width (default 100)")
	f.IntVar(&o.efs, "hnsw-ef-search", 0, "HNSW default query beam width (default 64)")
	f.BoolVar(&o.skipBad, "skip-bad", false, "skip files that cannot be decoded instead of failing")
	f.StringVar(&o.cacheDir, "cache-dir", "", "directory of the embedding caches (default $CLIPKIT_CACHE)")
	f.BoolVar(&o.noCache, "no-cache", false, "do not use or update the embedding caches")
	o.mf = addModelFlags(f)
	return c
}

func runSearchIndex(o *searchIndexOptions) error {
	if o.dir == "" || o.out == "" {
		return fmt.Errorf("%w: --images and --out are required", errUsage)
	}
	// Fail before any image is encoded if the index cannot be written, or another run is writing it.
	if err := atomicfile.CheckWritable(o.out); err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	if unlock, err := atomicfile.Lock(o.out, 0); err != nil {
		return fmt.Errorf("--out: %w (is another clipx search index writing it?)", err)
	} else {
		unlock() // Save takes it again while it writes
	}
	model, err := loadSearchModel(o.name, o.mf.options(), o.cacheDir, o.noCache)
	if err != nil {
		return err
	}
	defer model.Close()
	start := time.Now()
	ix, err := imagesearch.IndexFolder(model, o.dir, imagesearch.IndexOptions{Kind: o.kind, SkipBad: o.skipBad,
		HNSW:     search.HNSWConfig{M: o.m, EfConstruction: o.efc, EfSearch: o.efs},
		Progress: func(done, total int) { fmt.Fprintf(os.Stderr, "\rprocessed %d/%d files", done, total) }})
	fmt.Fprintln(os.Stderr)
	if err != nil {
		return err
	}
	if err := ix.Save(o.out); err != nil {
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
	}{o.out, ix.Manifest, ix.Skipped, time.Since(start).Seconds(), st.ImageCache.Hits}
	return json.NewEncoder(searchOut).Encode(summary)
}

// searchQueryOptions are the flags of clipx search query, which queries an index file (--index,
// runSearchQuery) or a store (--store, runStoreQuery in searchstore.go).
type searchQueryOptions struct {
	index    string // index file
	storeURL string // or store URL
	name     string // the store's model (an index names its own)
	texts    []string
	images   []string
	filter   string // store metadata filter
	k        int
	cacheDir string
	noCache  bool
	mf       modelFlags // an index query uses only --backend and --offline
}

// storeOnlyFlags are the search query flags that only a store query takes: an index file's
// manifest names its model, precision and weights.
var storeOnlyFlags = []string{"model", "filter", "precision", "arch", "random-weights"}

func newSearchQueryCmd() *cobra.Command {
	o := &searchQueryOptions{}
	c := &cobra.Command{
		Use:   "query (--index INDEX | --store URL --model M) (--text T | --image FILE)... [--filter key=value,...] [-k 5]",
		Short: "query an index file or a store by text or image; JSON out",
		Long: `Query an index file written by 'clipx search index' (--index), or a store filled by 'clipx search
embed' (--store, with the --model it was embedded with), by text and image: the k nearest items per
query, as JSON. An index query runs the model its manifest names, at its precision and weights.`,
		Example: `  clipx search query --index photos.idx --text "a dog on a beach" -k 5
  clipx search query --store photos.idx --model ViT-B/32 --image query.jpg --filter label=dog`,
		Args: noArgs(""),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.storeURL != "" {
				return runStoreQuery(o)
			}
			for _, name := range storeOnlyFlags {
				if cmd.Flags().Changed(name) {
					return fmt.Errorf("%w: --%s applies to a store query (--store): an index names its model, precision and weights", errUsage, name)
				}
			}
			return runSearchQuery(o)
		},
	}
	f := c.Flags()
	f.StringVar(&o.index, "index", "", "index file written by clipx search index")
	f.StringVar(&o.storeURL, "store", "", storeUsage)
	f.StringVar(&o.name, "model", "ViT-B/32", "with --store: the model the store was embedded with")
	stringsVar(f, &o.texts, "text", "text query (repeatable)")
	stringsVar(f, &o.images, "image", "image file query (repeatable)")
	f.StringVar(&o.filter, "filter", "", "with --store: metadata filter: key=value[,key=value...] (all must match), e.g. label=dog,shard=0/4")
	f.IntVar(&o.k, "k", 5, "results per query")
	f.StringVar(&o.cacheDir, "cache-dir", "", "directory of the embedding caches (default $CLIPKIT_CACHE)")
	f.BoolVar(&o.noCache, "no-cache", false, "do not use or update the embedding caches")
	o.mf = addModelFlags(f)
	return c
}

func runSearchQuery(o *searchQueryOptions) error {
	texts, images := o.texts, o.images
	if o.index == "" || len(texts)+len(images) == 0 {
		return fmt.Errorf("%w: --index and at least one --text or --image are required", errUsage)
	}
	if o.k <= 0 {
		return fmt.Errorf("%w: -k must be positive", errUsage)
	}
	ix, err := imagesearch.LoadIndex(o.index)
	if err != nil {
		return err
	}
	// The query model is the one the index was built with: same weights and precision.
	opt := cliplib.Options{Backend: *o.mf.backend, Precision: ix.Manifest.Precision, RandomWeights: ix.Manifest.RandomWeights, Offline: *o.mf.offline}
	model, err := cliplib.Load(ix.Manifest.Model, searchModelOptions(opt, o.cacheDir, o.noCache))
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
	}{o.index, ix.Manifest.Model, ix.Manifest.RandomWeights, ix.Index.Len(), nil}
	for _, t := range texts {
		hits, err := imagesearch.SearchText(model, ix, t, o.k)
		if err != nil {
			return fmt.Errorf("query %q: %w", t, err)
		}
		out.Results = append(out.Results, queryResult{t, "text", hits})
	}
	for _, p := range images {
		hits, err := imagesearch.SearchImageFile(model, ix, p, o.k)
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
