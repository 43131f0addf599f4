package data

import (
	"archive/tar"
	"bufio"
	"fmt"
	"image"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/clipkit/clipkit/cliplib/preprocess"
	"github.com/clipkit/clipkit/internal/readlimit"
)

// WebDataset is a data set in the webdataset layout clip_benchmark publishes (and writes with
// clip_benchmark_export_wds):
//
//	dir/classnames.txt                          one class name per line (classification)
//	dir/zeroshot_classification_templates.txt   one prompt template per line, "{c}" for the class
//	dir/dataset_type.txt                        "retrieval" for retrieval sets
//	dir/<split>/0.tar, 1.tar, ...               shards; nshards.txt optional
//
// Each shard holds samples as consecutive members sharing a key (the member name up to its first
// dot): an image (.webp, .png, .jpg, .jpeg), and a class index (.cls) or captions (.txt, one per
// line). Shards are indexed once (member offsets) and images are read on demand, so memory does
// not grow with the images.
type WebDataset struct {
	shards    []string
	samples   []wdsSample
	classes   []string
	templates []string
	retrieval bool
}

type wdsSample struct {
	key      string
	shard    int
	off, n   int64
	label    int
	captions []string
}

// maxWDSText bounds a .cls or .txt member.
const maxWDSText = 1 << 20

// LoadWebDataset indexes the webdataset at dir for split ("test", "train"). dir may also be the
// split folder itself, or a single .tar shard.
func LoadWebDataset(dir, split string) (*WebDataset, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("webdataset: %w", err)
	}
	w := &WebDataset{}
	root := dir
	switch {
	case !st.IsDir():
		w.shards = []string{dir}
		root = filepath.Dir(dir)
	default:
		shardDir := filepath.Join(dir, split)
		if s, err := os.Stat(shardDir); err != nil || !s.IsDir() {
			shardDir = dir // dir is the split folder
		} else {
			root = dir
		}
		if w.shards, err = wdsShards(shardDir); err != nil {
			return nil, err
		}
		if shardDir == dir {
			root = filepath.Dir(filepath.Clean(dir))
		}
	}
	if b, err := readlimit.ReadFile(filepath.Join(root, "classnames.txt"), maxWDSText); err == nil {
		w.classes = textLines(b)
	} else if !os.IsNotExist(err) {
		return nil, fmt.Errorf("webdataset: %w", err)
	}
	if b, err := readlimit.ReadFile(filepath.Join(root, "zeroshot_classification_templates.txt"), maxWDSText); err == nil {
		w.templates = textLines(b)
	} else if !os.IsNotExist(err) {
		return nil, fmt.Errorf("webdataset: %w", err)
	}
	if b, err := readlimit.ReadFile(filepath.Join(root, "dataset_type.txt"), maxWDSText); err == nil {
		w.retrieval = strings.TrimSpace(string(b)) == "retrieval"
	}
	for i, s := range w.shards {
		if err := w.index(i, s); err != nil {
			return nil, err
		}
	}
	if len(w.samples) == 0 {
		return nil, fmt.Errorf("webdataset: %s: no samples in %d shard(s)", dir, len(w.shards))
	}
	for _, s := range w.samples {
		switch {
		case s.n == 0:
			return nil, fmt.Errorf("webdataset: %s: sample %q has no image (.webp, .png, .jpg)", w.shards[s.shard], s.key)
		case w.retrieval && len(s.captions) == 0:
			return nil, fmt.Errorf("webdataset: %s: retrieval sample %q has no captions (.txt)", w.shards[s.shard], s.key)
		case !w.retrieval && s.label < 0:
			return nil, fmt.Errorf("webdataset: %s: sample %q has no class (.cls)", w.shards[s.shard], s.key)
		case !w.retrieval && w.classes != nil && s.label >= len(w.classes):
			return nil, fmt.Errorf("webdataset: %s: sample %q has class %d, but classnames.txt names %d classes", w.shards[s.shard], s.key, s.label, len(w.classes))
		}
	}
	return w, nil
}

// wdsShards lists dir's shards: 0.tar … n-1.tar when nshards.txt says n, else every .tar, in
// numeric then lexical order.
func wdsShards(dir string) ([]string, error) {
	if b, err := readlimit.ReadFile(filepath.Join(dir, "nshards.txt"), 64); err == nil {
		n, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || n < 1 || n > 1<<20 {
			return nil, fmt.Errorf("webdataset: %s: want a positive shard count, got %q", filepath.Join(dir, "nshards.txt"), strings.TrimSpace(string(b)))
		}
		out := make([]string, n)
		for i := range out {
			out[i] = filepath.Join(dir, strconv.Itoa(i)+".tar")
		}
		return out, nil
	}
	m, err := filepath.Glob(filepath.Join(dir, "*.tar"))
	if err != nil {
		return nil, err
	}
	if len(m) == 0 {
		return nil, fmt.Errorf("webdataset: %s holds no .tar shards", dir)
	}
	num := func(p string) (int, bool) {
		n, err := strconv.Atoi(strings.TrimSuffix(filepath.Base(p), ".tar"))
		return n, err == nil
	}
	sort.Slice(m, func(i, j int) bool {
		a, aok := num(m[i])
		b, bok := num(m[j])
		if aok && bok {
			return a < b
		}
		return m[i] < m[j]
	})
	return m, nil
}

// countingReader counts the bytes read through it: the tar reader reads whole 512-byte blocks and
// never ahead, so the count after Next is the offset of the member's data.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func (w *WebDataset) index(shard int, p string) error {
	st, err := os.Stat(p)
	if err != nil {
		return fmt.Errorf("webdataset: %w", err)
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("webdataset: %s is not a regular file", p)
	}
	f, err := os.Open(p)
	if err != nil {
		return fmt.Errorf("webdataset: %w", err)
	}
	defer f.Close()
	cr := &countingReader{r: bufio.NewReaderSize(f, 1<<16)}
	tr := tar.NewReader(cr)
	cur := -1 // index in w.samples of the current key
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("webdataset: %s: not a tar file, or truncated: %w", p, err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		base := path.Base(h.Name)
		if strings.HasPrefix(base, ".") || !strings.Contains(base, ".") {
			continue
		}
		dot := strings.IndexByte(base, '.')
		key := path.Join(path.Dir(h.Name), base[:dot])
		ext := strings.ToLower(base[dot+1:])
		if cur < 0 || w.samples[cur].key != key || w.samples[cur].shard != shard {
			w.samples = append(w.samples, wdsSample{key: key, shard: shard, label: -1})
			cur = len(w.samples) - 1
		}
		s := &w.samples[cur]
		switch ext {
		case "webp", "png", "jpg", "jpeg":
			if h.Size > preprocess.DefaultLimits.MaxBytes {
				return fmt.Errorf("webdataset: %s: %s is %d bytes, over the %d-byte image limit", p, h.Name, h.Size, preprocess.DefaultLimits.MaxBytes)
			}
			s.off, s.n = cr.n, h.Size
		case "cls", "txt":
			if h.Size > maxWDSText {
				return fmt.Errorf("webdataset: %s: %s is %d bytes, over the %d-byte limit", p, h.Name, h.Size, maxWDSText)
			}
			b, err := io.ReadAll(tr)
			if err != nil {
				return fmt.Errorf("webdataset: %s: %s: %w", p, h.Name, err)
			}
			if ext == "cls" {
				l, err := strconv.Atoi(strings.TrimSpace(string(b)))
				if err != nil || l < 0 {
					return fmt.Errorf("webdataset: %s: %s: want a class index, got %q", p, h.Name, strings.TrimSpace(string(b)))
				}
				s.label = l
			} else {
				for _, c := range textLines(b) {
					s.captions = append(s.captions, strings.ReplaceAll(c, `\n`, "\n"))
				}
			}
		}
	}
}

// Len implements Dataset.
func (w *WebDataset) Len() int { return len(w.samples) }

// Classes implements Dataset: classnames.txt (nil when absent, as for retrieval sets).
func (w *WebDataset) Classes() []string { return slices.Clone(w.classes) }

// Templates are the zero-shot prompt templates of zeroshot_classification_templates.txt, with
// clip_benchmark's "{c}" rewritten as "{}" (nil when absent).
func (w *WebDataset) Templates() []string {
	out := make([]string, len(w.templates))
	for i, t := range w.templates {
		out[i] = strings.ReplaceAll(t, "{c}", "{}")
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// Retrieval reports whether dataset_type.txt marks a retrieval set.
func (w *WebDataset) Retrieval() bool { return w.retrieval }

// Label is item i's label (-1 for retrieval sets) without reading the image.
func (w *WebDataset) Label(i int) int { return w.samples[i].label }

// Key is item i's sample key.
func (w *WebDataset) Key(i int) string { return w.samples[i].key }

// Captions implements MultiCaptioned.
func (w *WebDataset) Captions(i int) []string { return slices.Clone(w.samples[i].captions) }

// Item implements Dataset: the decoded image of sample i and its label.
func (w *WebDataset) Item(i int) (image.Image, int, error) {
	if err := checkIndex(i, w.Len()); err != nil {
		return nil, 0, err
	}
	s := w.samples[i]
	f, err := os.Open(w.shards[s.shard])
	if err != nil {
		return nil, 0, fmt.Errorf("webdataset: %w", err)
	}
	defer f.Close()
	buf := make([]byte, s.n)
	if _, err := f.ReadAt(buf, s.off); err != nil {
		return nil, 0, fmt.Errorf("webdataset: %s: sample %q: %w", w.shards[s.shard], s.key, err)
	}
	img, _, err := preprocess.DecodeBytes(buf, w.shards[s.shard]+":"+s.key, preprocess.DefaultLimits)
	if err != nil {
		return nil, 0, err
	}
	return img, s.label, nil
}
