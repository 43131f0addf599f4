package eval

import (
	"context"
	"encoding/json"
	"fmt"
	"image"
	"os"
	"path/filepath"
	"strings"

	"github.com/clipkit/clipkit/data"
	"github.com/clipkit/clipkit/internal/readlimit"
)

// DataOptions say where a benchmark's data is.
type DataOptions struct {
	// Path is the data set in one of the benchmark's Layouts. Empty: download it with the data
	// package's verified downloader where the benchmark has a public source (Benchmark.Fetch).
	Path string
	// Images is the image folder of a retrieval annotation file (Karpathy split or COCO captions).
	Images string
	// Devkit is the ImageNet devkit folder (default: next to the images).
	Devkit string
	// Fetch configures downloads (cache folder, offline, mirror).
	Fetch data.Options
}

// Opened is a benchmark's data, ready to evaluate.
type Opened struct {
	data.Dataset
	// Desc identifies the data (source, split, path, size and time of the files) for the cache.
	Desc string
	// Layout names the layout it was read in.
	Layout string
}

// Open loads benchmark b's split ("test" or "train") from o. Classification sets come back with
// labels indexing b.Classes; retrieval sets implement data.MultiCaptioned.
func Open(ctx context.Context, b Benchmark, split string, o DataOptions) (*Opened, error) {
	if split == "" {
		split = "test"
	}
	ds, layout, err := openRaw(ctx, b, split, o)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name, err)
	}
	desc := b.Name + "|" + split + "|" + layout + "|" + fingerprint(o.Path) + "|" + fingerprint(o.Images)
	if b.Retrieval {
		if _, ok := ds.(data.MultiCaptioned); !ok {
			return nil, fmt.Errorf("%s: the %s data set has no captions; a retrieval benchmark needs %s", b.Name, layout, b.Layouts)
		}
		if w, ok := ds.(*data.WebDataset); ok && !w.Retrieval() {
			return nil, fmt.Errorf("%s: %s is a classification webdataset (no dataset_type.txt saying retrieval)", b.Name, o.Path)
		}
		return &Opened{Dataset: ds, Desc: desc, Layout: layout}, nil
	}
	ds, err = alignClasses(ds, b)
	if err != nil {
		return nil, fmt.Errorf("%s: %s: %w", b.Name, layout, err)
	}
	return &Opened{Dataset: ds, Desc: desc, Layout: layout}, nil
}

func isWebDataset(path, split string) bool {
	if strings.HasSuffix(path, ".tar") {
		return true
	}
	for _, n := range []string{"classnames.txt", "dataset_type.txt", filepath.Join(split, "nshards.txt")} {
		if _, err := os.Stat(filepath.Join(path, n)); err == nil {
			return true
		}
	}
	m, _ := filepath.Glob(filepath.Join(path, split, "*.tar"))
	m2, _ := filepath.Glob(filepath.Join(path, "*.tar"))
	return len(m)+len(m2) > 0
}

func openRaw(ctx context.Context, b Benchmark, split string, o DataOptions) (data.Dataset, string, error) {
	if o.Path == "" {
		if b.Fetch == "" {
			return nil, "", fmt.Errorf("has no public download we verify: give its path (%s)", b.Layouts)
		}
		ds, err := data.Load(ctx, b.Fetch, data.Split(split), o.Fetch)
		return ds, "fetched " + b.Fetch, err
	}
	st, err := os.Stat(o.Path)
	if err != nil {
		return nil, "", err
	}
	if isWebDataset(o.Path, split) {
		w, err := data.LoadWebDataset(o.Path, split)
		return w, "webdataset", err
	}
	if b.Retrieval {
		if st.IsDir() {
			return nil, "", fmt.Errorf("%s is a folder; want %s", o.Path, b.Layouts)
		}
		if o.Images == "" {
			return nil, "", fmt.Errorf("%s needs the image folder too (--images)", o.Path)
		}
		head, err := readlimit.ReadFile(o.Path, data.MaxAnnotationBytes)
		if err != nil {
			return nil, "", err
		}
		var keys map[string]json.RawMessage
		if err := json.Unmarshal(head, &keys); err != nil {
			return nil, "", fmt.Errorf("%s is not JSON: %w", o.Path, err)
		}
		if _, ok := keys["annotations"]; ok {
			cs, err := data.LoadCOCOCaptions(o.Path, o.Images)
			return cs, "coco-captions", err
		}
		cs, err := data.LoadKarpathy(o.Path, o.Images, split)
		return cs, "karpathy", err
	}
	switch b.Name {
	case "imagenet1k":
		in, err := data.LoadImageNetVal(o.Path, data.ImageNetOptions{Devkit: o.Devkit})
		return in, "imagenet-val", err
	case "cifar10", "cifar100":
		c, err := data.LoadCIFAR(o.Path, data.Split(split))
		return c, "cifar", err
	case "mnist":
		m, err := data.LoadMNIST(o.Path, data.Split(split))
		return m, "idx", err
	case "fashion-mnist":
		m, err := data.LoadFashionMNIST(o.Path, data.Split(split))
		return m, "idx", err
	default:
		if !st.IsDir() {
			return nil, "", fmt.Errorf("%s is not a folder; want %s", o.Path, b.Layouts)
		}
		dir := o.Path
		if s, err := os.Stat(filepath.Join(dir, split)); err == nil && s.IsDir() {
			dir = filepath.Join(dir, split)
		}
		f, err := data.LoadFolder(dir, data.FolderOptions{NoCaptions: true})
		return f, "class folders", err
	}
}

// fingerprint describes a path by its absolute name, size and modification time ("" for none).
func fingerprint(p string) string {
	if p == "" {
		return ""
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		abs = p
	}
	st, err := os.Stat(p)
	if err != nil {
		return abs
	}
	return fmt.Sprintf("%s:%d:%d", abs, st.Size(), st.ModTime().UnixNano())
}

func normName(s string) string {
	return strings.Join(strings.Fields(strings.ToLower(strings.ReplaceAll(s, "_", " "))), " ")
}

// alignClasses maps ds's labels onto b.Classes: by name when every class of ds names one of b's
// (with '_' as ' ', case ignored), else by position when the counts agree (ImageNet's WordNet ids,
// webdataset class names that word a class differently).
func alignClasses(ds data.Dataset, b Benchmark) (data.Dataset, error) {
	have := ds.Classes()
	if len(have) == 0 {
		return nil, fmt.Errorf("the data set has no class labels")
	}
	idx := map[string]int{}
	for i, c := range b.Classes {
		idx[normName(c)] = i
	}
	m := make([]int, len(have))
	byName := true
	for i, c := range have {
		j, ok := idx[normName(c)]
		if !ok {
			byName = false
			break
		}
		m[i] = j
	}
	switch {
	case byName:
	case len(have) == len(b.Classes):
		for i := range m {
			m[i] = i
		}
	default:
		return nil, fmt.Errorf("its %d classes (%s, ...) are neither the benchmark's %d classes nor named like them", len(have), have[0], len(b.Classes))
	}
	identity := true
	for i, j := range m {
		identity = identity && i == j
	}
	if identity && len(have) == len(b.Classes) {
		return ds, nil
	}
	return &relabeled{Dataset: ds, m: m, classes: b.Classes}, nil
}

type relabeled struct {
	data.Dataset
	m       []int
	classes []string
}

func (r *relabeled) Classes() []string { return append([]string(nil), r.classes...) }

func (r *relabeled) Item(i int) (image.Image, int, error) {
	img, l, err := r.Dataset.Item(i)
	if err != nil {
		return nil, 0, err
	}
	if l < 0 || l >= len(r.m) {
		return nil, 0, fmt.Errorf("item %d: label %d outside the data set's %d classes", i, l, len(r.m))
	}
	return img, r.m[l], nil
}

// Spread picks n indices of [0, total) spread evenly (all of them when n <= 0 or n >= total), so a
// subset of a class-sorted data set still covers every class.
func Spread(total, n int) []int {
	if n <= 0 || n >= total {
		return nil
	}
	out := make([]int, n)
	for k := range out {
		out[k] = k * total / n
	}
	return out
}
