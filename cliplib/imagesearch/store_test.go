package imagesearch

import (
	"context"
	"strings"
	"testing"

	"github.com/clipkit/clipkit/cliplib/search"

	"github.com/clipkit/clipkit/cliplib/internal/testutil"
)

func TestSearchStoreFindsImagesFiltersAndRefusesAnotherModel(t *testing.T) {
	m := load(t, "tiny-vit", tinyOptions(t.TempDir()))
	files := testutil.WriteImages(t, t.TempDir(), 0, 4)
	embs, err := m.EncodeImageFiles(files...)
	if err != nil {
		t.Fatal(err)
	}
	st, err := search.NewLocalStore(search.StoreOptions{Dim: m.EmbedDim()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i, f := range files {
		label := []string{"even", "odd"}[i%2]
		if err := st.Upsert(ctx, search.Item{ID: uint64(i), Vector: embs[i],
			Metadata: map[string]string{"path": f, "label": label, ModelMetaKey: StoreIdentity(m)}}); err != nil {
			t.Fatal(err)
		}
	}
	hits, err := SearchStoreImageFile(ctx, m, st, files[3], 1, nil)
	if err != nil || len(hits) != 1 || hits[0].Path != files[3] || hits[0].Rank != 1 {
		t.Fatalf("image query: %+v, %v", hits, err)
	}
	hits, err = SearchStoreImageFile(ctx, m, st, files[3], 4, search.Filter{"label": "even"})
	if err != nil || len(hits) != 2 {
		t.Fatalf("filtered query: %+v, %v", hits, err)
	}
	for _, h := range hits {
		if h.Metadata["label"] != "even" {
			t.Errorf("filter label=even returned %+v", h)
		}
	}
	if _, err := SearchStoreText(ctx, m, st, "  ", 1, nil); err == nil {
		t.Error("empty text query accepted")
	}
	opt := tinyOptions(t.TempDir())
	opt.Precision = "bf16"
	other := load(t, "tiny-vit", opt)
	if _, err := SearchStoreText(ctx, other, st, "a cat", 1, nil); err == nil || !strings.Contains(err.Error(), "same model") {
		t.Errorf("query with another model: %v", err)
	}
}
