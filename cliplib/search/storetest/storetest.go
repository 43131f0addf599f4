// Package storetest is the behaviour every search.Store must have, as one
// test suite that each implementation runs against itself (the in-process
// LocalStore in package search, Milvus in package search/milvus): round
// trip, idempotent re-ingest, filtered search, delete, bad input, and
// recall against the exact index on the same vectors.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/clipkit/clipkit/cliplib/search"
	"github.com/clipkit/clipkit/cliplib/search/synth"
)

// Opener returns a new, empty store of dimension dim; the suite closes it.
type Opener func(t *testing.T, dim int) search.Store

// Dim is the vector dimension the suite uses.
const Dim = 32

// Items returns n synthetic CLIP-like items with IDs first..first+n-1 and
// metadata path, label (one of 4) and shard ("s" + id%3).
func Items(t testing.TB, first, n int) []search.Item {
	t.Helper()
	g, err := synth.New(synth.Config{Kind: synth.Clusters, Dim: Dim, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	vecs := g.Points(first, n)
	items := make([]search.Item, n)
	for i := range items {
		id := uint64(first + i)
		items[i] = search.Item{ID: id, Vector: vecs[i*Dim : (i+1)*Dim], Metadata: map[string]string{
			"path": fmt.Sprintf("/photos/%05d.jpg", id), "label": fmt.Sprintf("class%d", id%4), "shard": fmt.Sprintf("s%d", id%3),
		}}
	}
	return items
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return c
}

func count(t *testing.T, s search.Store) int {
	t.Helper()
	n, err := s.Count(ctx(t))
	if err != nil {
		t.Fatalf("Count: %v", err)
	}
	return n
}

// Run runs the suite. minRecall is the recall@10 the store must reach
// against the exact index (1 for an exact store).
func Run(t *testing.T, open Opener, minRecall float64) {
	t.Run("RoundTripReturnsItemsWithMetadata", func(t *testing.T) {
		s := open(t, Dim)
		items := Items(t, 0, 200)
		if err := s.Upsert(ctx(t), items...); err != nil {
			t.Fatal(err)
		}
		if n := count(t, s); n != 200 {
			t.Fatalf("Count = %d after upserting 200 items", n)
		}
		for _, i := range []int{0, 57, 199} {
			res, err := s.Search(ctx(t), items[i].Vector, 3, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(res) != 3 || res[0].ID != items[i].ID {
				t.Fatalf("searching item %d's own vector: got %+v, want it first", i, res)
			}
			if res[0].Score < 0.999 || res[0].Score > 1.001 {
				t.Errorf("self-similarity %v, want 1 (cosine)", res[0].Score)
			}
			if res[0].Metadata["path"] != items[i].Metadata["path"] || res[0].Metadata["label"] != items[i].Metadata["label"] {
				t.Errorf("metadata %v, want %v", res[0].Metadata, items[i].Metadata)
			}
			for j := 1; j < len(res); j++ {
				if res[j].Score > res[j-1].Score {
					t.Errorf("results not best first: %v", res)
				}
			}
		}
	})
	t.Run("ReingestAddsNothingTwice", func(t *testing.T) {
		s := open(t, Dim)
		items := Items(t, 0, 120)
		for range 2 {
			if err := s.Upsert(ctx(t), items[:80]...); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Upsert(ctx(t), items...); err != nil { // overlaps the first 80
			t.Fatal(err)
		}
		if n := count(t, s); n != 120 {
			t.Fatalf("Count = %d after upserting 80, 80 again and 120 overlapping; want 120", n)
		}
		// Upsert replaces: new metadata for an existing ID wins.
		it := items[5]
		it.Metadata = map[string]string{"path": "/moved.jpg", "label": "x", "shard": "s9"}
		if err := s.Upsert(ctx(t), it); err != nil {
			t.Fatal(err)
		}
		res, err := s.Search(ctx(t), it.Vector, 2, nil)
		if err != nil {
			t.Fatal(err)
		}
		if res[0].ID != it.ID || res[0].Metadata["path"] != "/moved.jpg" || (len(res) > 1 && res[1].ID == it.ID) {
			t.Fatalf("after replacing id %d: %+v", it.ID, res)
		}
		if n := count(t, s); n != 120 {
			t.Fatalf("Count = %d after replacing one item; want 120", n)
		}
	})
	t.Run("FilteredSearchReturnsOnlyMatches", func(t *testing.T) {
		s := open(t, Dim)
		items := Items(t, 0, 300)
		if err := s.Upsert(ctx(t), items...); err != nil {
			t.Fatal(err)
		}
		f := search.Filter{"label": "class2", "shard": "s1"} // ids ≡ 2 mod 4 and ≡ 1 mod 3: 25 items
		res, err := s.Search(ctx(t), items[1].Vector, 10, f)
		if err != nil {
			t.Fatal(err)
		}
		if len(res) != 10 {
			t.Fatalf("filtered search gave %d results, want 10", len(res))
		}
		for _, r := range res {
			if r.ID%4 != 2 || r.ID%3 != 1 || !f.Matches(r.Metadata) {
				t.Errorf("result id %d metadata %v does not match filter %v", r.ID, r.Metadata, f)
			}
		}
		// Quotes and backslashes in values are data, not syntax.
		odd := Items(t, 1000, 1)[0]
		odd.Metadata["caption"] = `a "quoted" \ caption`
		if err := s.Upsert(ctx(t), odd); err != nil {
			t.Fatal(err)
		}
		res, err = s.Search(ctx(t), items[0].Vector, 5, search.Filter{"caption": odd.Metadata["caption"]})
		if err != nil {
			t.Fatal(err)
		}
		if len(res) != 1 || res[0].ID != odd.ID {
			t.Fatalf("filter on a value with quotes: got %+v, want only id %d", res, odd.ID)
		}
		res, err = s.Search(ctx(t), items[0].Vector, 5, search.Filter{"label": "no such label"})
		if err != nil || len(res) != 0 {
			t.Fatalf("filter matching nothing: %v, %v", res, err)
		}
	})
	t.Run("DeleteRemovesAndIgnoresUnknown", func(t *testing.T) {
		s := open(t, Dim)
		items := Items(t, 0, 50)
		if err := s.Upsert(ctx(t), items...); err != nil {
			t.Fatal(err)
		}
		if err := s.Delete(ctx(t), 3, 4, 999999); err != nil {
			t.Fatal(err)
		}
		if n := count(t, s); n != 48 {
			t.Fatalf("Count = %d after deleting 2 of 50", n)
		}
		res, err := s.Search(ctx(t), items[3].Vector, 5, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res {
			if r.ID == 3 || r.ID == 4 {
				t.Fatalf("deleted id %d returned", r.ID)
			}
		}
	})
	t.Run("BadInputIsAnErrorAndStoresNothing", func(t *testing.T) {
		s := open(t, Dim)
		good := Items(t, 0, 2)
		short := search.Item{ID: 9, Vector: make([]float32, Dim-1)}
		if err := s.Upsert(ctx(t), good[0], short); !errors.Is(err, search.ErrDim) {
			t.Errorf("upserting a short vector: %v, want ErrDim", err)
		}
		zero := search.Item{ID: 9, Vector: make([]float32, Dim)}
		if err := s.Upsert(ctx(t), good[1], zero); !errors.Is(err, search.ErrInvalidVector) {
			t.Errorf("upserting a zero vector: %v, want ErrInvalidVector", err)
		}
		if n := count(t, s); n != 0 {
			t.Errorf("Count = %d after failed upserts, want 0", n)
		}
		if _, err := s.Search(ctx(t), good[0].Vector, 0, nil); err == nil {
			t.Error("k = 0 accepted")
		}
		if _, err := s.Search(ctx(t), good[0].Vector[:3], 1, nil); !errors.Is(err, search.ErrDim) {
			t.Errorf("short query: %v, want ErrDim", err)
		}
	})
	t.Run("RecallAgainstExactIndex", func(t *testing.T) {
		s := open(t, Dim)
		items := Items(t, 0, 2000)
		for i := 0; i < len(items); i += 500 {
			if err := s.Upsert(ctx(t), items[i:i+500]...); err != nil {
				t.Fatal(err)
			}
		}
		ex, _ := search.NewExact(Dim)
		if err := ex.Add(items...); err != nil {
			t.Fatal(err)
		}
		g, _ := synth.New(synth.Config{Kind: synth.Clusters, Dim: Dim, Seed: 7})
		qs := g.Queries(50)
		hit, total := 0, 0
		for i := range 50 {
			q := qs[i*Dim : (i+1)*Dim]
			want, _ := ex.Search(q, 10)
			got, err := s.Search(ctx(t), q, 10, nil)
			if err != nil {
				t.Fatal(err)
			}
			hit += search.Overlap(got, want)
			total += len(want)
		}
		if r := float64(hit) / float64(total); r < minRecall {
			t.Fatalf("recall@10 against the exact index = %.3f, want >= %.3f", r, minRecall)
		} else {
			t.Logf("recall@10 against the exact index: %.3f", r)
		}
	})
}
