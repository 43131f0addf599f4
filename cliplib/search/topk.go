package search

import "sort"

// scored is a candidate: an internal row/node index and its similarity.
type scored struct {
	score float32
	idx   uint32
}

// topK keeps the k highest scores seen so far in a binary min-heap (the root
// is the worst kept score), so a candidate that cannot enter costs one compare.
type topK struct {
	k int
	h []scored
}

func newTopK(k int) *topK { return &topK{k: k, h: make([]scored, 0, k)} }

// push offers a candidate.
func (t *topK) push(score float32, idx uint32) {
	if len(t.h) < t.k {
		t.h = append(t.h, scored{score, idx})
		// sift up
		i := len(t.h) - 1
		for i > 0 {
			p := (i - 1) / 2
			if t.h[p].score <= t.h[i].score {
				break
			}
			t.h[p], t.h[i] = t.h[i], t.h[p]
			i = p
		}
		return
	}
	if score <= t.h[0].score {
		return
	}
	t.h[0] = scored{score, idx}
	t.siftDown(0)
}

func (t *topK) siftDown(i int) {
	n := len(t.h)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && t.h[r].score < t.h[l].score {
			m = r
		}
		if t.h[i].score <= t.h[m].score {
			return
		}
		t.h[i], t.h[m] = t.h[m], t.h[i]
		i = m
	}
}

// sorted returns the kept candidates, best first (ties by lower idx first,
// so results are deterministic).
func (t *topK) sorted() []scored {
	out := append([]scored(nil), t.h...)
	sortScored(out)
	return out
}

func sortScored(s []scored) {
	sort.Slice(s, func(i, j int) bool {
		if s[i].score != s[j].score {
			return s[i].score > s[j].score
		}
		return s[i].idx < s[j].idx
	})
}
