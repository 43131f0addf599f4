// Package imagesearch indexes folders of images with a *cliplib.Model and searches them by text
// or by image: IndexFolder / IndexImages encode the files (through the model's image cache, so
// re-indexing only encodes new or changed files) into a search.Index (exact or HNSW); an
// ImageIndex is saved as one file holding its Manifest (which model, identity, precision, ...) and
// the index, and LoadIndex reads it back (also the older two-file layout). SearchText and
// SearchImageFile refuse a model other than the one the index was built with. SearchStore* search
// a search.Store (in-process or external, such as Milvus) filled by `clipx search embed`.
//
//	m, err := cliplib.Load("ViT-B/32", cliplib.Options{}.Optimized())
//	ix, err := imagesearch.IndexFolder(m, "photos", imagesearch.IndexOptions{})
//	err = ix.Save("photos.idx")
//	hits, err := imagesearch.SearchText(m, ix, "a dog on a beach", 5)
package imagesearch

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/clipkit/clipkit/cliplib"
	"github.com/clipkit/clipkit/cliplib/search"
	"github.com/clipkit/clipkit/data"
	"github.com/clipkit/clipkit/internal/atomicfile"
	"github.com/clipkit/clipkit/internal/readlimit"
)

// IndexOptions configure IndexImages and IndexFolder.
type IndexOptions struct {
	// Kind is "exact" (brute force, the default) or "hnsw" (approximate, for large collections).
	Kind string
	// HNSW configures an HNSW index (zero fields take package search's defaults).
	HNSW search.HNSWConfig
	// Chunk is the number of files encoded per call (default 32); Progress is called per chunk.
	Chunk int
	// Progress, if set, is called after each chunk with the number of files done and the total.
	Progress func(done, total int)
	// SkipBad skips files that cannot be read or decoded (listed in ImageIndex.Skipped) instead
	// of failing.
	SkipBad bool
}

// Index kinds.
const (
	KindExact = "exact"
	KindHNSW  = "hnsw"
)

// ImageIndex is a search index over the image embeddings of one model; every item carries the
// image's path in its metadata ("path", and "name" for the base name).
type ImageIndex struct {
	// Manifest describes the index (model, identity, kind, ...); it is saved beside the index.
	Manifest Manifest
	// Index holds the embeddings (search.Exact or search.HNSW).
	Index search.Index
	// Skipped lists the files IndexImages skipped (SkipBad), with the reason.
	Skipped []string
}

// Manifest identifies the model an image index was built with, so that queries are encoded by
// the same model (same identity: architecture, precision and weights), and checks the index file.
type Manifest struct {
	Format        string    `json:"format"` // ManifestFormat
	Version       int       `json:"version"`
	Model         string    `json:"model"`    // registry name or path given to Load
	Identity      string    `json:"identity"` // cliplib.Model.Identity in hex
	Precision     string    `json:"precision"`
	RandomWeights bool      `json:"random_weights"`
	Kind          string    `json:"kind"`
	Dim           int       `json:"dim"`
	Count         int       `json:"count"`
	Root          string    `json:"root,omitempty"` // folder given to IndexFolder
	Created       time.Time `json:"created"`
	IndexFile     string    `json:"index_file"` // base name of the index file (beside the manifest)
	IndexBytes    int64     `json:"index_bytes"`
	IndexSHA256   string    `json:"index_sha256"`
}

// Manifest format name and version.
const (
	ManifestFormat  = "clipkit-image-index"
	ManifestVersion = 1
)

// ManifestPath returns where the older two-file layout kept the manifest of the index at path:
// path + ".json". Save now writes one file (the manifest inside it) and removes this one.
func ManifestPath(indexPath string) string { return indexPath + ".json" }

// ListImages returns the image files under dir (recursively, by extension; hidden files and
// folders skipped), sorted: data.ImageFiles.
func ListImages(dir string) ([]string, error) { return data.ImageFiles(dir) }

// IndexFolder indexes every image file under dir (see ListImages and IndexImages); dangling
// symbolic links are left out and listed in Skipped.
func IndexFolder(m *cliplib.Model, dir string, opt IndexOptions) (*ImageIndex, error) {
	files, skipped, err := data.ImageFilesReport(dir)
	if err != nil {
		return nil, err
	}
	ix, err := IndexImages(m, files, opt)
	if err != nil {
		return nil, err
	}
	ix.Skipped = append(skipped, ix.Skipped...)
	if abs, err := filepath.Abs(dir); err == nil {
		ix.Manifest.Root = abs
	}
	return ix, nil
}

// IndexImages encodes image files with m (through m's image cache when it is on,
// cliplib.Options.ImageCache, so re-indexing a folder only encodes new or changed files) and puts
// their embeddings [m.EmbedDim()] in a new index; item i has ID i and the file's absolute path as
// metadata.
func IndexImages(m *cliplib.Model, paths []string, opt IndexOptions) (*ImageIndex, error) {
	if len(paths) == 0 {
		return nil, errors.New("imagesearch: no images to index")
	}
	if opt.Chunk <= 0 {
		opt.Chunk = 32
	}
	if opt.Kind == "" {
		opt.Kind = KindExact
	}
	var idx search.Index
	var err error
	switch opt.Kind {
	case KindExact:
		idx, err = search.NewExact(m.EmbedDim())
	case KindHNSW:
		idx, err = search.NewHNSW(m.EmbedDim(), opt.HNSW)
	default:
		return nil, fmt.Errorf("imagesearch: unknown index kind %q (want %s or %s)", opt.Kind, KindExact, KindHNSW)
	}
	if err != nil {
		return nil, err
	}
	ix := &ImageIndex{Index: idx}
	var id uint64
	for start := 0; start < len(paths); start += opt.Chunk {
		chunk := paths[start:min(start+opt.Chunk, len(paths))]
		embs, err := m.EncodeImageFiles(chunk...)
		if err != nil && !opt.SkipBad {
			return nil, err
		}
		items := make([]search.Item, 0, len(chunk))
		for j, p := range chunk {
			var v []float32
			if err == nil {
				v = embs[j]
			} else { // some file of the chunk is bad: encode one by one, skipping the bad ones
				one, err1 := m.EncodeImageFiles(p)
				if err1 != nil {
					ix.Skipped = append(ix.Skipped, err1.Error())
					continue
				}
				v = one[0]
			}
			if err := checkEmbedding(p, v, m.Name); err != nil {
				return nil, err
			}
			abs, aerr := filepath.Abs(p)
			if aerr != nil {
				abs = p
			}
			items = append(items, search.Item{ID: id, Vector: v, Metadata: map[string]string{"path": abs, "name": filepath.Base(p)}})
			id++
		}
		if err := idx.Add(items...); err != nil {
			return nil, err
		}
		if opt.Progress != nil {
			opt.Progress(start+len(chunk), len(paths))
		}
	}
	if idx.Len() == 0 {
		return nil, fmt.Errorf("imagesearch: none of the %d images could be indexed (first problem: %s)", len(paths), ix.Skipped[0])
	}
	ix.Manifest = Manifest{Format: ManifestFormat, Version: ManifestVersion, Model: m.Name, Identity: m.Identity().String(),
		Precision: m.Precision(), RandomWeights: m.RandomWeights(), Kind: opt.Kind, Dim: m.EmbedDim(), Count: idx.Len(),
		Created: time.Now().UTC().Truncate(time.Second)}
	return ix, nil
}

// checkEmbedding returns an error naming the image and the model when v has a NaN or infinity
// (which search.Index.Add would refuse without saying which file it came from).
func checkEmbedding(path string, v []float32, model string) error {
	if j := slices.IndexFunc(v, func(x float32) bool { return math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) }); j >= 0 {
		return fmt.Errorf("imagesearch: the embedding of %s has the non-finite value %v at %d: the model (%s) computes NaN or infinity; "+
			"nothing was indexed", path, v[j], j, model)
	}
	return nil
}

// Hit is one search result.
type Hit struct {
	Rank  int     `json:"rank"` // 1-based
	ID    uint64  `json:"id"`
	Path  string  `json:"path"`
	Score float32 `json:"score"` // cosine similarity of query and image embeddings
	// Metadata holds every metadata entry of the item (path, name, ...).
	Metadata map[string]string `json:"metadata,omitempty"`
}

// Search returns the k images most similar to an embedding vec [Manifest.Dim], best first.
func (ix *ImageIndex) Search(vec []float32, k int) ([]Hit, error) {
	res, err := ix.Index.Search(vec, k)
	if err != nil {
		return nil, err
	}
	hits := make([]Hit, len(res))
	for i, r := range res {
		hits[i] = Hit{Rank: i + 1, ID: r.ID, Path: r.Metadata["path"], Score: r.Score, Metadata: r.Metadata}
	}
	return hits, nil
}

// CheckModel returns an error unless m is the model the index was built with.
func (ix *ImageIndex) CheckModel(m *cliplib.Model) error {
	if id := m.Identity().String(); id != ix.Manifest.Identity {
		return fmt.Errorf("the index was built with %s (precision %s, identity %.12s…) but the query model is %s (precision %s, identity %.12s…): "+
			"queries must be encoded by the same model", ix.Manifest.Model, ix.Manifest.Precision, ix.Manifest.Identity, m.Name, m.Precision(), id)
	}
	return nil
}

// SearchText returns the k images that best match a text query, encoded by m (which must be the
// model the index was built with: ImageIndex.CheckModel).
func SearchText(m *cliplib.Model, ix *ImageIndex, query string, k int) ([]Hit, error) {
	if err := ix.CheckModel(m); err != nil {
		return nil, err
	}
	if strings.TrimSpace(query) == "" {
		return nil, errors.New("imagesearch: empty text query")
	}
	embs, err := m.EncodeTexts([]string{query})
	if err != nil {
		return nil, err
	}
	return ix.Search(embs[0], k)
}

// SearchImageFile returns the k indexed images most similar to an image file, encoded by m (which
// must be the model the index was built with).
func SearchImageFile(m *cliplib.Model, ix *ImageIndex, path string, k int) ([]Hit, error) {
	if err := ix.CheckModel(m); err != nil {
		return nil, err
	}
	embs, err := m.EncodeImageFiles(path)
	if err != nil {
		return nil, err
	}
	return ix.Search(embs[0], k)
}

// Image index file layout (version 2): one file holding both the manifest and the index, so that
// they are replaced together by one rename and can never name each other wrongly:
//
//	magic "CLIPKIX\x00" (8 bytes) | manifest length uint32 LE | reserved uint32 (0) |
//	manifest JSON | the index (package search's file format, Manifest.IndexBytes bytes)
//
// Manifest.IndexSHA256 is the SHA-256 of the index section, computed before the file is published.
const (
	indexFileMagic   = "CLIPKIX\x00"
	indexFileHead    = 16
	maxManifestBytes = 1 << 20
	// LockWait is how long Save waits for another writer of the same index file.
	LockWait = 10 * time.Minute
)

// Save writes the manifest and the index to the single file path, atomically: readers and a
// crash or kill at any moment see the previous file or the new one, never a mix. Concurrent
// writers of the same path (in this or other processes) are serialised by a lock file
// (path + ".lock"); temporary files that killed writers left beside path are removed. The index
// is hashed before the file is published, and the hash is recorded in the manifest.
func (ix *ImageIndex) Save(path string) (err error) {
	unlock, err := atomicfile.Lock(path, LockWait)
	if err != nil {
		return fmt.Errorf("image index %s: %w", path, err)
	}
	defer unlock()
	if _, err := atomicfile.RemoveStale(path); err != nil {
		return fmt.Errorf("image index %s: %w", path, err)
	}
	// The index goes to a private temporary file first (package search's format), is hashed
	// there, and is then copied into the published file after the manifest that records the hash.
	tmpDir, err := os.MkdirTemp(filepath.Dir(path), atomicfile.TempPattern(path))
	if err != nil {
		return fmt.Errorf("image index %s: %w", path, err)
	}
	defer os.RemoveAll(tmpDir)
	tmpIndex := filepath.Join(tmpDir, "index")
	if err := ix.Index.Save(tmpIndex); err != nil {
		return err
	}
	f, err := os.Open(tmpIndex)
	if err != nil {
		return err
	}
	defer f.Close()
	size, sum, err := readerDigest(f, -1)
	if err != nil {
		return fmt.Errorf("image index %s: %w", path, err)
	}
	man := ix.Manifest
	man.IndexFile, man.IndexBytes, man.IndexSHA256 = filepath.Base(path), size, sum
	man.Count = ix.Index.Len()
	b, err := json.MarshalIndent(man, "", "  ")
	if err != nil {
		return fmt.Errorf("image index %s: manifest: %w", path, err)
	}
	b = append(b, '\n')
	if len(b) > maxManifestBytes {
		return fmt.Errorf("image index %s: manifest is %d bytes, over the %d-byte limit", path, len(b), maxManifestBytes)
	}
	err = atomicfile.Write(path, 0o644, func(w io.Writer) error {
		head := make([]byte, indexFileHead)
		copy(head, indexFileMagic)
		binary.LittleEndian.PutUint32(head[8:], uint32(len(b)))
		if _, err := w.Write(head); err != nil {
			return err
		}
		if _, err := w.Write(b); err != nil {
			return err
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return err
		}
		h := sha256.New()
		n, err := io.Copy(io.MultiWriter(w, h), f)
		if err != nil {
			return err
		}
		if n != size || hex.EncodeToString(h.Sum(nil)) != sum {
			return fmt.Errorf("index data changed while it was written (%d bytes, want %d)", n, size)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("image index %s: %w", path, err)
	}
	ix.Manifest = man
	// A manifest of the older two-file layout no longer describes path.
	if _, err := os.Lstat(ManifestPath(path)); err == nil {
		_ = os.Remove(ManifestPath(path))
	}
	return nil
}

// LoadIndex reads an index saved by ImageIndex.Save. Sizes are checked before anything is read
// or hashed: path must be a regular file whose length matches its header, and the manifest must
// be small; then the index section must have the SHA-256 the manifest records. Files of the older
// two-file layout (the index at path, its manifest at ManifestPath(path)) are read too.
func LoadIndex(path string) (*ImageIndex, error) {
	// Stat before opening: opening a FIFO blocks until a writer appears.
	if st, err := os.Stat(path); err == nil && !st.Mode().IsRegular() {
		return nil, fmt.Errorf("image index %s: not a regular file (%s)", path, st.Mode().Type())
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("image index %s: %w", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("image index %s: %w", path, err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("image index %s: not a regular file (%s)", path, st.Mode().Type())
	}
	head := make([]byte, indexFileHead)
	if _, err := io.ReadFull(f, head); err != nil {
		return nil, fmt.Errorf("image index %s: %d-byte file is too short to be an image index", path, st.Size())
	}
	if string(head[:8]) != indexFileMagic {
		if string(head[:8]) == search.FileMagic {
			return loadLegacyIndex(path, f, st.Size())
		}
		return nil, fmt.Errorf("image index %s: not a clipkit image index (starts with %q)", path, head[:8])
	}
	mlen := int64(binary.LittleEndian.Uint32(head[8:]))
	if mlen > maxManifestBytes || indexFileHead+mlen > st.Size() {
		return nil, fmt.Errorf("image index %s: manifest length %d is over the %d-byte limit or past the end of the %d-byte file",
			path, mlen, maxManifestBytes, st.Size())
	}
	b := make([]byte, mlen)
	if _, err := io.ReadFull(f, b); err != nil {
		return nil, fmt.Errorf("image index %s: reading its manifest: %w", path, err)
	}
	man, err := parseManifest(path, b)
	if err != nil {
		return nil, err
	}
	off := indexFileHead + mlen
	if got := st.Size() - off; got != man.IndexBytes {
		return nil, fmt.Errorf("image index %s: holds %d index bytes, its manifest says %d (truncated or appended to)", path, got, man.IndexBytes)
	}
	return loadSection(path, f, off, man)
}

// loadLegacyIndex reads the two-file layout: f (size bytes) and its manifest beside it.
func loadLegacyIndex(path string, f *os.File, size int64) (*ImageIndex, error) {
	mp := ManifestPath(path)
	b, err := readlimit.ReadFile(mp, maxManifestBytes)
	if err != nil {
		return nil, fmt.Errorf("image index %s: reading its manifest: %w", path, err)
	}
	man, err := parseManifest(mp, b)
	if err != nil {
		return nil, err
	}
	if size != man.IndexBytes {
		return nil, fmt.Errorf("image index %s (%d bytes) is not the file its manifest describes (%d bytes)", path, size, man.IndexBytes)
	}
	return loadSection(path, f, 0, man)
}

// loadSection hashes the man.IndexBytes bytes of f at off, compares them with the manifest, then
// decodes them.
func loadSection(path string, f *os.File, off int64, man Manifest) (*ImageIndex, error) {
	_, sum, err := readerDigest(io.NewSectionReader(f, off, man.IndexBytes), man.IndexBytes)
	if err != nil {
		return nil, fmt.Errorf("image index %s: %w", path, err)
	}
	if sum != man.IndexSHA256 {
		return nil, fmt.Errorf("image index %s (sha256 %.12s…) is not the file its manifest describes (sha256 %.12s…): corrupted or replaced",
			path, sum, man.IndexSHA256)
	}
	idx, err := search.LoadReader(io.NewSectionReader(f, off, man.IndexBytes), man.IndexBytes, path)
	if err != nil {
		return nil, err
	}
	if idx.Dim() != man.Dim || idx.Len() != man.Count {
		return nil, fmt.Errorf("image index %s holds %d vectors of dimension %d, its manifest says %d of %d", path, idx.Len(), idx.Dim(),
			man.Count, man.Dim)
	}
	return &ImageIndex{Manifest: man, Index: idx}, nil
}

func parseManifest(name string, b []byte) (Manifest, error) {
	var man Manifest
	if err := json.Unmarshal(b, &man); err != nil {
		return man, fmt.Errorf("image index manifest %s: %w", name, err)
	}
	if man.Format != ManifestFormat || man.Version != ManifestVersion {
		return man, fmt.Errorf("image index manifest %s: format %q version %d, want %q version %d", name, man.Format, man.Version,
			ManifestFormat, ManifestVersion)
	}
	if man.IndexBytes <= 0 || len(man.IndexSHA256) != 64 {
		return man, fmt.Errorf("image index manifest %s: no index size and SHA-256 recorded", name)
	}
	return man, nil
}

// readerDigest returns the length and hex SHA-256 of r; want ≥ 0 is the length r must have.
func readerDigest(r io.Reader, want int64) (int64, string, error) {
	h := sha256.New()
	n, err := io.Copy(h, r)
	if err != nil {
		return 0, "", err
	}
	if want >= 0 && n != want {
		return 0, "", fmt.Errorf("read %d bytes, want %d", n, want)
	}
	return n, hex.EncodeToString(h.Sum(nil)), nil
}
