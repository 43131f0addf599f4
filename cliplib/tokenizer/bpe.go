package tokenizer

import (
	"slices"
	"sync"
	"sync/atomic"
	"unicode/utf8"
)

// mergeKey packs an adjacent symbol pair (two token ids) into one map key.
func mergeKey(left, right int32) uint64 { return uint64(uint32(left))<<32 | uint64(uint32(right)) }

// merge is one BPE rule: its rank (lower merges first) and the id of the merged symbol.
type merge struct {
	rank int32
	id   int32
}

// bpeWord runs byte-level BPE on one pre-tokenised piece and appends the token ids to dst.
//
// The algorithm is open_clip's SimpleTokenizer.bpe on token ids instead of strings: the
// symbols start as the piece's bytes, the last one carrying "</w>"; then, as long as some
// adjacent pair has a merge rule, the pair with the lowest rank is merged at every
// non-overlapping occurrence, scanning left to right.
func (t *Tokenizer) bpeWord(dst []int32, piece string) []int32 {
	n := len(piece)
	if n == 1 {
		return append(dst, t.byteEndTok[piece[0]])
	}
	var buf [32]int32
	word := buf[:0]
	for i := 0; i < n-1; i++ {
		word = append(word, t.byteTok[piece[i]])
	}
	word = append(word, t.byteEndTok[piece[n-1]])
	if n > longWord && t.wellFounded {
		return append(dst, t.bpeHeap(word)...)
	}
	return append(dst, t.bpeRounds(word)...)
}

// longPiece is the piece length (bytes) above which Tokenize tokenises a piece from a prefix.
const longPiece = 4096

// bpePrefix appends the first need ids of the BPE of a long piece without running BPE on all of
// it (a piece can be megabytes of letters, and BPE's memory grows with its length). BPE merges
// are local: the first tokens of a piece depend only on its beginning, unless a chain of competing
// merges runs across the cut. So the piece is tokenised from a prefix of w bytes and from one of
// 2w bytes, w = longPiece, 2·longPiece, ...; when both give more than need ids and agree on the
// first need, those are the result; a prefix is never cut inside a UTF-8 sequence, and at worst
// (w reaching the piece's length) the whole piece is tokenised.
func (t *Tokenizer) bpePrefix(dst []int32, piece string, need int) []int32 {
	if need <= 0 {
		return dst
	}
	prefix := func(w int) []int32 {
		if w >= len(piece) {
			return t.bpeWord(nil, piece)
		}
		for w > 0 && !utf8.RuneStart(piece[w]) {
			w--
		}
		// A prefix has no word end: every byte is a non-final symbol.
		word := make([]int32, w)
		for i := range w {
			word[i] = t.byteTok[piece[i]]
		}
		if t.wellFounded {
			return t.bpeHeap(word)
		}
		return t.bpeRounds(word)
	}
	a := prefix(longPiece)
	for w := longPiece; ; w *= 2 {
		if w >= len(piece) {
			return append(dst, a[:min(need, len(a))]...)
		}
		b := prefix(2 * w)
		if len(a) > need && len(b) > need && slices.Equal(a[:need], b[:need]) {
			return append(dst, a[:need]...)
		}
		a = b
	}
}

// longWord is the piece length (bytes) above which bpeWord uses bpeHeap.
const longWord = 64

// bpeRounds is the direct form of open_clip's loop: each round scans all pairs for the lowest
// rank and rewrites the word. It is O(n) per round and O(n²) per word, fastest for short words.
func (t *Tokenizer) bpeRounds(word []int32) []int32 {
	for len(word) > 1 {
		bestRank, bestPos := int32(-1), -1
		for i := 0; i+1 < len(word); i++ {
			if m, ok := t.merges[mergeKey(word[i], word[i+1])]; ok && (bestPos < 0 || m.rank < bestRank) {
				bestRank, bestPos = m.rank, i
			}
		}
		if bestPos < 0 {
			break
		}
		first, second := word[bestPos], word[bestPos+1]
		merged := t.merges[mergeKey(first, second)].id
		out := word[:bestPos] // merge in place: the write index never passes the read index
		for i := bestPos; i < len(word); {
			if i+1 < len(word) && word[i] == first && word[i+1] == second {
				out = append(out, merged)
				i += 2
			} else {
				out = append(out, word[i])
				i++
			}
		}
		word = out
	}
	return word
}

// bpeHeap gives the same result as bpeRounds in O(n log n), for long words (open_clip's loop is
// quadratic: a 10,000-letter word takes seconds). Pairs wait in a heap ordered by (rank,
// position) over a linked list of symbols. When the merge list is well-founded (every merge's
// symbols are made by lower-ranked merges, see build), a merge only creates pairs of higher
// rank, so popping by rank handles all occurrences of the lowest-ranked pair before any other,
// left to right, exactly as one round of bpeRounds does, overlaps ("a a a") included.
func (t *Tokenizer) bpeHeap(word []int32) []int32 {
	n := len(word)
	next := make([]int32, n) // index of the next live symbol, or -1
	prev := make([]int32, n) // index of the previous live symbol, or -1
	for i := range n {
		next[i], prev[i] = int32(i+1), int32(i-1)
	}
	next[n-1] = -1
	h := pairHeap{}
	push := func(i int32) {
		if i < 0 || next[i] < 0 {
			return
		}
		if m, ok := t.merges[mergeKey(word[i], word[next[i]])]; ok {
			h.push(heapPair{rank: m.rank, pos: i, left: word[i], right: word[next[i]]})
		}
	}
	for i := range n - 1 {
		push(int32(i))
	}
	for h.len() > 0 {
		p := h.pop()
		r := next[p.pos]
		// Skip pairs that merges since then have changed: symbols only grow, so a changed
		// symbol never equals the recorded one again.
		if word[p.pos] != p.left || r < 0 || word[r] != p.right || prev[p.pos] == -2 {
			continue
		}
		word[p.pos] = t.merges[mergeKey(p.left, p.right)].id
		next[p.pos] = next[r]
		if next[r] >= 0 {
			prev[next[r]] = p.pos
		}
		prev[r], next[r] = -2, -1 // r is gone
		push(prev[p.pos])
		push(p.pos)
	}
	out := word[:0]
	for i := int32(0); i >= 0; i = next[i] {
		out = append(out, word[i])
	}
	return out
}

// heapPair is a candidate merge of the symbols at pos and its successor.
type heapPair struct {
	rank, pos   int32
	left, right int32
}

// pairHeap is a binary min-heap of heapPair ordered by (rank, pos).
type pairHeap struct{ a []heapPair }

func (h *pairHeap) len() int { return len(h.a) }

func (h *pairHeap) less(i, j int) bool {
	return h.a[i].rank < h.a[j].rank || h.a[i].rank == h.a[j].rank && h.a[i].pos < h.a[j].pos
}

func (h *pairHeap) push(p heapPair) {
	h.a = append(h.a, p)
	for i := len(h.a) - 1; i > 0; {
		parent := (i - 1) / 2
		if !h.less(i, parent) {
			break
		}
		h.a[i], h.a[parent] = h.a[parent], h.a[i]
		i = parent
	}
}

func (h *pairHeap) pop() heapPair {
	top := h.a[0]
	last := len(h.a) - 1
	h.a[0] = h.a[last]
	h.a = h.a[:last]
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < last && h.less(l, m) {
			m = l
		}
		if r < last && h.less(r, m) {
			m = r
		}
		if m == i {
			break
		}
		h.a[i], h.a[m] = h.a[m], h.a[i]
		i = m
	}
	return top
}

// wordCache is a bounded, concurrency-safe cache from piece to BPE ids: a sync.Map (lock-free
// reads, which matters when TokenizeBatch's goroutines share it) with an approximate entry
// count. When the count reaches the bound the map is replaced by an empty one: simple, no
// per-entry bookkeeping, and the hot pieces of a prompt set come back at once.
type wordCache struct {
	max int
	m   atomic.Pointer[sync.Map]
	n   atomic.Int64
}

// newWordCache returns a cache holding at most about maxEntries pieces (0 disables caching).
func newWordCache(maxEntries int) *wordCache {
	c := &wordCache{max: maxEntries}
	c.m.Store(&sync.Map{})
	return c
}

func (c *wordCache) get(piece string) ([]int32, bool) {
	if c.max == 0 {
		return nil, false
	}
	v, ok := c.m.Load().Load(piece)
	if !ok {
		return nil, false
	}
	return v.([]int32), true
}

func (c *wordCache) put(piece string, ids []int32) {
	if c.max == 0 {
		return
	}
	if c.n.Add(1) > int64(c.max) {
		c.m.Store(&sync.Map{})
		c.n.Store(1)
	}
	c.m.Load().Store(piece, ids)
}

// len returns the number of cached pieces.
func (c *wordCache) len() int {
	n := 0
	c.m.Load().Range(func(any, any) bool { n++; return true })
	return n
}
