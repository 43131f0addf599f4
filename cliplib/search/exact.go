package search

import (
	"fmt"
	"runtime"
	"slices"
	"sync"
)

// Exact is a flat (brute-force) index: every search scans all vectors.
//
// Storage is one contiguous row-major []float32 of shape [Len, Dim], so a scan
// streams memory linearly. A single query is memory-bandwidth bound and is
// split into GOMAXPROCS contiguous shards scanned by parallel goroutines, each
// keeping its own top-k heap; the heaps are merged at the end. SearchBatch
// additionally blocks the rows so each block (a few hundred KiB, L2-resident)
// is reused for every query of the batch, scoring 2 rows × 4 queries per
// kernel call; the scan cost is paid once per batch rather than per query.
//
// Remove moves the last row into the hole (O(Dim)), so row order is not
// insertion order. The zero value is not usable; create one with NewExact.
type Exact struct {
	mu   sync.RWMutex
	dim  int
	vecs []float32 // [n*dim], normalised rows
	ids  []uint64
	meta []map[string]string
	pos  map[uint64]int // id -> row
}

// NewExact returns an empty exact index for vectors of dimension dim.
func NewExact(dim int) (*Exact, error) {
	if err := checkDim(dim); err != nil {
		return nil, err
	}
	return &Exact{dim: dim, pos: map[uint64]int{}}, nil
}

// Dim implements Index.
func (e *Exact) Dim() int { return e.dim }

// Len implements Index.
func (e *Exact) Len() int {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return len(e.ids)
}

// MemoryBytes is the approximate heap size of the index's data: vectors,
// IDs and the ID map (metadata strings not counted).
func (e *Exact) MemoryBytes() int64 {
	e.mu.RLock()
	defer e.mu.RUnlock()
	n := int64(len(e.ids))
	return int64(cap(e.vecs))*4 + int64(cap(e.ids))*8 + int64(cap(e.meta))*8 + n*mapEntryBytes
}

// mapEntryBytes approximates the cost of one map[uint64]int/uint32 entry.
const mapEntryBytes = 40

// Reserve makes room for n more items without reallocating.
func (e *Exact) Reserve(n int) {
	if n <= 0 {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.vecs = slices.Grow(e.vecs, n*e.dim)
	e.ids = slices.Grow(e.ids, n)
	e.meta = slices.Grow(e.meta, n)
}

// Add implements Index.
func (e *Exact) Add(items ...Item) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	flat, err := validateItems(items, e.dim, func(id uint64) bool { _, ok := e.pos[id]; return ok })
	if err != nil {
		return err
	}
	if len(e.ids)+len(items) > maxRows {
		return fmt.Errorf("search: index would exceed %d items", maxRows)
	}
	e.vecs = append(e.vecs, flat...)
	for _, it := range items {
		e.pos[it.ID] = len(e.ids)
		e.ids = append(e.ids, it.ID)
		e.meta = append(e.meta, it.Metadata)
	}
	return nil
}

// maxRows bounds the number of items (internal indices are uint32).
const maxRows = 1<<32 - 2

// Remove implements Index.
func (e *Exact) Remove(ids ...uint64) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	seen := make(map[uint64]bool, len(ids))
	for _, id := range ids {
		if _, ok := e.pos[id]; !ok || seen[id] {
			return fmt.Errorf("%w: Remove(%d): no such item", ErrNotFound, id)
		}
		seen[id] = true
	}
	d := e.dim
	for _, id := range ids {
		r := e.pos[id]
		last := len(e.ids) - 1
		if r != last {
			copy(e.vecs[r*d:(r+1)*d], e.vecs[last*d:(last+1)*d])
			e.ids[r] = e.ids[last]
			e.meta[r] = e.meta[last]
			e.pos[e.ids[r]] = r
		}
		e.vecs = e.vecs[:last*d]
		e.ids = e.ids[:last]
		e.meta[last] = nil
		e.meta = e.meta[:last]
		delete(e.pos, id)
	}
	return nil
}

// Get implements Index.
func (e *Exact) Get(id uint64) ([]float32, map[string]string, bool) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	r, ok := e.pos[id]
	if !ok {
		return nil, nil, false
	}
	return append([]float32(nil), e.vecs[r*e.dim:(r+1)*e.dim]...), e.meta[r], true
}

// shardRows splits n rows into at most GOMAXPROCS contiguous shards of at
// least minRows rows each. It returns the shard boundaries.
func shardRows(n, minRows int) []int {
	w := runtime.GOMAXPROCS(0)
	if max := n / minRows; max < w {
		w = max
	}
	if w < 1 {
		w = 1
	}
	b := make([]int, w+1)
	for i := 0; i <= w; i++ {
		b[i] = n * i / w
	}
	return b
}

// minShardRows is the smallest shard worth a goroutine (≈ tens of µs of work).
const minShardRows = 4096

// Search implements Index.
func (e *Exact) Search(q []float32, k int) ([]Result, error) {
	if err := checkK(k); err != nil {
		return nil, err
	}
	qn, err := normalizedQuery(q, e.dim, "query")
	if err != nil {
		return nil, err
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	n := len(e.ids)
	bounds := shardRows(n, minShardRows)
	heaps := make([]*topK, len(bounds)-1)
	scan := func(s int) {
		h := newTopK(k)
		d := e.dim
		for r := bounds[s]; r < bounds[s+1]; r++ {
			h.push(dot(qn, e.vecs[r*d:(r+1)*d]), uint32(r))
		}
		heaps[s] = h
	}
	runShards(len(heaps), scan)
	return e.results(mergeTopK(heaps, k)), nil
}

// runShards runs f(0..n-1), in parallel when n > 1.
func runShards(n int, f func(int)) {
	if n == 1 {
		f(0)
		return
	}
	var wg sync.WaitGroup
	for s := 0; s < n; s++ {
		wg.Go(func() { f(s) })
	}
	wg.Wait()
}

func mergeTopK(hs []*topK, k int) []scored {
	var all []scored
	for _, h := range hs {
		all = append(all, h.h...)
	}
	sortScored(all)
	if len(all) > k {
		all = all[:k]
	}
	return all
}

func (e *Exact) results(s []scored) []Result {
	out := make([]Result, len(s))
	for i, c := range s {
		out[i] = Result{ID: e.ids[c.idx], Score: c.score, Metadata: e.meta[c.idx]}
	}
	return out
}

// batchBlockRows is how many rows one block of SearchBatch holds; 128 rows of
// 512 float32 are 256 KiB, which stays in a core's L2 while all queries of
// the batch pass over it.
const batchBlockBytes = 256 << 10

// SearchBatch implements Index. Results are identical to calling Search per
// query (up to float rounding of the scores in the last bit).
func (e *Exact) SearchBatch(qs [][]float32, k int) ([][]Result, error) {
	if err := checkK(k); err != nil {
		return nil, err
	}
	nq := len(qs)
	if nq == 0 {
		return nil, nil
	}
	d := e.dim
	// Queries padded to a multiple of 4 with zero vectors (their scores are
	// computed and dropped).
	nq4 := (nq + 3) &^ 3
	qflat := make([]float32, nq4*d)
	for i, q := range qs {
		if err := normalizeInto(qflat[i*d:(i+1)*d], q, d, fmt.Sprintf("query %d", i)); err != nil {
			return nil, err
		}
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	n := len(e.ids)
	bounds := shardRows(n, 256)
	heaps := make([][]*topK, len(bounds)-1) // [shard][query]
	blockRows := batchBlockBytes / (4 * d)
	if blockRows < 2 {
		blockRows = 2
	}
	blockRows &^= 1
	scan := func(s int) {
		hs := make([]*topK, nq)
		for i := range hs {
			hs[i] = newTopK(k)
		}
		var out [8]float32
		lo, hi := bounds[s], bounds[s+1]
		for b0 := lo; b0 < hi; b0 += blockRows {
			b1 := min(b0+blockRows, hi)
			for qi := 0; qi < nq4; qi += 4 {
				q0 := qflat[qi*d : (qi+1)*d]
				q1 := qflat[(qi+1)*d : (qi+2)*d]
				q2 := qflat[(qi+2)*d : (qi+3)*d]
				q3 := qflat[(qi+3)*d : (qi+4)*d]
				r := b0
				for ; r+1 < b1; r += 2 {
					kern.dot24(e.vecs[r*d:(r+1)*d], e.vecs[(r+1)*d:(r+2)*d], q0, q1, q2, q3, &out)
					for j := 0; j < 4 && qi+j < nq; j++ {
						hs[qi+j].push(out[j], uint32(r))
						hs[qi+j].push(out[4+j], uint32(r+1))
					}
				}
				if r < b1 { // odd last row
					row := e.vecs[r*d : (r+1)*d]
					for j := 0; j < 4 && qi+j < nq; j++ {
						hs[qi+j].push(dot(row, qflat[(qi+j)*d:(qi+j+1)*d]), uint32(r))
					}
				}
			}
		}
		heaps[s] = hs
	}
	runShards(len(heaps), scan)
	res := make([][]Result, nq)
	col := make([]*topK, len(heaps))
	for qi := range res {
		for s := range heaps {
			col[s] = heaps[s][qi]
		}
		res[qi] = e.results(mergeTopK(col, k))
	}
	return res, nil
}
