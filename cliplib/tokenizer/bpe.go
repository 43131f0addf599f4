package tokenizer

import (
	"hash/maphash"
	"sync"
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
	return append(dst, word...)
}

// wordCache is a bounded, concurrency-safe cache from piece to BPE ids. It is split into shards
// with one lock each; a shard that reaches its share of the bound is emptied (simple, no
// per-entry bookkeeping, and the hot entries of CLIP prompts come back at once).
type wordCache struct {
	seed     maphash.Seed
	perShard int
	shards   [cacheShards]cacheShard
}

const cacheShards = 16

type cacheShard struct {
	mu sync.RWMutex
	m  map[string][]int32
}

// newWordCache returns a cache holding at most maxEntries pieces (0 disables caching).
func newWordCache(maxEntries int) *wordCache {
	c := &wordCache{seed: maphash.MakeSeed(), perShard: (maxEntries + cacheShards - 1) / cacheShards}
	for i := range c.shards {
		c.shards[i].m = map[string][]int32{}
	}
	return c
}

func (c *wordCache) shard(piece string) *cacheShard {
	return &c.shards[maphash.String(c.seed, piece)%cacheShards]
}

func (c *wordCache) get(piece string) ([]int32, bool) {
	if c.perShard == 0 {
		return nil, false
	}
	s := c.shard(piece)
	s.mu.RLock()
	ids, ok := s.m[piece]
	s.mu.RUnlock()
	return ids, ok
}

func (c *wordCache) put(piece string, ids []int32) {
	if c.perShard == 0 {
		return
	}
	s := c.shard(piece)
	s.mu.Lock()
	if len(s.m) >= c.perShard {
		s.m = make(map[string][]int32, c.perShard)
	}
	s.m[piece] = ids
	s.mu.Unlock()
}

// len returns the number of cached pieces.
func (c *wordCache) len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		n += len(s.m)
		s.mu.RUnlock()
	}
	return n
}
