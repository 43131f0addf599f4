package search

// distNode pairs a node with its distance to the current query
// (distance = −inner product, smaller is closer).
type distNode struct {
	d  float32
	id uint32
}

// minHeap pops the closest node first (HNSW candidate queue).
type minHeap []distNode

func (h *minHeap) push(x distNode) {
	*h = append(*h, x)
	s := *h
	i := len(s) - 1
	for i > 0 {
		p := (i - 1) / 2
		if s[p].d <= s[i].d {
			break
		}
		s[p], s[i] = s[i], s[p]
		i = p
	}
}

func (h *minHeap) pop() distNode {
	s := *h
	top := s[0]
	n := len(s) - 1
	s[0] = s[n]
	s = s[:n]
	i := 0
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		m := l
		if r := l + 1; r < n && s[r].d < s[l].d {
			m = r
		}
		if s[i].d <= s[m].d {
			break
		}
		s[i], s[m] = s[m], s[i]
		i = m
	}
	*h = s
	return top
}

// maxHeap keeps the furthest node on top (HNSW result set of size ef): a minHeap over negated
// distances, so the two queues share one sift implementation. Its elements hold -d; call
// restore on the slice before reading distances from it directly.
type maxHeap []distNode

func (h *maxHeap) push(x distNode) { x.d = -x.d; (*minHeap)(h).push(x) }

func (h *maxHeap) pop() distNode { x := (*minHeap)(h).pop(); x.d = -x.d; return x }

func (h maxHeap) top() distNode { x := h[0]; x.d = -x.d; return x }

// restore turns the stored (negated) distances back into distances, in place, and returns the
// nodes (in heap order); h must not be used as a heap afterwards until it is reset.
func (h maxHeap) restore() []distNode {
	for i := range h {
		h[i].d = -h[i].d
	}
	return h
}
