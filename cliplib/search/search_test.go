package search

import (
	"errors"
	"math"
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/clipkit/clipkit/cliplib/search/synth"
)

// makeItems returns n synthetic clustered unit vectors of dim d as Items with
// IDs 1000+i and a "path" metadata entry.
func makeItems(t testing.TB, n, d int, seed uint64) []Item {
	t.Helper()
	g, err := synth.New(synth.Config{Dim: d, Clusters: 50, Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	pts := g.Points(0, n)
	items := make([]Item, n)
	for i := range items {
		items[i] = Item{ID: uint64(1000 + i), Vector: pts[i*d : (i+1)*d], Metadata: map[string]string{"path": "img" + string(rune('a'+i%26))}}
	}
	return items
}

func makeQueries(t testing.TB, n, d int, seed uint64) [][]float32 {
	t.Helper()
	g, err := synth.New(synth.Config{Dim: d, Clusters: 50, Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	flat := g.Queries(n)
	qs := make([][]float32, n)
	for i := range qs {
		qs[i] = flat[i*d : (i+1)*d]
	}
	return qs
}

// bruteForce is an independent float64 reference: IDs of the top k by cosine.
func bruteForce(items []Item, q []float32, k int) []uint64 {
	type sc struct {
		s  float64
		id uint64
	}
	var qn float64
	for _, x := range q {
		qn += float64(x) * float64(x)
	}
	all := make([]sc, len(items))
	for i, it := range items {
		var s, vn float64
		for j := range q {
			s += float64(q[j]) * float64(it.Vector[j])
			vn += float64(it.Vector[j]) * float64(it.Vector[j])
		}
		all[i] = sc{s / math.Sqrt(qn*vn), it.ID}
	}
	sort.Slice(all, func(a, b int) bool { return all[a].s > all[b].s })
	out := make([]uint64, 0, k)
	for i := 0; i < k && i < len(all); i++ {
		out = append(out, all[i].id)
	}
	return out
}

func ids(rs []Result) []uint64 {
	out := make([]uint64, len(rs))
	for i, r := range rs {
		out[i] = r.ID
	}
	return out
}

func recall(got []Result, want []uint64) float64 {
	w := map[uint64]bool{}
	for _, id := range want {
		w[id] = true
	}
	hit := 0
	for _, r := range got {
		if w[r.ID] {
			hit++
		}
	}
	return float64(hit) / float64(len(want))
}

func TestExactSearchMatchesFloat64BruteForce(t *testing.T) {
	for _, n := range []int{1, 9, 300, 10000} { // 10000 rows → 2 parallel shards
		d := 40 // not a multiple of the SIMD width: exercises kernel tails
		items := makeItems(t, n, d, 7)
		e, err := NewExact(d)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Add(items...); err != nil {
			t.Fatal(err)
		}
		for qi, q := range makeQueries(t, 5, d, 7) {
			got, err := e.Search(q, 10)
			if err != nil {
				t.Fatal(err)
			}
			want := bruteForce(items, q, 10)
			if len(got) != len(want) {
				t.Fatalf("n=%d q%d: %d results, want %d", n, qi, len(got), len(want))
			}
			if r := recall(got, want); r < 1 {
				t.Errorf("n=%d q%d: exact search recall %.2f vs float64 reference: got %v want %v", n, qi, r, ids(got), want)
			}
			for i := 1; i < len(got); i++ {
				if got[i].Score > got[i-1].Score {
					t.Errorf("n=%d: results not sorted by score: %v", n, got)
				}
			}
			if got[0].Metadata["path"] == "" {
				t.Errorf("metadata missing from result %+v", got[0])
			}
		}
	}
}

func TestExactSearchBatchEqualsSearch(t *testing.T) {
	d := 64
	for _, n := range []int{0, 1, 3, 700, 9000} {
		items := makeItems(t, n, d, 3)
		e, _ := NewExact(d)
		if err := e.Add(items...); err != nil {
			t.Fatal(err)
		}
		for _, nq := range []int{1, 3, 4, 9} {
			qs := makeQueries(t, nq, d, 3)
			batch, err := e.SearchBatch(qs, 5)
			if err != nil {
				t.Fatal(err)
			}
			if len(batch) != nq {
				t.Fatalf("got %d result lists for %d queries", len(batch), nq)
			}
			for i, q := range qs {
				single, _ := e.Search(q, 5)
				if len(single) != len(batch[i]) {
					t.Fatalf("n=%d nq=%d q%d: batch %d results, single %d", n, nq, i, len(batch[i]), len(single))
				}
				for j := range single {
					if math.Abs(float64(single[j].Score-batch[i][j].Score)) > 1e-5 {
						t.Errorf("n=%d nq=%d q%d rank %d: batch score %v, single %v", n, nq, i, j, batch[i][j].Score, single[j].Score)
					}
				}
				if r := recall(batch[i], ids(single)); r < 1 {
					t.Errorf("n=%d nq=%d q%d: batch ids %v, single %v", n, nq, i, ids(batch[i]), ids(single))
				}
			}
		}
	}
}

// newIndexes returns one empty index of each kind.
func newIndexes(t *testing.T, d int) map[string]Index {
	e, err := NewExact(d)
	if err != nil {
		t.Fatal(err)
	}
	h, err := NewHNSW(d, HNSWConfig{M: 8, EfConstruction: 64, EfSearch: 64, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	return map[string]Index{"exact": e, "hnsw": h}
}

func TestAddRejectsBadInputAtomically(t *testing.T) {
	d := 8
	good := []float32{1, 2, 3, 4, 5, 6, 7, 8}
	nan := append([]float32(nil), good...)
	nan[3] = float32(math.NaN())
	inf := append([]float32(nil), good...)
	inf[0] = float32(math.Inf(-1))
	cases := []struct {
		name  string
		items []Item
		want  error
	}{
		{"short vector", []Item{{ID: 1, Vector: good}, {ID: 2, Vector: good[:7]}}, ErrDim},
		{"NaN", []Item{{ID: 1, Vector: good}, {ID: 2, Vector: nan}}, ErrInvalidVector},
		{"Inf", []Item{{ID: 1, Vector: good}, {ID: 2, Vector: inf}}, ErrInvalidVector},
		{"zero vector", []Item{{ID: 1, Vector: good}, {ID: 2, Vector: make([]float32, d)}}, ErrInvalidVector},
		{"duplicate in call", []Item{{ID: 1, Vector: good}, {ID: 1, Vector: good}}, ErrDuplicateID},
		{"duplicate of existing", []Item{{ID: 1, Vector: good}, {ID: 99, Vector: good}}, ErrDuplicateID},
	}
	for _, c := range cases {
		for kind, idx := range newIndexes(t, d) {
			if err := idx.Add(Item{ID: 99, Vector: good}); err != nil {
				t.Fatal(err)
			}
			err := idx.Add(c.items...)
			if !errors.Is(err, c.want) {
				t.Errorf("%s/%s: got error %v, want %v", kind, c.name, err, c.want)
			}
			if idx.Len() != 1 {
				t.Errorf("%s/%s: failed Add left %d items, want 1 (nothing added)", kind, c.name, idx.Len())
			}
			if _, err := idx.Search(good[:5], 1); !errors.Is(err, ErrDim) {
				t.Errorf("%s: query of wrong length: got %v, want ErrDim", kind, err)
			}
			if _, err := idx.Search(nan, 1); !errors.Is(err, ErrInvalidVector) {
				t.Errorf("%s: NaN query: got %v, want ErrInvalidVector", kind, err)
			}
			if _, err := idx.Search(good, 0); err == nil {
				t.Errorf("%s: k=0 accepted", kind)
			}
			if _, err := idx.SearchBatch([][]float32{good, good[:2]}, 1); !errors.Is(err, ErrDim) {
				t.Errorf("%s: batch with a bad query: got %v, want ErrDim", kind, err)
			}
		}
	}
	if _, err := NewExact(0); err == nil {
		t.Error("NewExact(0) accepted")
	}
	if _, err := NewHNSW(16, HNSWConfig{M: 1}); err == nil {
		t.Error("HNSW M=1 accepted")
	}
}

func TestVectorsAreNormalisedAndScoresAreCosines(t *testing.T) {
	for kind, idx := range newIndexes(t, 3) {
		if err := idx.Add(Item{ID: 1, Vector: []float32{3, 4, 0}}, Item{ID: 2, Vector: []float32{0, 0, -2}}); err != nil {
			t.Fatal(err)
		}
		v, _, ok := idx.Get(1)
		if !ok || math.Abs(float64(v[0])-0.6) > 1e-6 || math.Abs(float64(v[1])-0.8) > 1e-6 {
			t.Errorf("%s: stored vector %v, want [0.6 0.8 0]", kind, v)
		}
		res, err := idx.Search([]float32{30, 40, 0}, 2)
		if err != nil {
			t.Fatal(err)
		}
		if len(res) != 2 || res[0].ID != 1 || math.Abs(float64(res[0].Score)-1) > 1e-6 || math.Abs(float64(res[1].Score)) > 1e-6 {
			t.Errorf("%s: results %+v, want id 1 score 1 then id 2 score 0", kind, res)
		}
	}
}

func TestRemoveHidesItemsAndAllowsReAdd(t *testing.T) {
	d := 32
	items := makeItems(t, 400, d, 11)
	qs := makeQueries(t, 20, d, 11)
	for kind, idx := range newIndexes(t, d) {
		if err := idx.Add(items...); err != nil {
			t.Fatal(err)
		}
		// Remove the true top-3 of every query.
		removed := map[uint64]bool{}
		for _, q := range qs {
			for _, id := range bruteForce(items, q, 3) {
				removed[id] = true
			}
		}
		var rm []uint64
		for id := range removed {
			rm = append(rm, id)
		}
		if err := idx.Remove(rm...); err != nil {
			t.Fatal(err)
		}
		if err := idx.Remove(rm[0]); !errors.Is(err, ErrNotFound) {
			t.Errorf("%s: removing twice: got %v, want ErrNotFound", kind, err)
		}
		if err := idx.Remove(424242); !errors.Is(err, ErrNotFound) {
			t.Errorf("%s: removing unknown id: got %v, want ErrNotFound", kind, err)
		}
		if idx.Len() != len(items)-len(rm) {
			t.Errorf("%s: Len %d after removing %d of %d", kind, idx.Len(), len(rm), len(items))
		}
		if _, _, ok := idx.Get(rm[0]); ok {
			t.Errorf("%s: Get finds removed id %d", kind, rm[0])
		}
		var live []Item
		for _, it := range items {
			if !removed[it.ID] {
				live = append(live, it)
			}
		}
		var rsum float64
		for _, q := range qs {
			res, err := idx.Search(q, 10)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range res {
				if removed[r.ID] {
					t.Fatalf("%s: removed id %d returned", kind, r.ID)
				}
			}
			rsum += recall(res, bruteForce(live, q, 10))
		}
		if r := rsum / float64(len(qs)); r < 0.95 {
			t.Errorf("%s: recall@10 after removals %.3f, want >= 0.95", kind, r)
		}
		// Re-adding a removed id works and makes it findable again.
		back := items[0]
		for _, it := range items {
			if it.ID == rm[0] {
				back = it
			}
		}
		if err := idx.Add(back); err != nil {
			t.Fatalf("%s: re-adding removed id: %v", kind, err)
		}
		res, _ := idx.Search(back.Vector, 1)
		if len(res) != 1 || res[0].ID != back.ID {
			t.Errorf("%s: re-added item not found by its own vector: %+v", kind, res)
		}
	}
}

func TestHNSWRecallAgainstExactOnClusteredData(t *testing.T) {
	d, n := 128, 6000
	if testing.Short() {
		n = 2000
	}
	items := makeItems(t, n, d, 5)
	qs := makeQueries(t, 50, d, 5)
	e, _ := NewExact(d)
	h, _ := NewHNSW(d, HNSWConfig{M: 16, EfConstruction: 100, Seed: 2})
	if err := e.Add(items...); err != nil {
		t.Fatal(err)
	}
	// Two batches, to exercise growing a non-empty graph.
	if err := h.Add(items[:n/3]...); err != nil {
		t.Fatal(err)
	}
	if err := h.Add(items[n/3:]...); err != nil {
		t.Fatal(err)
	}
	truth, _ := e.SearchBatch(qs, 10)
	prev := 0.0
	for _, ef := range []int{10, 64} {
		got, err := h.SearchBatchEf(qs, 10, ef)
		if err != nil {
			t.Fatal(err)
		}
		var r float64
		for i := range qs {
			r += recall(got[i], ids(truth[i]))
		}
		r /= float64(len(qs))
		t.Logf("ef=%d recall@10=%.3f", ef, r)
		if ef == 64 && r < 0.95 {
			t.Errorf("HNSW recall@10 at ef=64 is %.3f, want >= 0.95", r)
		}
		if r+0.02 < prev {
			t.Errorf("recall dropped from %.3f to %.3f when ef grew to %d", prev, r, ef)
		}
		prev = r
	}
	// Compact after removing half keeps recall on the rest.
	var rm []uint64
	for i := 0; i < n; i += 2 {
		rm = append(rm, items[i].ID)
	}
	if err := h.Remove(rm...); err != nil {
		t.Fatal(err)
	}
	if err := h.Compact(); err != nil {
		t.Fatal(err)
	}
	if h.Deleted() != 0 || h.Len() != n-len(rm) {
		t.Fatalf("after Compact: Len %d Deleted %d", h.Len(), h.Deleted())
	}
	if err := e.Remove(rm...); err != nil {
		t.Fatal(err)
	}
	truth, _ = e.SearchBatch(qs, 10)
	got, _ := h.SearchBatchEf(qs, 10, 64)
	var r float64
	for i := range qs {
		r += recall(got[i], ids(truth[i]))
	}
	if r /= float64(len(qs)); r < 0.95 {
		t.Errorf("recall@10 after Remove+Compact %.3f, want >= 0.95", r)
	}
}

func TestEmptyAndTinyIndexes(t *testing.T) {
	for kind, idx := range newIndexes(t, 4) {
		res, err := idx.Search([]float32{1, 0, 0, 0}, 3)
		if err != nil || len(res) != 0 {
			t.Errorf("%s: empty index search: %v %v", kind, res, err)
		}
		if err := idx.Add(Item{ID: 7, Vector: []float32{0, 1, 0, 0}}); err != nil {
			t.Fatal(err)
		}
		res, err = idx.Search([]float32{1, 1, 0, 0}, 3)
		if err != nil || len(res) != 1 || res[0].ID != 7 {
			t.Errorf("%s: one-item search: %v %v", kind, res, err)
		}
		if err := idx.Remove(7); err != nil {
			t.Fatal(err)
		}
		res, err = idx.Search([]float32{1, 1, 0, 0}, 3)
		if err != nil || len(res) != 0 {
			t.Errorf("%s: search after removing all: %v %v", kind, res, err)
		}
	}
}

func TestConcurrentSearchesAgree(t *testing.T) {
	d := 32
	items := makeItems(t, 1500, d, 9)
	qs := makeQueries(t, 16, d, 9)
	for kind, idx := range newIndexes(t, d) {
		if err := idx.Add(items...); err != nil {
			t.Fatal(err)
		}
		want, _ := idx.SearchBatch(qs, 5)
		done := make(chan error, 4)
		for g := 0; g < 4; g++ {
			go func() {
				for i, q := range qs {
					got, err := idx.Search(q, 5)
					if err != nil {
						done <- err
						return
					}
					if recall(got, ids(want[i])) < 1 {
						done <- errors.New(kind + ": concurrent search disagrees with batch search")
						return
					}
				}
				done <- nil
			}()
		}
		for g := 0; g < 4; g++ {
			if err := <-done; err != nil {
				t.Error(err)
			}
		}
	}
}

func TestTopKKeepsLargest(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	for _, k := range []int{1, 3, 10} {
		h := newTopK(k)
		var all []float32
		for i := 0; i < 200; i++ {
			s := r.Float32()
			all = append(all, s)
			h.push(s, uint32(i))
		}
		sort.Slice(all, func(a, b int) bool { return all[a] > all[b] })
		got := h.sorted()
		for i := range got {
			if got[i].score != all[i] {
				t.Fatalf("k=%d rank %d: %v, want %v", k, i, got[i].score, all[i])
			}
		}
	}
}
