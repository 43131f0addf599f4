package explore

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/clipkit/clipkit/cliplib"
	"github.com/clipkit/clipkit/cliplib/bench/searchbench"
	"github.com/clipkit/clipkit/cliplib/imagesearch"
	"github.com/clipkit/clipkit/cliplib/search"
	"github.com/clipkit/clipkit/cliplib/search/synth"
	"github.com/clipkit/clipkit/internal/atomicfile"
	"github.com/clipkit/clipkit/nb/notebook"
	"github.com/clipkit/clipkit/nb/plots"
)

// SearchQueries are the text queries notebook 15 runs against its photo index.
var SearchQueries = []string{"a photo of a cat", "a rocket on a launch pad", "a cup of coffee", "an astronaut", "a page of text"}

// SearchDir is where notebook 15 keeps its index, embedding caches and measurements:
// notebook.CacheDir()/15-image-search.
func SearchDir() (string, error) {
	root, err := notebook.CacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, "15-image-search"), nil
}

// SearchModelOptions turns every optimisation of o on (Options.Optimized), with the embedding
// caches under dir/cache.
func SearchModelOptions(dir string, o cliplib.Options) cliplib.Options {
	o = o.Optimized()
	o.CacheDir = filepath.Join(dir, "cache")
	return o
}

// ScalePoint is HNSW at one beam width: recall@10 against exact search and wall time per query.
type ScalePoint struct {
	Ef       int
	Recall   float64
	MsPerQry float64
}

// SearchTimings is what notebook 15's cells measure, stored between cells (each is a new process)
// for the conclusion.
type SearchTimings struct {
	Images                 int
	FirstSeconds, Reindex  float64 // indexing with a cold image cache, then again (all cached)
	CacheHits              int64
	QuerySeconds           float64 // mean time of one text query (encode + search)
	SelfFirst, SelfQueries int     // image queries whose top hit is the query image itself
	Scale                  []ScalePoint
	N                      int
	ExactMs, BuildSeconds  float64
	// The MNIST gallery: its size, indexing time, queries and precision@K by text and by image.
	Gallery, GalleryQueries, K int
	GallerySeconds, TextMs     float64
	TextP, ImageP, Chance      float64
}

// timingsFile is where SaveTimings writes in dir.
const timingsFile = "timings.json"

// SaveTimings writes t as JSON to dir/timings.json (created, or replaced atomically).
func SaveTimings(dir string, t SearchTimings) error {
	b, err := json.Marshal(t)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return atomicfile.WriteBytes(filepath.Join(dir, timingsFile), b, 0o644)
}

// LoadTimings reads what SaveTimings wrote in dir; a missing file is an error that says to run the
// cells that measure first.
func LoadTimings(dir string) (SearchTimings, error) {
	var t SearchTimings
	path := filepath.Join(dir, timingsFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return t, fmt.Errorf("%w: run the cells above first", err)
	}
	if err != nil {
		return t, err
	}
	if err := json.Unmarshal(b, &t); err != nil {
		return t, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// UpdateTimings loads the timings of dir (LoadTimings), lets update change them and saves them.
func UpdateTimings(dir string, update func(*SearchTimings)) error {
	t, err := LoadTimings(dir)
	if err != nil {
		return err
	}
	update(&t)
	return SaveTimings(dir, t)
}

// HitTiles shows search hits as thumbnails captioned "rank. file (score)".
func HitTiles(hits []imagesearch.Hit) ([]plots.Tile, error) {
	tiles := make([]plots.Tile, len(hits))
	for i, h := range hits {
		t, err := plots.LoadTile(h.Path)
		if err != nil {
			return nil, err
		}
		t.Caption = fmt.Sprintf("%d. %s (%.3f)", h.Rank, filepath.Base(h.Path), h.Score)
		tiles[i] = t
	}
	return tiles, nil
}

// HitLabels returns the class of every hit's file in a gallery written by WriteGallery
// (GalleryLabel: -1 outside a class folder).
func HitLabels(hits []imagesearch.Hit) []int {
	out := make([]int, len(hits))
	for i, h := range hits {
		out[i] = GalleryLabel(h.Path)
	}
	return out
}

// SearchScale is exact search against HNSW on n synthetic CLIP-like embeddings.
type SearchScale struct {
	N, Queries   int
	ExactMs      float64 // mean wall time of one exact query (k = 10)
	BuildSeconds float64 // HNSW build (M 16, efConstruction 100)
	Points       []ScalePoint
}

// MeasureSearchScale builds an exact and an HNSW index (M 16, efConstruction 100) of n synthetic
// 512-d embeddings (synth: max(10, n/100) clusters, seed 7) and measures, over nq queries, exact
// search's time per query and HNSW's recall@10 and time per query at efSearch 16 to 256
// (searchbench.Run, without the bandwidth measurement).
func MeasureSearchScale(n, nq int) (*SearchScale, error) {
	rep, err := searchbench.Run(searchbench.Config{Sizes: []int{n}, Data: synth.Config{Dim: 512, Clusters: max(10, n/100), Seed: 7},
		K: 10, Queries: nq, ExactQueries: nq, Batch: nq, HNSW: search.HNSWConfig{M: 16, EfConstruction: 100},
		EfSearch: []int{16, 32, 64, 128, 256}, BandwidthBytes: -1})
	if err != nil {
		return nil, err
	}
	sr := rep.Sizes[0]
	if sr.Exact == nil || sr.HNSW == nil {
		return nil, fmt.Errorf("search scale: searchbench measured no exact or no HNSW index")
	}
	out := &SearchScale{N: n, Queries: nq, ExactMs: sr.Exact.Single.Mean, BuildSeconds: sr.HNSW.BuildSeconds}
	for _, p := range sr.HNSW.Points {
		out.Points = append(out.Points, ScalePoint{Ef: p.Ef, Recall: p.Recall, MsPerQry: p.Mean})
	}
	return out, nil
}

// FirstAtRecall returns the first point (smallest ef) that reaches recall, else the last point;
// the zero point for none.
func FirstAtRecall(points []ScalePoint, recall float64) ScalePoint {
	for _, p := range points {
		if p.Recall >= recall {
			return p
		}
	}
	if len(points) == 0 {
		return ScalePoint{}
	}
	return points[len(points)-1]
}
