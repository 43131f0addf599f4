package search

import (
	"errors"
	"fmt"
	"math"
)

// Result is one search hit.
type Result struct {
	// ID is the caller's identifier given to Add.
	ID uint64
	// Score is the inner product of the (normalised) query and item vectors,
	// i.e. their cosine similarity, in [-1, 1]; higher is more similar.
	Score float32
	// Metadata is the item's metadata as given to Add (shared, do not modify).
	Metadata map[string]string
}

// Item is one vector to add to an index.
type Item struct {
	// ID identifies the item; it must be unique within an index.
	ID uint64
	// Vector is the embedding, shape [dim]. It is copied and L2-normalised.
	Vector []float32
	// Metadata is optional free-form data returned with results (e.g. "path",
	// "caption", "label"). It is kept by reference, so do not modify it later.
	Metadata map[string]string
}

// Index is what both Exact and HNSW implement. All methods are safe for
// concurrent use: searches run in parallel with each other, Add and Remove
// take exclusive access.
type Index interface {
	// Dim is the vector dimension the index was created with.
	Dim() int
	// Len is the number of live (not removed) items.
	Len() int
	// Add inserts items; it validates all of them before inserting any.
	Add(items ...Item) error
	// Remove deletes the items with the given IDs; unknown IDs are an error
	// (nothing is removed then).
	Remove(ids ...uint64) error
	// Get returns a copy of the stored (normalised) vector and the metadata of id.
	Get(id uint64) (vec []float32, meta map[string]string, ok bool)
	// Search returns the k items most similar to q (shape [dim]), best first.
	Search(q []float32, k int) ([]Result, error)
	// SearchBatch runs Search for each query, shape [numQueries][dim].
	SearchBatch(qs [][]float32, k int) ([][]Result, error)
	// Save writes the index to path crash-safely (temp file, fsync, rename).
	Save(path string) error
}

// Errors callers can test with errors.Is.
var (
	// ErrDim means a vector's length differs from the index dimension.
	ErrDim = errors.New("search: vector dimension mismatch")
	// ErrInvalidVector means a vector has NaN/Inf entries or is all zeros.
	ErrInvalidVector = errors.New("search: invalid vector")
	// ErrDuplicateID means Add was given an ID that is already in the index
	// (or twice in the same call).
	ErrDuplicateID = errors.New("search: duplicate id")
	// ErrNotFound means Remove was given an ID that is not in the index.
	ErrNotFound = errors.New("search: id not found")
	// ErrBadFile means a file is not a valid index file of this format:
	// foreign, truncated, corrupted or from an unknown format version.
	ErrBadFile = errors.New("search: bad index file")
)

// maxDim bounds the vector dimension (sanity limit for headers and configs).
const maxDim = 1 << 16

// normalizeInto validates v (length dim, finite, non-zero) and writes
// v/‖v‖₂ into dst. name names the vector in errors (e.g. "item 3 (id 42)");
// it is only called on error, so the happy path does not format strings.
//
// Policy: vectors need not be normalised on input, they are normalised here
// (CLIP towers may or may not normalise their output); only vectors that
// cannot be normalised are rejected.
func normalizeInto(dst, v []float32, dim int, name func() string) error {
	if len(v) != dim {
		return fmt.Errorf("%w: %s has length %d, index dimension is %d", ErrDim, name(), len(v), dim)
	}
	var ss float64
	for i, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return fmt.Errorf("%w: %s has non-finite value %v at index %d", ErrInvalidVector, name(), x, i)
		}
		ss += float64(x) * float64(x)
	}
	if ss == 0 || math.IsInf(ss, 0) {
		return fmt.Errorf("%w: %s has norm %g, cannot normalise (want a non-zero finite vector)", ErrInvalidVector, name(), math.Sqrt(ss))
	}
	inv := 1 / math.Sqrt(ss)
	for i, x := range v {
		dst[i] = float32(float64(x) * inv)
	}
	return nil
}

// named returns a constant error name.
func named(s string) func() string { return func() string { return s } }

// queryName names query i of a batch in errors.
func queryName(i int) func() string { return func() string { return fmt.Sprintf("query %d", i) } }

// normalizedQuery returns a normalised copy of q.
func normalizedQuery(q []float32, dim int, name func() string) ([]float32, error) {
	out := make([]float32, dim)
	if err := normalizeInto(out, q, dim, name); err != nil {
		return nil, err
	}
	return out, nil
}

func checkK(k int) error {
	if k <= 0 {
		return fmt.Errorf("search: k must be > 0, got %d", k)
	}
	return nil
}

func checkDim(dim int) error {
	if dim <= 0 || dim > maxDim {
		return fmt.Errorf("search: dimension must be in [1, %d], got %d", maxDim, dim)
	}
	return nil
}

// validateItems checks a batch for bad vectors and duplicate IDs (within the
// batch and against exists) and writes the normalised vectors, row-major,
// into dst (length len(items)*dim). Callers pass spare capacity of their
// vector storage as dst, so a large Add needs no temporary copy; on error
// nothing has been committed.
func validateItems(dst []float32, items []Item, dim int, exists func(uint64) bool) error {
	seen := make(map[uint64]int, len(items))
	for i, it := range items {
		name := func() string { return fmt.Sprintf("item %d (id %d)", i, it.ID) }
		if exists(it.ID) {
			return fmt.Errorf("%w: %s is already in the index (Remove it first to replace it)", ErrDuplicateID, name())
		}
		if j, dup := seen[it.ID]; dup {
			return fmt.Errorf("%w: %s repeats item %d of the same call", ErrDuplicateID, name(), j)
		}
		seen[it.ID] = i
		if err := normalizeInto(dst[i*dim:(i+1)*dim], it.Vector, dim, name); err != nil {
			return err
		}
	}
	return nil
}

// Overlap counts the results of got whose ID is among want's: recall@k of got against the true
// neighbours want is Overlap(got, want) / len(want).
func Overlap(got, want []Result) int {
	ids := make(map[uint64]bool, len(want))
	for _, w := range want {
		ids[w.ID] = true
	}
	c := 0
	for _, g := range got {
		if ids[g.ID] {
			c++
		}
	}
	return c
}
