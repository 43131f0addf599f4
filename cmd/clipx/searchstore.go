package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"time"

	"github.com/clipkit/clipkit/cliplib"
	"github.com/clipkit/clipkit/cliplib/imagesearch"
	"github.com/clipkit/clipkit/cliplib/search"
	"github.com/clipkit/clipkit/cliplib/search/ingest"
	_ "github.com/clipkit/clipkit/cliplib/search/milvus" // milvus:// and milvuss:// store URLs
	"github.com/clipkit/clipkit/data"
	"github.com/spf13/cobra"
)

// The store sub-commands of `clipx search` (the query of a store is search.go's query command):
//
//	clipx search embed  --images DIR --store URL [--shard i/N] [--checkpoint F] [--export DIR]
//	clipx search query  --store URL --model M (--text T | --image F)... [--filter k=v,...] [-k 5]
//	clipx search load   --store URL --from EXPORTDIR --dim D
//	clipx search delete --store URL --dim D --id ID...
//
// A store URL is a path to an in-process index file (the default kind of
// store), mem: or milvus://host:port/collection (search.OpenStore).

// storeUsage is the usage line of the store sub-commands.
const storeUsage = "--store URL: a file (in-process index), mem:, or milvus://host:19530/collection[?index=hnsw&M=16&efConstruction=100&ef=64] " +
	"(milvuss:// or ?tls=true for TLS; token from $CLIPKIT_MILVUS_TOKEN)"

// storeTimeout bounds a whole store command's remote calls.
const storeTimeout = 24 * time.Hour

func init() {
	addCommand("search", newSearchEmbedCmd)
	addCommand("search", newSearchLoadCmd)
	addCommand("search", newSearchDeleteCmd)
}

func storeContext() (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt)
	return ctx, func() { stop(); cancel() }
}

// searchEmbedOptions are the flags of clipx search embed.
type searchEmbedOptions struct {
	name       string
	dir        string
	storeURL   string
	shard      string
	checkpoint string
	export     string
	batch      int
	part       int
	kind       string
	skipBad    bool
	cacheDir   string
	noCache    bool
	mf         modelFlags
}

func newSearchEmbedCmd() *cobra.Command {
	o := &searchEmbedOptions{}
	c := &cobra.Command{
		Use:   "embed --images DIR --store URL [--shard i/N] [--checkpoint FILE] [--export DIR] [--model M]",
		Short: "embed a collection into a store (file, mem:, milvus://), in N resumable shards; JSON out",
		Long: `Embed the images under --images into --store, this machine's --shard i/N of them, part by part
(--part images: the unit of upsert, export and checkpoint), with labels (class sub-folders) or
captions (captions.csv/jsonl) as metadata. With --checkpoint an interrupted run resumes; a re-run
adds nothing twice. --export also writes the embeddings as .npy + Parquet parts (clip-retrieval's
layout) for 'clipx search load'.`,
		Example: `  clipx search embed --images ~/photos --store photos.idx
  clipx search embed --images /data/coll --store milvus://127.0.0.1:19530/coll --shard 1/4 --checkpoint shard1.ckpt`,
		Args: noArgs(""),
		RunE: func(*cobra.Command, []string) error { return runSearchEmbed(o) },
	}
	f := c.Flags()
	f.StringVar(&o.name, "model", "ViT-B/32", "model registry name or checkpoint path")
	f.StringVar(&o.dir, "images", "", "collection root: a folder of images, searched recursively (class per sub-folder, or captions.csv/jsonl)")
	f.StringVar(&o.storeURL, "store", "", storeUsage)
	f.StringVar(&o.shard, "shard", "0/1", "this machine's part of the collection, i/N (0 <= i < N): N machines each run one i")
	f.StringVar(&o.checkpoint, "checkpoint", "", "progress file of this shard, for resuming (default: none; an embed re-run still adds nothing twice)")
	f.StringVar(&o.export, "export", "", "also write the embeddings to DIR as .npy + Parquet parts (clip-retrieval's layout)")
	f.IntVar(&o.batch, "batch", 32, "images per encoder call")
	f.IntVar(&o.part, "part", 1024, "images per part: the unit of upsert, export and checkpoint")
	f.StringVar(&o.kind, "kind", "exact", "index kind of a new in-process store: exact or hnsw")
	f.BoolVar(&o.skipBad, "skip-bad", false, "skip files that cannot be read or decoded instead of failing")
	f.StringVar(&o.cacheDir, "cache-dir", "", "directory of the embedding caches (default $CLIPKIT_CACHE)")
	f.BoolVar(&o.noCache, "no-cache", false, "do not use or update the embedding caches")
	o.mf = addModelFlags(f)
	return c
}

func runSearchEmbed(o *searchEmbedOptions) error {
	if o.dir == "" || o.storeURL == "" {
		return fmt.Errorf("%w: --images and --store are required", errUsage)
	}
	si, sn, err := ingest.ParseShard(o.shard)
	if err != nil {
		return fmt.Errorf("%w: --shard: %v", errUsage, err)
	}
	if o.batch <= 0 || o.part <= 0 {
		return fmt.Errorf("%w: --batch and --part must be positive", errUsage)
	}
	files, labels, captions, err := collectionFiles(o.dir)
	if err != nil {
		return err
	}
	model, err := loadSearchModel(o.name, o.mf.options(), o.cacheDir, o.noCache)
	if err != nil {
		return err
	}
	defer model.Close()
	ctx, cancel := storeContext()
	defer cancel()
	st, err := search.OpenStore(ctx, o.storeURL, search.StoreOptions{Dim: model.EmbedDim(), Kind: o.kind})
	if err != nil {
		return err
	}
	modelID := imagesearch.StoreIdentity(model)
	stats, err := ingest.Run(ctx, st, files, func(paths []string) ([][]float32, error) { return model.EncodeImageFiles(paths...) },
		ingest.Options{Shard: si, Shards: sn, Batch: o.batch, PartFiles: o.part, Checkpoint: o.checkpoint, ExportDir: o.export, SkipBad: o.skipBad,
			Metadata: func(f ingest.File) map[string]string {
				m := map[string]string{imagesearch.ModelMetaKey: modelID, "name": filepath.Base(f.Path)}
				if l := labels[f.Key]; l != "" {
					m["label"] = l
				}
				if c := captions[f.Key]; c != "" {
					m["caption"] = c
				}
				return m
			},
			Progress: func(p ingest.Progress) { fmt.Fprintf(os.Stderr, "\r%s", p) }})
	fmt.Fprintln(os.Stderr)
	if err != nil {
		st.Close()
		if stats != nil && o.checkpoint != "" {
			fmt.Fprintf(os.Stderr, "clipx search embed: stopped; run the same command again to resume shard %s from %s\n", o.shard, o.checkpoint)
		}
		return err
	}
	if f, ok := st.(interface{ Flush(context.Context) error }); ok {
		if err := f.Flush(ctx); err != nil {
			st.Close()
			return err
		}
	}
	count, err := countAndClose(ctx, st)
	if err != nil {
		return err
	}
	for _, s := range stats.Skipped {
		fmt.Fprintln(os.Stderr, "skipped:", s)
	}
	summary := struct {
		Store      string `json:"store"`
		Shard      string `json:"shard"`
		Model      string `json:"model"`
		Identity   string `json:"identity"`
		Random     bool   `json:"random_weights"`
		Dim        int    `json:"dim"`
		StoreCount int    `json:"store_count"` // items in the whole store after this run
		*ingest.Stats
	}{search.Redact(o.storeURL), o.shard, model.Name, modelID, model.RandomWeights(), model.EmbedDim(), count, stats}
	return json.NewEncoder(searchOut).Encode(summary)
}

// collectionFiles lists the images under dir with their keys (relative
// paths) and, where the folder says so, labels (class sub-folders) and
// captions (captions.csv/jsonl), by key.
func collectionFiles(dir string) ([]ingest.File, map[string]string, map[string]string, error) {
	labels, captions := map[string]string{}, map[string]string{}
	var paths []string
	root := dir
	if f, err := data.LoadFolder(dir, data.FolderOptions{}); err == nil {
		root = f.Root()
		classes := f.Classes()
		captioned := false // LoadFolder reads captions.csv or captions.jsonl when there is one
		for _, c := range []string{"captions.csv", "captions.jsonl"} {
			if _, err := os.Stat(filepath.Join(dir, c)); err == nil {
				captioned = true
			}
		}
		for i := range f.Len() {
			p := f.Path(i)
			paths = append(paths, p)
			key, _ := filepath.Rel(root, p)
			key = filepath.ToSlash(key)
			if c := f.Caption(i); captioned && c != "" {
				captions[key] = c
			} else if l := f.Label(i); !captioned && l >= 0 && l < len(classes) {
				labels[key] = classes[l]
			}
		}
	} else {
		fmt.Fprintf(os.Stderr, "clipx search embed: %s has no class or caption layout (%v); embedding its images without labels\n", dir, err)
		if paths, err = data.ImageFiles(dir); err != nil {
			return nil, nil, nil, err
		}
	}
	if len(paths) == 0 {
		return nil, nil, nil, fmt.Errorf("clipx search embed: no images under %s", dir)
	}
	files, err := ingest.Files(root, paths)
	return files, labels, captions, err
}

func runStoreQuery(o *searchQueryOptions) error {
	texts, images := o.texts, o.images
	if o.storeURL == "" || len(texts)+len(images) == 0 {
		return fmt.Errorf("%w: --store and at least one --text or --image are required", errUsage)
	}
	if o.k <= 0 {
		return fmt.Errorf("%w: -k must be positive", errUsage)
	}
	f, err := search.ParseFilter(o.filter)
	if err != nil {
		return fmt.Errorf("%w: --filter: %v", errUsage, err)
	}
	model, err := cliplib.Load(o.name, searchModelOptions(o.mf.options(), o.cacheDir, o.noCache))
	if err != nil {
		return err
	}
	defer model.Close()
	ctx, cancel := storeContext()
	defer cancel()
	st, err := search.OpenStore(ctx, o.storeURL, search.StoreOptions{Dim: model.EmbedDim(), MustExist: true})
	if err != nil {
		return err
	}
	defer st.Close()
	type queryResult struct {
		Query string            `json:"query"`
		Kind  string            `json:"kind"`
		Hits  []imagesearch.Hit `json:"hits"`
	}
	out := struct {
		Store   string        `json:"store"`
		Model   string        `json:"model"`
		Filter  search.Filter `json:"filter,omitempty"`
		Results []queryResult `json:"results"`
	}{Store: search.Redact(o.storeURL), Model: model.Name, Filter: f}
	for _, t := range texts {
		hits, err := imagesearch.SearchStoreText(ctx, model, st, t, o.k, f)
		if err != nil {
			return fmt.Errorf("query %q in store %s: %w", t, search.Redact(o.storeURL), err)
		}
		out.Results = append(out.Results, queryResult{t, "text", hits})
	}
	for _, p := range images {
		hits, err := imagesearch.SearchStoreImageFile(ctx, model, st, p, o.k, f)
		if err != nil {
			return fmt.Errorf("query image %s in store %s: %w", p, search.Redact(o.storeURL), err)
		}
		out.Results = append(out.Results, queryResult{p, "image", hits})
	}
	enc := json.NewEncoder(searchOut)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// searchLoadOptions are the flags of clipx search load.
type searchLoadOptions struct {
	storeURL string
	from     string
	dim      int
	kind     string
}

func newSearchLoadCmd() *cobra.Command {
	o := &searchLoadOptions{}
	c := &cobra.Command{
		Use:   "load --store URL --from EXPORTDIR --dim D",
		Short: "load the parts written by search embed --export into a store; JSON out",
		Long: `Load the .npy + Parquet parts that 'clipx search embed --export' wrote into --store, whose vectors
have dimension --dim.`,
		Example: `  clipx search load --store milvus://127.0.0.1:19530/photos --from export/ --dim 512`,
		Args:    noArgs(""),
		RunE:    func(*cobra.Command, []string) error { return runSearchLoad(o) },
	}
	f := c.Flags()
	f.StringVar(&o.storeURL, "store", "", storeUsage)
	f.StringVar(&o.from, "from", "", "directory of .npy + .parquet parts written by clipx search embed --export")
	f.IntVar(&o.dim, "dim", 0, "vector dimension (the model's embedding dimension, e.g. 512 for ViT-B/32)")
	f.StringVar(&o.kind, "kind", "exact", "index kind of a new in-process store: exact or hnsw")
	return c
}

func runSearchLoad(o *searchLoadOptions) error {
	if o.storeURL == "" || o.from == "" || o.dim <= 0 {
		return fmt.Errorf("%w: --store, --from and a positive --dim are required", errUsage)
	}
	ctx, cancel := storeContext()
	defer cancel()
	st, err := search.OpenStore(ctx, o.storeURL, search.StoreOptions{Dim: o.dim, Kind: o.kind})
	if err != nil {
		return err
	}
	start := time.Now()
	n, err := ingest.LoadExport(ctx, st, o.from)
	if err != nil {
		st.Close()
		return err
	}
	count, err := countAndClose(ctx, st)
	if err != nil {
		return err
	}
	return json.NewEncoder(searchOut).Encode(map[string]any{"store": search.Redact(o.storeURL), "loaded": n, "store_count": count,
		"seconds": time.Since(start).Seconds()})
}

// searchDeleteOptions are the flags of clipx search delete.
type searchDeleteOptions struct {
	storeURL string
	dim      int
	ids      []string
}

func newSearchDeleteCmd() *cobra.Command {
	o := &searchDeleteOptions{}
	c := &cobra.Command{
		Use:   "delete --store URL --dim D --id ID...",
		Short: "delete items (by the id of a query hit) from a store; JSON out",
		Long: `Delete the items with the given ids (the id of a query hit) from --store, whose vectors have
dimension --dim, and print how many remain.`,
		Example: `  clipx search delete --store photos.idx --dim 512 --id 17 --id 42`,
		Args:    noArgs(""),
		RunE:    func(*cobra.Command, []string) error { return runSearchDelete(o) },
	}
	f := c.Flags()
	f.StringVar(&o.storeURL, "store", "", storeUsage)
	f.IntVar(&o.dim, "dim", 0, "vector dimension of the store")
	stringsVar(f, &o.ids, "id", "item ID to delete (repeatable; the id of a query hit)")
	return c
}

func runSearchDelete(o *searchDeleteOptions) error {
	ids := o.ids
	if o.storeURL == "" || o.dim <= 0 || len(ids) == 0 {
		return fmt.Errorf("%w: --store, a positive --dim and at least one --id are required", errUsage)
	}
	var del []uint64
	for _, s := range ids {
		id, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return fmt.Errorf("%w: --id %q: want an unsigned integer", errUsage, s)
		}
		del = append(del, id)
	}
	ctx, cancel := storeContext()
	defer cancel()
	st, err := search.OpenStore(ctx, o.storeURL, search.StoreOptions{Dim: o.dim, MustExist: true})
	if err != nil {
		return err
	}
	if err := st.Delete(ctx, del...); err != nil {
		st.Close()
		return err
	}
	count, err := countAndClose(ctx, st)
	if err != nil {
		return err
	}
	return json.NewEncoder(searchOut).Encode(map[string]any{"store": search.Redact(o.storeURL), "deleted": len(del), "store_count": count})
}

// countAndClose returns the number of items in st and closes it; a close error wins over a count
// error (it may mean writes were lost).
func countAndClose(ctx context.Context, st search.Store) (int, error) {
	count, cerr := st.Count(ctx)
	if err := st.Close(); err != nil {
		return 0, err
	}
	return count, cerr
}
