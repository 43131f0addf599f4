package search

import (
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
)

// HNSWConfig holds the parameters of an HNSW index (Malkov & Yashunin,
// "Efficient and robust approximate nearest neighbor search using
// Hierarchical Navigable Small World graphs", 2016/2018). Zero fields take
// the defaults shown.
type HNSWConfig struct {
	// M is the number of neighbours kept per node on the upper layers; the
	// bottom layer keeps up to 2·M. Default 16. Memory per node ≈ (2M+1)·4 B.
	M int
	// EfConstruction is the beam width used while inserting. Larger builds a
	// better graph, more slowly. Default 100.
	EfConstruction int
	// EfSearch is the default beam width for queries (the effective beam is
	// max(EfSearch, k)); SearchEf overrides it per call. Default 64.
	EfSearch int
	// Seed makes the level assignment reproducible. Default 0 (a fixed seed).
	Seed uint64
	// Workers is how many goroutines insert in parallel in Add (GOMAXPROCS
	// when 0). With Workers > 1 the graph depends on scheduling, so builds are
	// not bit-for-bit reproducible; recall is statistically the same.
	Workers int
}

// WithDefaults returns c with its zero fields set to the defaults NewHNSW uses (M 16,
// EfConstruction 100, EfSearch 64).
func (c HNSWConfig) WithDefaults() HNSWConfig {
	if c.M == 0 {
		c.M = 16
	}
	if c.EfConstruction == 0 {
		c.EfConstruction = 100
	}
	if c.EfSearch == 0 {
		c.EfSearch = 64
	}
	return c
}

func (c HNSWConfig) validate() error {
	if c.M < 2 || c.M > 256 {
		return fmt.Errorf("search: HNSWConfig.M must be in [2, 256], got %d", c.M)
	}
	if c.EfConstruction < 1 || c.EfConstruction > 1<<16 {
		return fmt.Errorf("search: HNSWConfig.EfConstruction must be in [1, 65536], got %d", c.EfConstruction)
	}
	if c.EfSearch < 1 || c.EfSearch > 1<<16 {
		return fmt.Errorf("search: HNSWConfig.EfSearch must be in [1, 65536], got %d", c.EfSearch)
	}
	if c.Workers < 0 {
		return fmt.Errorf("search: HNSWConfig.Workers must be >= 0, got %d", c.Workers)
	}
	return nil
}

// maxLevelCap bounds node levels (with M=16 level 16 needs ~16^16 nodes).
const maxLevelCap = 16

// HNSW is an approximate nearest-neighbour index: a hierarchical navigable
// small-world graph over the same contiguous vector storage as Exact.
//
// Layout: the bottom layer's adjacency is one flat []uint32 with a fixed
// stride of 2M+1 per node ([count, n1, n2, ...]); upper layers (≈1/M of the
// nodes) have a small per-node slice. Inserts in Add run on Workers
// goroutines with one mutex per node guarding its neighbour lists (the same
// scheme as hnswlib). Neighbours are chosen with the paper's heuristic
// (algorithm 4 without extension), which matters for clustered data.
//
// Remove marks items as deleted (tombstones): they stay in the graph as
// stepping stones, are never returned, and still cost memory and a little
// search time. Compact rebuilds the graph from the live items when many have
// been removed. An ID removed can be added again (as a new node).
type HNSW struct {
	mu   sync.RWMutex
	dim  int
	cfg  HNSWConfig
	mL   float64
	m0   int // max neighbours on layer 0 (2M)
	vecs []float32
	ids  []uint64
	meta []map[string]string
	pos  map[uint64]uint32 // live id -> node

	deleted  []bool
	nDeleted int
	level    []uint8
	links0   []uint32   // [n*(m0+1)]
	upper    [][]uint32 // node -> level*(M+1) entries for layers 1..level
	locks    []sync.Mutex

	epMu     sync.Mutex // guards entry/maxLevel/hasEntry during parallel inserts
	entry    uint32
	maxLevel int
	hasEntry bool

	visited sync.Pool // *visitedSet
}

// NewHNSW returns an empty HNSW index for vectors of dimension dim.
func NewHNSW(dim int, cfg HNSWConfig) (*HNSW, error) {
	if err := checkDim(dim); err != nil {
		return nil, err
	}
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return newHNSW(dim, cfg), nil
}

func newHNSW(dim int, cfg HNSWConfig) *HNSW {
	return &HNSW{
		dim: dim, cfg: cfg,
		mL:  1 / math.Log(float64(cfg.M)),
		m0:  2 * cfg.M,
		pos: map[uint64]uint32{},
	}
}

// Config returns the index's parameters (with defaults filled in).
func (h *HNSW) Config() HNSWConfig { return h.cfg }

// SetEfSearch changes the default query beam width.
func (h *HNSW) SetEfSearch(ef int) error {
	if ef < 1 || ef > 1<<16 {
		return fmt.Errorf("search: efSearch must be in [1, 65536], got %d", ef)
	}
	h.mu.Lock()
	h.cfg.EfSearch = ef
	h.mu.Unlock()
	return nil
}

// Dim implements Index.
func (h *HNSW) Dim() int { return h.dim }

// Len implements Index: live items (added minus removed).
func (h *HNSW) Len() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.ids) - h.nDeleted
}

// Deleted is the number of tombstoned nodes still in the graph.
func (h *HNSW) Deleted() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.nDeleted
}

// MemoryBytes is the approximate heap size of the index's data: vectors,
// adjacency, IDs, per-node state and the ID map (metadata strings not counted).
func (h *HNSW) MemoryBytes() int64 {
	h.mu.RLock()
	defer h.mu.RUnlock()
	b := int64(cap(h.vecs))*4 + int64(cap(h.links0))*4 + int64(cap(h.ids))*8 + int64(cap(h.meta))*8
	b += int64(cap(h.deleted)) + int64(cap(h.level)) + int64(cap(h.locks))*8 + int64(cap(h.upper))*24
	for _, u := range h.upper {
		b += int64(cap(u)) * 4
	}
	b += int64(len(h.pos)) * mapEntryBytes
	return b
}

func (h *HNSW) vec(i uint32) []float32 {
	d := h.dim
	return h.vecs[int(i)*d : int(i+1)*d : int(i+1)*d]
}

// links returns node i's neighbour list on layer lc: element 0 is the count.
func (h *HNSW) links(i uint32, lc int) []uint32 {
	if lc == 0 {
		s := h.m0 + 1
		return h.links0[int(i)*s : int(i+1)*s : int(i+1)*s]
	}
	s := h.cfg.M + 1
	return h.upper[i][(lc-1)*s : lc*s : lc*s]
}

// randomLevel draws node levels from the geometric distribution of the paper
// (P(level ≥ l) = M^-l), from a hash of (seed, node number) so a build is
// reproducible whatever the insertion order.
func (h *HNSW) randomLevel(node uint64) int {
	x := splitmix64(h.cfg.Seed ^ splitmix64(node+0x9e3779b97f4a7c15))
	u := (float64(x>>11) + 0.5) / (1 << 53) // (0,1)
	l := int(-math.Log(u) * h.mL)
	return min(l, maxLevelCap)
}

func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// sequentialPrefix is how many nodes of a graph Add inserts one at a time before it goes parallel.
const sequentialPrefix = 1024

// Add implements Index. Items are inserted in parallel (cfg.Workers); the
// call holds the index exclusively until all are linked.
func (h *HNSW) Add(items ...Item) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(items) == 0 {
		return nil
	}
	first := len(h.ids)
	if first+len(items) > maxRows {
		return fmt.Errorf("search: index would exceed %d items", maxRows)
	}
	h.grow(len(items))
	n0, add := len(h.vecs), len(items)*h.dim
	if err := validateItems(h.vecs[n0:n0+add], items, h.dim, func(id uint64) bool { _, ok := h.pos[id]; return ok }); err != nil {
		return err
	}
	h.vecs = h.vecs[:n0+add]
	for j, it := range items {
		i := uint32(first + j)
		h.ids = append(h.ids, it.ID)
		h.meta = append(h.meta, it.Metadata)
		h.deleted = append(h.deleted, false)
		lvl := h.randomLevel(uint64(i))
		h.level = append(h.level, uint8(lvl))
		h.links0 = append(h.links0, make([]uint32, h.m0+1)...)
		if lvl > 0 {
			h.upper = append(h.upper, make([]uint32, lvl*(h.cfg.M+1)))
		} else {
			h.upper = append(h.upper, nil)
		}
		h.pos[it.ID] = i
	}
	// One lock per node; the old ones are all unlocked here (we hold h.mu
	// exclusively), so a fresh slice is equivalent.
	h.locks = make([]sync.Mutex, len(h.ids))

	workers := h.cfg.Workers
	if workers == 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	n := len(items)
	// The first nodes of a graph go in one at a time: inserted concurrently into a graph that has
	// almost no links yet, they all find only the entry point, link to it alone, and its pruning
	// then leaves some with no incoming link at all, unreachable (recall@10 fell to 0.5-0.65 on
	// 300 points with 8-32 workers; TestParallelBuildKeepsRecall). Past a few hundred nodes a new
	// node finds real neighbours, and parallel inserts build as good a graph as sequential ones.
	start := 0
	for ; start < n && first+start < sequentialPrefix; start++ {
		h.insert(uint32(first + start))
	}
	workers = min(workers, n-start)
	if workers <= 1 {
		for j := start; j < n; j++ {
			h.insert(uint32(first + j))
		}
		return nil
	}
	var next atomic.Int64
	next.Store(int64(start))
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Go(func() {
			for {
				j := int(next.Add(1) - 1)
				if j >= n {
					return
				}
				h.insert(uint32(first + j))
			}
		})
	}
	wg.Wait()
	return nil
}

// Reserve makes room for n more items without reallocating, so a collection
// added in several Add calls does not copy its vectors repeatedly.
func (h *HNSW) Reserve(n int) {
	if n <= 0 {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.grow(n)
}

// grow reserves capacity for extra nodes.
func (h *HNSW) grow(extra int) {
	h.vecs = slices.Grow(h.vecs, extra*h.dim)
	h.links0 = slices.Grow(h.links0, extra*(h.m0+1))
	h.ids = slices.Grow(h.ids, extra)
	h.meta = slices.Grow(h.meta, extra)
	h.deleted = slices.Grow(h.deleted, extra)
	h.level = slices.Grow(h.level, extra)
	h.upper = slices.Grow(h.upper, extra)
}

// insert links node i (whose vector, level and empty lists exist) into the graph.
func (h *HNSW) insert(i uint32) {
	q := h.vec(i)
	l := int(h.level[i])

	h.epMu.Lock()
	if !h.hasEntry {
		h.entry, h.maxLevel, h.hasEntry = i, l, true
		h.epMu.Unlock()
		return
	}
	ep, maxL := h.entry, h.maxLevel
	holdEP := l > maxL // a new top node: keep others from using the stale entry
	if !holdEP {
		h.epMu.Unlock()
	}

	cur := ep
	curD := -dot(q, h.vec(cur))
	for lc := maxL; lc > l; lc-- {
		cur, curD = h.greedy(q, cur, curD, lc, true)
	}
	vs := h.getVisited()
	var cand minHeap
	var res maxHeap
	var sel []distNode
	for lc := min(l, maxL); lc >= 0; lc-- {
		w := h.searchLayer(q, distNode{curD, cur}, h.cfg.EfConstruction, lc, true, false, vs, &cand, &res)
		// w is sorted closest first.
		sel = h.selectNeighbors(w, h.cfg.M, sel[:0])
		h.locks[i].Lock()
		lst := h.links(i, lc)
		lst[0] = uint32(len(sel))
		for j, s := range sel {
			lst[1+j] = s.id
		}
		h.locks[i].Unlock()
		for _, s := range sel {
			h.connect(s.id, i, s.d, lc)
		}
		cur, curD = w[0].id, w[0].d
	}
	h.putVisited(vs)
	if holdEP {
		h.entry, h.maxLevel = i, l
		h.epMu.Unlock()
	}
}

// greedy walks layer lc from cur to a local minimum of the distance to q.
func (h *HNSW) greedy(q []float32, cur uint32, curD float32, lc int, locking bool) (uint32, float32) {
	var buf [257]uint32
	for changed := true; changed; {
		changed = false
		nb := h.neighbors(cur, lc, locking, buf[:])
		for _, c := range nb {
			if d := -dot(q, h.vec(c)); d < curD {
				cur, curD, changed = c, d, true
			}
		}
	}
	return cur, curD
}

// neighbors returns node i's neighbours on layer lc; when locking (inserts
// running concurrently) it copies them into buf under the node's lock.
func (h *HNSW) neighbors(i uint32, lc int, locking bool, buf []uint32) []uint32 {
	if !locking {
		l := h.links(i, lc)
		return l[1 : 1+l[0]]
	}
	h.locks[i].Lock()
	l := h.links(i, lc)
	n := copy(buf, l[1:1+l[0]])
	h.locks[i].Unlock()
	return buf[:n]
}

// usePrefetch enables software prefetch in searchLayer (a variable so tests
// and benchmarks can compare).
var usePrefetch = true

// searchLayer is the beam search of the paper (algorithm 2) on layer lc from
// entry ep with beam ef. With skipDeleted, tombstoned nodes are traversed but
// not returned. It returns the result set sorted closest first; the slice
// aliases res.
func (h *HNSW) searchLayer(q []float32, ep distNode, ef, lc int, locking, skipDeleted bool,
	vs *visitedSet, cand *minHeap, res *maxHeap) []distNode {
	vs.reset(len(h.ids))
	*cand = (*cand)[:0]
	*res = (*res)[:0]
	vs.visit(ep.id)
	cand.push(ep)
	if !skipDeleted || !h.deleted[ep.id] {
		res.push(ep)
	}
	var buf, fresh [513]uint32
	for len(*cand) > 0 {
		c := cand.pop()
		if len(*res) >= ef && c.d > res.top().d {
			break
		}
		// Pass 1: collect unvisited neighbours and prefetch their vectors;
		// pass 2: score them.
		nf := 0
		for _, nb := range h.neighbors(c.id, lc, locking, buf[:]) {
			if !vs.visit(nb) {
				fresh[nf] = nb
				nf++
				if usePrefetch {
					prefetch(h.vec(nb))
				}
			}
		}
		for _, nb := range fresh[:nf] {
			d := -dot(q, h.vec(nb))
			if len(*res) < ef || d < res.top().d {
				cand.push(distNode{d, nb})
				if !skipDeleted || !h.deleted[nb] {
					res.push(distNode{d, nb})
					if len(*res) > ef {
						res.pop()
					}
				}
			}
		}
	}
	out := res.restore()
	slices.SortFunc(out, func(a, b distNode) int {
		switch {
		case a.d < b.d:
			return -1
		case a.d > b.d:
			return 1
		}
		return int(a.id) - int(b.id)
	})
	return out
}

// selectNeighbors is the paper's heuristic (algorithm 4, no extension, no
// pruned-connection refill): walking candidates closest first, keep one only
// if it is closer to the base than to every neighbour already kept. This
// spreads links across clusters instead of all into the nearest one.
func (h *HNSW) selectNeighbors(cands []distNode, m int, out []distNode) []distNode {
	if len(cands) <= m {
		return append(out, cands...)
	}
	for _, c := range cands {
		if len(out) >= m {
			break
		}
		good := true
		cv := h.vec(c.id)
		for _, s := range out {
			if -dot(cv, h.vec(s.id)) < c.d {
				good = false
				break
			}
		}
		if good {
			out = append(out, c)
		}
	}
	return out
}

// connect adds the back link src→dst on layer lc (d = their distance),
// shrinking src's list with the heuristic when it is full.
func (h *HNSW) connect(src, dst uint32, d float32, lc int) {
	maxN := h.cfg.M
	if lc == 0 {
		maxN = h.m0
	}
	h.locks[src].Lock()
	defer h.locks[src].Unlock()
	lst := h.links(src, lc)
	cnt := int(lst[0])
	for _, x := range lst[1 : 1+cnt] {
		if x == dst {
			return
		}
	}
	if cnt < maxN {
		lst[1+cnt] = dst
		lst[0]++
		return
	}
	sv := h.vec(src)
	cands := make([]distNode, 0, cnt+1)
	cands = append(cands, distNode{d, dst})
	for _, x := range lst[1 : 1+cnt] {
		cands = append(cands, distNode{-dot(sv, h.vec(x)), x})
	}
	slices.SortFunc(cands, func(a, b distNode) int {
		switch {
		case a.d < b.d:
			return -1
		case a.d > b.d:
			return 1
		}
		return 0
	})
	sel := h.selectNeighbors(cands, maxN, make([]distNode, 0, maxN))
	lst[0] = uint32(len(sel))
	for j, s := range sel {
		lst[1+j] = s.id
	}
}

// visitedSet marks nodes seen by one search with generation tags, so it is
// reset in O(1) (O(n) once every 65535 uses).
type visitedSet struct {
	tag []uint16
	gen uint16
}

func (v *visitedSet) reset(n int) {
	if len(v.tag) < n {
		v.tag = make([]uint16, n+n/4)
		v.gen = 0
	}
	v.gen++
	if v.gen == 0 {
		clear(v.tag)
		v.gen = 1
	}
}

// visit marks i and reports whether it had been visited already.
func (v *visitedSet) visit(i uint32) bool {
	if v.tag[i] == v.gen {
		return true
	}
	v.tag[i] = v.gen
	return false
}

func (h *HNSW) getVisited() *visitedSet {
	if v, ok := h.visited.Get().(*visitedSet); ok {
		return v
	}
	return &visitedSet{}
}

func (h *HNSW) putVisited(v *visitedSet) { h.visited.Put(v) }

// Remove implements Index by tombstoning the items.
func (h *HNSW) Remove(ids ...uint64) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	seen := make(map[uint64]bool, len(ids))
	for _, id := range ids {
		if _, ok := h.pos[id]; !ok || seen[id] {
			return fmt.Errorf("%w: Remove(%d): no such item", ErrNotFound, id)
		}
		seen[id] = true
	}
	for _, id := range ids {
		i := h.pos[id]
		h.deleted[i] = true
		h.meta[i] = nil
		delete(h.pos, id)
		h.nDeleted++
	}
	return nil
}

// Get implements Index.
func (h *HNSW) Get(id uint64) ([]float32, map[string]string, bool) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	i, ok := h.pos[id]
	if !ok {
		return nil, nil, false
	}
	return append([]float32(nil), h.vec(i)...), h.meta[i], true
}

// Search implements Index with the configured EfSearch.
func (h *HNSW) Search(q []float32, k int) ([]Result, error) {
	return h.SearchEf(q, k, 0)
}

// SearchEf is Search with beam width ef (0 = the configured EfSearch); the
// beam actually used is max(ef, k). Larger ef: higher recall, slower.
func (h *HNSW) SearchEf(q []float32, k, ef int) ([]Result, error) {
	if err := checkK(k); err != nil {
		return nil, err
	}
	if ef < 0 || ef > 1<<16 {
		return nil, fmt.Errorf("search: ef must be in [0, 65536], got %d", ef)
	}
	qn, err := normalizedQuery(q, h.dim, named("query"))
	if err != nil {
		return nil, err
	}
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.search(qn, k, ef), nil
}

func (h *HNSW) search(q []float32, k, ef int) []Result {
	if !h.hasEntry || len(h.ids) == h.nDeleted {
		return nil
	}
	if ef == 0 {
		ef = h.cfg.EfSearch
	}
	ef = max(ef, k)
	cur := h.entry
	curD := -dot(q, h.vec(cur))
	for lc := h.maxLevel; lc > 0; lc-- {
		cur, curD = h.greedy(q, cur, curD, lc, false)
	}
	vs := h.getVisited()
	var cand minHeap
	var res maxHeap
	cand = make(minHeap, 0, 4*ef)
	res = make(maxHeap, 0, ef+1)
	w := h.searchLayer(q, distNode{curD, cur}, ef, 0, false, true, vs, &cand, &res)
	h.putVisited(vs)
	if len(w) > k {
		w = w[:k]
	}
	out := make([]Result, len(w))
	for j, c := range w {
		out[j] = Result{ID: h.ids[c.id], Score: -c.d, Metadata: h.meta[c.id]}
	}
	return out
}

// SearchBatch implements Index: queries run in parallel on GOMAXPROCS goroutines.
func (h *HNSW) SearchBatch(qs [][]float32, k int) ([][]Result, error) {
	return h.SearchBatchEf(qs, k, 0)
}

// SearchBatchEf is SearchBatch with beam width ef (0 = configured EfSearch).
func (h *HNSW) SearchBatchEf(qs [][]float32, k, ef int) ([][]Result, error) {
	if err := checkK(k); err != nil {
		return nil, err
	}
	if ef < 0 || ef > 1<<16 {
		return nil, fmt.Errorf("search: ef must be in [0, 65536], got %d", ef)
	}
	qn := make([][]float32, len(qs))
	for i, q := range qs {
		var err error
		if qn[i], err = normalizedQuery(q, h.dim, queryName(i)); err != nil {
			return nil, err
		}
	}
	h.mu.RLock()
	defer h.mu.RUnlock()
	out := make([][]Result, len(qs))
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < min(runtime.GOMAXPROCS(0), len(qs)); w++ {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(qs) {
					return
				}
				out[i] = h.search(qn[i], k, ef)
			}
		})
	}
	wg.Wait()
	return out, nil
}

// Compact rebuilds the graph from the live items, dropping tombstones. It
// costs as much as building the index anew.
func (h *HNSW) Compact() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.nDeleted == 0 {
		return nil
	}
	fresh := newHNSW(h.dim, h.cfg)
	items := make([]Item, 0, len(h.ids)-h.nDeleted)
	for i := range h.ids {
		if !h.deleted[i] {
			items = append(items, Item{ID: h.ids[i], Vector: h.vec(uint32(i)), Metadata: h.meta[i]})
		}
	}
	if err := fresh.Add(items...); err != nil {
		return err
	}
	h.vecs, h.ids, h.meta, h.pos = fresh.vecs, fresh.ids, fresh.meta, fresh.pos
	h.deleted, h.nDeleted, h.level, h.links0, h.upper = fresh.deleted, 0, fresh.level, fresh.links0, fresh.upper
	h.locks = fresh.locks
	h.entry, h.maxLevel, h.hasEntry = fresh.entry, fresh.maxLevel, fresh.hasEntry
	return nil
}
