package imagesearch

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/clipkit/clipkit/cliplib"
	"github.com/clipkit/clipkit/cliplib/search"
)

// ModelMetaKey is the metadata entry in which an embedding run records the
// short identity of the model (StoreIdentity) that embedded an item, so that
// searching a store with another model is refused rather than answered with
// meaningless hits.
const ModelMetaKey = "model"

// StoreIdentity is the model identity recorded with each item put into a
// search.Store: the first 16 hex digits of m.Identity (architecture,
// precision and weights).
func StoreIdentity(m *cliplib.Model) string {
	id := m.Identity().String()
	return id[:min(16, len(id))]
}

// SearchStore returns the k items of a store (the in-process index or an
// external one such as Milvus, see search.OpenStore) most similar to an
// embedding vec [E] of model m that match filter, best first. Items recorded as
// embedded by another model are an error.
func SearchStore(ctx context.Context, m *cliplib.Model, st search.Store, vec []float32, k int, filter search.Filter) ([]Hit, error) {
	res, err := st.Search(ctx, vec, k, filter)
	if err != nil {
		return nil, err
	}
	own := StoreIdentity(m)
	hits := make([]Hit, len(res))
	for i, r := range res {
		if got := r.Metadata[ModelMetaKey]; got != "" && got != own {
			return nil, fmt.Errorf("the store holds embeddings of model identity %s…, the query model %s (precision %s) is %s…: "+
				"queries must be encoded by the same model", got, m.Name, m.Precision(), own)
		}
		hits[i] = Hit{Rank: i + 1, ID: r.ID, Path: r.Metadata["path"], Score: r.Score, Metadata: r.Metadata}
	}
	return hits, nil
}

// SearchStoreText is SearchStore for a text query.
func SearchStoreText(ctx context.Context, m *cliplib.Model, st search.Store, query string, k int, filter search.Filter) ([]Hit, error) {
	if strings.TrimSpace(query) == "" {
		return nil, errors.New("imagesearch: empty text query")
	}
	embs, err := m.EncodeTexts([]string{query})
	if err != nil {
		return nil, err
	}
	return SearchStore(ctx, m, st, embs[0], k, filter)
}

// SearchStoreImageFile is SearchStore for an image file query.
func SearchStoreImageFile(ctx context.Context, m *cliplib.Model, st search.Store, path string, k int, filter search.Filter) ([]Hit, error) {
	embs, err := m.EncodeImageFiles(path)
	if err != nil {
		return nil, err
	}
	return SearchStore(ctx, m, st, embs[0], k, filter)
}
