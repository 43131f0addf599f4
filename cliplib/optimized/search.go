package optimized

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/clipkit/clipkit/data"

	"github.com/clipkit/clipkit/cliplib/search"
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

// ManifestPath returns the manifest file of the index at path: path + ".json".
func ManifestPath(indexPath string) string { return indexPath + ".json" }

// ListImages returns the image files under dir (recursively, by extension; hidden files and
// folders skipped), sorted: data.ImageFiles.
func ListImages(dir string) ([]string, error) { return data.ImageFiles(dir) }

// IndexFolder indexes every image file under dir (see ListImages and IndexImages).
func (m *Model) IndexFolder(dir string, opt IndexOptions) (*ImageIndex, error) {
	files, err := ListImages(dir)
	if err != nil {
		return nil, err
	}
	ix, err := m.IndexImages(files, opt)
	if err != nil {
		return nil, err
	}
	if abs, err := filepath.Abs(dir); err == nil {
		ix.Manifest.Root = abs
	}
	return ix, nil
}

// IndexImages encodes image files (through the image cache, so re-indexing a folder only encodes
// new or changed files) and puts them in a new index; item i has ID i and the file's absolute
// path as metadata.
func (m *Model) IndexImages(paths []string, opt IndexOptions) (*ImageIndex, error) {
	if len(paths) == 0 {
		return nil, errors.New("optimized: no images to index")
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
		return nil, fmt.Errorf("optimized: unknown index kind %q (want %s or %s)", opt.Kind, KindExact, KindHNSW)
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
		return nil, fmt.Errorf("optimized: none of the %d images could be indexed (first problem: %s)", len(paths), ix.Skipped[0])
	}
	ix.Manifest = Manifest{Format: ManifestFormat, Version: ManifestVersion, Model: m.Name(), Identity: m.Identity().String(),
		Precision: m.Precision(), RandomWeights: m.base.RandomWeights(), Kind: opt.Kind, Dim: m.EmbedDim(), Count: idx.Len(),
		Created: time.Now().UTC().Truncate(time.Second)}
	return ix, nil
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

// Search returns the k images most similar to an embedding, best first.
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
func (ix *ImageIndex) CheckModel(m *Model) error {
	if id := m.Identity().String(); id != ix.Manifest.Identity {
		return fmt.Errorf("the index was built with %s (precision %s, identity %.12s…) but the query model is %s (precision %s, identity %.12s…): "+
			"queries must be encoded by the same model", ix.Manifest.Model, ix.Manifest.Precision, ix.Manifest.Identity, m.Name(), m.Precision(), id)
	}
	return nil
}

// SearchText returns the k images that best match a text query.
func (m *Model) SearchText(ix *ImageIndex, query string, k int) ([]Hit, error) {
	if err := ix.CheckModel(m); err != nil {
		return nil, err
	}
	if strings.TrimSpace(query) == "" {
		return nil, errors.New("optimized: empty text query")
	}
	embs, err := m.EncodeTexts([]string{query})
	if err != nil {
		return nil, err
	}
	return ix.Search(embs[0], k)
}

// SearchImageFile returns the k indexed images most similar to an image file.
func (m *Model) SearchImageFile(ix *ImageIndex, path string, k int) ([]Hit, error) {
	if err := ix.CheckModel(m); err != nil {
		return nil, err
	}
	embs, err := m.EncodeImageFiles(path)
	if err != nil {
		return nil, err
	}
	return ix.Search(embs[0], k)
}

// Save writes the index to path (package search's crash-safe, checksummed format) and the
// manifest to ManifestPath(path) (written to a temporary file and renamed), recording the index
// file's size and SHA-256 so that a manifest and an index that do not belong together are detected.
func (ix *ImageIndex) Save(path string) error {
	if err := ix.Index.Save(path); err != nil {
		return err
	}
	size, sum, err := fileDigest(path)
	if err != nil {
		return err
	}
	ix.Manifest.IndexFile, ix.Manifest.IndexBytes, ix.Manifest.IndexSHA256 = filepath.Base(path), size, sum
	ix.Manifest.Count = ix.Index.Len()
	b, err := json.MarshalIndent(ix.Manifest, "", "  ")
	if err != nil {
		return err
	}
	mp := ManifestPath(path)
	tmp, err := os.CreateTemp(filepath.Dir(mp), filepath.Base(mp)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), mp)
}

// LoadIndex reads an index saved by ImageIndex.Save: the manifest, then the index file, which
// must have the size and SHA-256 the manifest records.
func LoadIndex(path string) (*ImageIndex, error) {
	mp := ManifestPath(path)
	b, err := os.ReadFile(mp)
	if err != nil {
		return nil, fmt.Errorf("image index %s: reading its manifest: %w", path, err)
	}
	var man Manifest
	if err := json.Unmarshal(b, &man); err != nil {
		return nil, fmt.Errorf("image index manifest %s: %w", mp, err)
	}
	if man.Format != ManifestFormat || man.Version != ManifestVersion {
		return nil, fmt.Errorf("image index manifest %s: format %q version %d, want %q version %d", mp, man.Format, man.Version,
			ManifestFormat, ManifestVersion)
	}
	size, sum, err := fileDigest(path)
	if err != nil {
		return nil, fmt.Errorf("image index %s: %w", path, err)
	}
	if size != man.IndexBytes || sum != man.IndexSHA256 {
		return nil, fmt.Errorf("image index %s (%d bytes, sha256 %.12s…) is not the file its manifest describes (%d bytes, sha256 %.12s…)",
			path, size, sum, man.IndexBytes, man.IndexSHA256)
	}
	idx, err := search.Load(path)
	if err != nil {
		return nil, err
	}
	if idx.Dim() != man.Dim || idx.Len() != man.Count {
		return nil, fmt.Errorf("image index %s holds %d vectors of dimension %d, its manifest says %d of %d", path, idx.Len(), idx.Dim(),
			man.Count, man.Dim)
	}
	return &ImageIndex{Manifest: man, Index: idx}, nil
}

func fileDigest(path string) (int64, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, "", err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return 0, "", err
	}
	return n, hex.EncodeToString(h.Sum(nil)), nil
}
