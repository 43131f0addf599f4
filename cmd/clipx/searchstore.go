package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/clipkit/clipkit/cliplib"
	"github.com/clipkit/clipkit/cliplib/imagesearch"
	"github.com/clipkit/clipkit/cliplib/search"
	"github.com/clipkit/clipkit/cliplib/search/ingest"
	_ "github.com/clipkit/clipkit/cliplib/search/milvus" // milvus:// and milvuss:// store URLs
	"github.com/clipkit/clipkit/data"
)

// The store sub-commands of `clipx search` (search.go dispatches to them):
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

func storeContext() (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt)
	return ctx, func() { stop(); cancel() }
}

func runSearchEmbed(args []string) error {
	fs := newFlagSet("search embed", "--images DIR --store URL [--shard i/N] [--checkpoint FILE] [--export DIR] [--model M]")
	name := fs.String("model", "ViT-B/32", "model registry name or checkpoint path")
	dir := fs.String("images", "", "collection root: a folder of images, searched recursively (class per sub-folder, or captions.csv/jsonl)")
	storeURL := fs.String("store", "", storeUsage)
	shard := fs.String("shard", "0/1", "this machine's part of the collection, i/N (0 <= i < N): N machines each run one i")
	checkpoint := fs.String("checkpoint", "", "progress file of this shard, for resuming (default: none; an embed re-run still adds nothing twice)")
	export := fs.String("export", "", "also write the embeddings to DIR as .npy + Parquet parts (clip-retrieval's layout)")
	batch := fs.Int("batch", 32, "images per encoder call")
	part := fs.Int("part", 1024, "images per part: the unit of upsert, export and checkpoint")
	kind := fs.String("kind", "exact", "index kind of a new in-process store: exact or hnsw")
	skipBad := fs.Bool("skip-bad", false, "skip files that cannot be read or decoded instead of failing")
	cacheDir := fs.String("cache-dir", "", "directory of the embedding caches (default $CLIPKIT_CACHE)")
	noCache := fs.Bool("no-cache", false, "do not use or update the embedding caches")
	mf := addModelFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *dir == "" || *storeURL == "" {
		return fmt.Errorf("%w: --images and --store are required", errUsage)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected arguments %q", errUsage, fs.Args())
	}
	si, sn, err := ingest.ParseShard(*shard)
	if err != nil {
		return fmt.Errorf("%w: --shard: %v", errUsage, err)
	}
	if *batch <= 0 || *part <= 0 {
		return fmt.Errorf("%w: --batch and --part must be positive", errUsage)
	}
	files, labels, captions, err := collectionFiles(*dir)
	if err != nil {
		return err
	}
	model, err := loadSearchModel(*name, mf.options(), *cacheDir, *noCache)
	if err != nil {
		return err
	}
	defer model.Close()
	ctx, cancel := storeContext()
	defer cancel()
	st, err := search.OpenStore(ctx, *storeURL, search.StoreOptions{Dim: model.EmbedDim(), Kind: *kind})
	if err != nil {
		return err
	}
	modelID := imagesearch.StoreIdentity(model)
	stats, err := ingest.Run(ctx, st, files, func(paths []string) ([][]float32, error) { return model.EncodeImageFiles(paths...) },
		ingest.Options{Shard: si, Shards: sn, Batch: *batch, PartFiles: *part, Checkpoint: *checkpoint, ExportDir: *export, SkipBad: *skipBad,
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
		if stats != nil && *checkpoint != "" {
			fmt.Fprintf(os.Stderr, "clipx search embed: stopped; run the same command again to resume shard %s from %s\n", *shard, *checkpoint)
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
	}{search.Redact(*storeURL), *shard, model.Name, modelID, model.RandomWeights(), model.EmbedDim(), count, stats}
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

func runStoreQuery(args []string) error {
	fs := newFlagSet("search query", "--store URL --model M (--text T | --image FILE)... [--filter key=value,...] [-k 5]")
	storeURL := fs.String("store", "", storeUsage)
	name := fs.String("model", "ViT-B/32", "the model the store was embedded with")
	var texts, images multiFlag
	fs.Var(&texts, "text", "text query (repeatable)")
	fs.Var(&images, "image", "image file query (repeatable)")
	filter := fs.String("filter", "", "metadata filter: key=value[,key=value...] (all must match), e.g. label=dog,shard=0/4")
	k := fs.Int("k", 5, "results per query")
	cacheDir := fs.String("cache-dir", "", "directory of the embedding caches (default $CLIPKIT_CACHE)")
	noCache := fs.Bool("no-cache", false, "do not use or update the embedding caches")
	mf := addModelFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *storeURL == "" || len(texts)+len(images) == 0 {
		return fmt.Errorf("%w: --store and at least one --text or --image are required", errUsage)
	}
	if *k <= 0 {
		return fmt.Errorf("%w: -k must be positive", errUsage)
	}
	f, err := search.ParseFilter(*filter)
	if err != nil {
		return fmt.Errorf("%w: --filter: %v", errUsage, err)
	}
	model, err := cliplib.Load(*name, searchModelOptions(mf.options(), *cacheDir, *noCache))
	if err != nil {
		return err
	}
	defer model.Close()
	ctx, cancel := storeContext()
	defer cancel()
	st, err := search.OpenStore(ctx, *storeURL, search.StoreOptions{Dim: model.EmbedDim(), MustExist: true})
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
	}{Store: search.Redact(*storeURL), Model: model.Name, Filter: f}
	for _, t := range texts {
		hits, err := imagesearch.SearchStoreText(ctx, model, st, t, *k, f)
		if err != nil {
			return fmt.Errorf("query %q in store %s: %w", t, search.Redact(*storeURL), err)
		}
		out.Results = append(out.Results, queryResult{t, "text", hits})
	}
	for _, p := range images {
		hits, err := imagesearch.SearchStoreImageFile(ctx, model, st, p, *k, f)
		if err != nil {
			return fmt.Errorf("query image %s in store %s: %w", p, search.Redact(*storeURL), err)
		}
		out.Results = append(out.Results, queryResult{p, "image", hits})
	}
	enc := json.NewEncoder(searchOut)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

func runSearchLoad(args []string) error {
	fs := newFlagSet("search load", "--store URL --from EXPORTDIR --dim D")
	storeURL := fs.String("store", "", storeUsage)
	from := fs.String("from", "", "directory of .npy + .parquet parts written by clipx search embed --export")
	dim := fs.Int("dim", 0, "vector dimension (the model's embedding dimension, e.g. 512 for ViT-B/32)")
	kind := fs.String("kind", "exact", "index kind of a new in-process store: exact or hnsw")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *storeURL == "" || *from == "" || *dim <= 0 {
		return fmt.Errorf("%w: --store, --from and a positive --dim are required", errUsage)
	}
	ctx, cancel := storeContext()
	defer cancel()
	st, err := search.OpenStore(ctx, *storeURL, search.StoreOptions{Dim: *dim, Kind: *kind})
	if err != nil {
		return err
	}
	start := time.Now()
	n, err := ingest.LoadExport(ctx, st, *from)
	if err != nil {
		st.Close()
		return err
	}
	count, err := countAndClose(ctx, st)
	if err != nil {
		return err
	}
	return json.NewEncoder(searchOut).Encode(map[string]any{"store": search.Redact(*storeURL), "loaded": n, "store_count": count,
		"seconds": time.Since(start).Seconds()})
}

func runSearchDelete(args []string) error {
	fs := newFlagSet("search delete", "--store URL --dim D --id ID...")
	storeURL := fs.String("store", "", storeUsage)
	dim := fs.Int("dim", 0, "vector dimension of the store")
	var ids multiFlag
	fs.Var(&ids, "id", "item ID to delete (repeatable; the id of a query hit)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *storeURL == "" || *dim <= 0 || len(ids) == 0 {
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
	st, err := search.OpenStore(ctx, *storeURL, search.StoreOptions{Dim: *dim, MustExist: true})
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
	return json.NewEncoder(searchOut).Encode(map[string]any{"store": search.Redact(*storeURL), "deleted": len(del), "store_count": count})
}

// hasStoreFlag reports whether args set --store (so `search query` goes to the store query).
func hasStoreFlag(args []string) bool {
	for _, a := range args {
		if a == "--store" || a == "-store" || strings.HasPrefix(a, "--store=") || strings.HasPrefix(a, "-store=") {
			return true
		}
	}
	return false
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
