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

	"github.com/clipkit/clipkit/data"
)

// dataOut receives the data command's results (tests replace it).
var dataOut io.Writer = os.Stdout

func init() {
	register("data", "list, fetch and inspect datasets (data list|fetch NAME...|info NAME|PATH)", runData)
}

const dataUsage = `list | fetch [--offline] [--no-providers] [--quiet] NAME... | info [--split test|train] NAME|PATH

  list    one line per dataset: name, size, source, local copies found
  fetch   download (or find locally) and verify the named datasets; prints their files
  info    load a dataset (a name from 'list', a CIFAR archive or folder, an MNIST folder, or a folder
          of images: class sub-folders, captions.csv/captions.jsonl, or flat) and summarise it

Environment: CLIPKIT_CACHE, CLIPKIT_DATA_MIRROR, CLIPKIT_OFFLINE=1 (no network), CLIPKIT_IMAGES
(the demo folder notebooks use).`

func runData(args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fs := newFlagSet("data", dataUsage)
		fs.SetOutput(os.Stderr)
		fs.Usage()
		if len(args) == 0 {
			return fmt.Errorf("%w: missing subcommand (list, fetch or info)", errUsage)
		}
		return errHelp
	}
	switch args[0] {
	case "list":
		return dataList(args[1:])
	case "fetch":
		return dataFetch(args[1:])
	case "info":
		return dataInfo(args[1:])
	}
	return fmt.Errorf("%w: unknown subcommand %q (want list, fetch or info)", errUsage, args[0])
}

func dataList(args []string) error {
	fs := newFlagSet("data list", "")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: data list takes no arguments", errUsage)
	}
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

func dataFetch(args []string) error {
	fs := newFlagSet("data fetch", "[--offline] [--no-providers] [--quiet] NAME...")
	offline := fs.Bool("offline", false, "use only the cache and local copies, never the network")
	noProviders := fs.Bool("no-providers", false, "ignore local copies from other packages and download")
	quiet := fs.Bool("quiet", false, "no progress output")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return fmt.Errorf("%w: data fetch needs at least one dataset name (see 'clipx data list')", errUsage)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	var failed []string
	for _, name := range fs.Args() {
		loc, err := data.Fetch(ctx, name, data.Options{Offline: *offline, NoProviders: *noProviders, Quiet: *quiet})
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

func dataInfo(args []string) error {
	fs := newFlagSet("data info", "[--split test|train] NAME|PATH")
	split := fs.String("split", "test", "split of a dataset with splits: test or train")
	offline := fs.Bool("offline", false, "use only the cache and local copies, never the network")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("%w: data info needs one dataset name or path", errUsage)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	ds, err := openDataset(ctx, fs.Arg(0), data.Split(*split), data.Options{Offline: *offline})
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
