package explore

import (
	"path/filepath"

	"github.com/clipkit/clipkit/cliplib"
	"github.com/clipkit/clipkit/nb/analysis"
	"github.com/clipkit/clipkit/nb/notebook"
)

// FreeQueries have no ground truth: notebook 05 shows what the model returns for these open
// questions.
var FreeQueries = []string{"an animal", "something to drink", "a machine with wheels", "outer space"}

// Retrieval is a text-to-image search of a gallery: every query ranked against every photo.
type Retrieval struct {
	Gallery  []string    // image files searched
	Queries  []string    // the demo captions (Captioned of them), then the free queries
	Captions int         // how many of Queries are captions with a photo to find
	Relevant []int       // index in Gallery of each query's photo, -1 where it has none
	Sim      [][]float32 // [query][image] cosine similarity, shape [len(Queries)][len(Gallery)]
	Ranks    []int       // 1-based rank of the relevant photo per query (0 where it has none)
}

// SearchGallery is the gallery notebook 05 searches: the sample photos (SampleImages), or the demo
// photos in smoke mode.
func SearchGallery() ([]string, error) {
	if notebook.Smoke() {
		demo, _, _, err := Demo()
		return demo, err
	}
	return SampleImages(0)
}

// RelevantIn returns, for every file of wanted, the index in gallery of the photo with the same
// base name (-1 where there is none), followed by extra entries of -1.
func RelevantIn(gallery, wanted []string, extra int) []int {
	at := map[string]int{}
	for j, g := range gallery {
		at[filepath.Base(g)] = j // the last of equal names, as a search would find it last
	}
	out := make([]int, 0, len(wanted)+max(extra, 0))
	for _, f := range wanted {
		j, ok := at[filepath.Base(f)]
		if !ok {
			j = -1
		}
		out = append(out, j)
	}
	for range max(extra, 0) {
		out = append(out, -1)
	}
	return out
}

// DemoRetrieval embeds the gallery (SearchGallery; image cache) and the demo captions followed by
// FreeQueries, saves the text cache and ranks the gallery for every query (analysis.Ranks): a
// caption's relevant photo is its demo photo.
func (s *Session) DemoRetrieval() (*Retrieval, error) {
	demo, captions, _, err := Demo()
	if err != nil {
		return nil, err
	}
	gallery, err := SearchGallery()
	if err != nil {
		return nil, err
	}
	r := &Retrieval{Gallery: gallery, Queries: append(append([]string{}, captions...), FreeQueries...), Captions: len(captions),
		Relevant: RelevantIn(gallery, demo, len(FreeQueries))}
	imgs, err := s.EncodeFiles("Embedding the gallery", gallery)
	if err != nil {
		return nil, err
	}
	txts, err := s.EncodeTexts(r.Queries)
	if err != nil {
		return nil, err
	}
	if err := s.Save(); err != nil {
		return nil, err
	}
	r.Sim = cliplib.Similarity(txts, imgs)
	if r.Ranks, err = analysis.Ranks(r.Sim, r.Relevant); err != nil {
		return nil, err
	}
	return r, nil
}
