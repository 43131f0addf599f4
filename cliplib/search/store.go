package search

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// Store is a place embeddings live in and are searched: the in-process
// index (LocalStore, the default) or an external engine such as Milvus
// (package cliplib/search/milvus). Every store returns the same Result
// type, so callers (clipx search, the image-search facade) do not care
// which one they talk to.
//
// Unlike Index, a Store upserts (an ID that is already stored is
// replaced, so re-running an ingest adds nothing twice), searches with an
// optional metadata filter, and takes a context (an external store is
// remote: calls can time out or be cancelled).
type Store interface {
	// Dim is the vector dimension of the store.
	Dim() int
	// Upsert inserts items, replacing stored items with the same ID. It
	// validates every item (dimension, finite, non-zero) before storing any.
	Upsert(ctx context.Context, items ...Item) error
	// Search returns the k items most similar to q whose metadata matches
	// filter (nil: no filter), best first; Score is the cosine similarity.
	Search(ctx context.Context, q []float32, k int, filter Filter) ([]Result, error)
	// Delete removes the items with the given IDs; IDs not stored are ignored.
	Delete(ctx context.Context, ids ...uint64) error
	// Count is the number of stored items.
	Count(ctx context.Context) (int, error)
	// Close releases the store (and, for LocalStore with a file, saves it).
	Close() error
}

// Filter selects items by metadata: every key must be present in an
// item's metadata with exactly the given value (an AND of equalities). A
// nil or empty Filter matches everything.
type Filter map[string]string

// Matches reports whether meta satisfies f.
func (f Filter) Matches(meta map[string]string) bool {
	for k, v := range f {
		if got, ok := meta[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// ParseFilter parses "key=value,key2=value2" into a Filter. Keys must be
// metadata names (letters, digits, '_', starting with a letter or '_');
// values may be any text without ','. An empty string is no filter.
func ParseFilter(s string) (Filter, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	f := Filter{}
	for _, part := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(part, "=")
		k = strings.TrimSpace(k)
		if !ok {
			return nil, fmt.Errorf("search: filter %q: %q is not key=value", s, part)
		}
		if err := CheckMetadataKey(k); err != nil {
			return nil, fmt.Errorf("search: filter %q: %w", s, err)
		}
		if _, dup := f[k]; dup {
			return nil, fmt.Errorf("search: filter %q: key %q given twice", s, k)
		}
		f[k] = v
	}
	return f, nil
}

// CheckMetadataKey returns an error unless k is a usable metadata key for
// filters: non-empty, at most 64 bytes, ASCII letters, digits and '_', not
// starting with a digit (external stores put keys into query expressions).
func CheckMetadataKey(k string) error {
	if k == "" || len(k) > 64 {
		return fmt.Errorf("metadata key %q: want 1 to 64 characters", k)
	}
	for i, r := range k {
		ok := r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (i > 0 && r >= '0' && r <= '9')
		if !ok {
			return fmt.Errorf("metadata key %q: want ASCII letters, digits and '_', not starting with a digit", k)
		}
	}
	return nil
}

// Normalize returns v/‖v‖₂, or an error wrapping ErrDim or ErrInvalidVector
// (naming the vector by name) when v has the wrong length, NaN/Inf entries
// or zero norm: the validation every Store applies before storing.
func Normalize(v []float32, dim int, name string) ([]float32, error) {
	out := make([]float32, dim)
	if err := normalizeInto(out, v, dim, named(name)); err != nil {
		return nil, err
	}
	return out, nil
}

// StoreOptions configure OpenStore. Fields a store kind does not use are
// ignored.
type StoreOptions struct {
	// Dim is the vector dimension (the model's embedding dimension). Opening
	// an existing store of another dimension is an error.
	Dim int
	// Kind of a new in-process index: KindExact (default) or KindHNSW; an
	// external store takes its index type from its URL.
	Kind string
	// HNSW configures a new in-process HNSW index.
	HNSW HNSWConfig
	// MustExist makes opening a store that does not exist yet (no index
	// file, no collection) an error instead of creating it: for queries.
	MustExist bool
}

// ErrNoStore means StoreOptions.MustExist was set and the store does not exist.
var ErrNoStore = errors.New("search: store does not exist")

// In-process index kinds for StoreOptions.Kind.
const (
	KindExact = "exact"
	KindHNSW  = "hnsw"
)

// StoreOpener opens a store of one URL scheme; see RegisterStore.
type StoreOpener func(ctx context.Context, u *url.URL, opt StoreOptions) (Store, error)

var (
	storesMu sync.Mutex
	stores   = map[string]StoreOpener{}
)

// RegisterStore makes OpenStore open URLs of scheme with open (as
// database/sql drivers do: package cliplib/search/milvus registers
// "milvus" and "milvuss" in its init, so only programs that import it link
// the Milvus client). Registering a scheme twice is an error.
func RegisterStore(scheme string, open StoreOpener) error {
	storesMu.Lock()
	defer storesMu.Unlock()
	if scheme == "" || scheme == "file" || scheme == "mem" {
		return fmt.Errorf("search: store scheme %q is reserved", scheme)
	}
	if _, dup := stores[scheme]; dup {
		return fmt.Errorf("search: store scheme %q registered twice", scheme)
	}
	stores[scheme] = open
	return nil
}

// StoreSchemes lists the URL schemes OpenStore accepts, sorted.
func StoreSchemes() []string {
	storesMu.Lock()
	defer storesMu.Unlock()
	out := []string{"file", "mem"}
	for s := range stores {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// ErrUnknownStore means a store URL's scheme has no registered opener.
var ErrUnknownStore = errors.New("search: unknown store")

// OpenStore opens the store a URL names:
//
//   - "" or "mem:" — a new in-process index (StoreOptions.Kind), kept in memory;
//   - a file path or "file:///path" — the in-process index saved in that file
//     (package search's format), loaded if it exists, created otherwise, and
//     saved back by Close;
//   - any registered scheme, e.g. "milvus://host:19530/collection" once
//     package cliplib/search/milvus is imported.
//
// The in-process index is the default: a plain path never reaches the network.
func OpenStore(ctx context.Context, rawURL string, opt StoreOptions) (Store, error) {
	if rawURL == "" || rawURL == "mem:" || rawURL == "mem://" {
		return NewLocalStore(opt)
	}
	scheme, _, hasScheme := strings.Cut(rawURL, "://")
	if !hasScheme || len(scheme) == 1 { // a path (or a Windows drive letter)
		return OpenLocalStore(rawURL, opt)
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("search: store URL %q: %w", Redact(rawURL), err)
	}
	if u.Scheme == "file" {
		if u.Host != "" && u.Host != "localhost" {
			return nil, fmt.Errorf("search: store URL %q: file URLs must be local (file:///path)", rawURL)
		}
		return OpenLocalStore(u.Path, opt)
	}
	storesMu.Lock()
	open, ok := stores[u.Scheme]
	storesMu.Unlock()
	if !ok {
		return nil, fmt.Errorf("%w: store URL %q has scheme %q; this program knows %s", ErrUnknownStore, Redact(rawURL), u.Scheme,
			strings.Join(StoreSchemes(), ", "))
	}
	return open(ctx, u, opt)
}

// Redact returns a store URL with any password and token query parameter
// replaced by "xxxxx", for error messages and logs.
func Redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "(unparsable URL)"
	}
	q := u.Query()
	changed := false
	for _, k := range []string{"token", "password", "api_key"} {
		if q.Has(k) {
			q.Set(k, "xxxxx")
			changed = true
		}
	}
	if changed {
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}

// LocalStore is the in-process index (Exact or HNSW) behind the Store
// interface. Upsert replaces stored IDs (Remove, then Add), filtered search
// widens k until k matches are found or every item was considered, and, when
// opened from a file, Close saves the index back (crash-safely).
type LocalStore struct {
	mu    sync.Mutex // serialises Upsert's remove-then-add
	idx   Index
	path  string // file to save to on Close ("" = memory only)
	dirty bool
}

// NewLocalStore returns an in-memory store over a new index of opt.Kind.
func NewLocalStore(opt StoreOptions) (*LocalStore, error) {
	idx, err := newIndex(opt)
	if err != nil {
		return nil, err
	}
	return &LocalStore{idx: idx}, nil
}

// NewLocalStoreFrom wraps an existing index (nothing is saved on Close).
func NewLocalStoreFrom(idx Index) *LocalStore { return &LocalStore{idx: idx} }

func newIndex(opt StoreOptions) (Index, error) {
	switch opt.Kind {
	case "", KindExact:
		return NewExact(opt.Dim)
	case KindHNSW:
		return NewHNSW(opt.Dim, opt.HNSW)
	}
	return nil, fmt.Errorf("search: unknown index kind %q (want %s or %s)", opt.Kind, KindExact, KindHNSW)
}

// OpenLocalStore loads the index saved at path, or creates a new one (of
// opt.Kind) when path does not exist; Close saves it to path.
func OpenLocalStore(path string, opt StoreOptions) (*LocalStore, error) {
	if path == "" {
		return nil, errors.New("search: local store: empty path")
	}
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		if opt.MustExist {
			return nil, fmt.Errorf("%w: no index file %s", ErrNoStore, path)
		}
		s, err := NewLocalStore(opt)
		if err != nil {
			return nil, err
		}
		s.path = path // written by the first Save after a change
		return s, nil
	}
	idx, err := Load(path)
	if err != nil {
		return nil, err
	}
	if opt.Dim != 0 && idx.Dim() != opt.Dim {
		return nil, fmt.Errorf("%w: store %s holds vectors of dimension %d, want %d", ErrDim, path, idx.Dim(), opt.Dim)
	}
	return &LocalStore{idx: idx, path: path}, nil
}

// Index returns the wrapped index.
func (s *LocalStore) Index() Index { return s.idx }

// Dim implements Store.
func (s *LocalStore) Dim() int { return s.idx.Dim() }

// Upsert implements Store.
func (s *LocalStore) Upsert(ctx context.Context, items ...Item) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	// Validate everything first, so a bad item changes nothing.
	seen := make(map[uint64]int, len(items))
	for i, it := range items {
		if _, err := Normalize(it.Vector, s.idx.Dim(), fmt.Sprintf("item %d (id %d)", i, it.ID)); err != nil {
			return err
		}
		if j, dup := seen[it.ID]; dup {
			return fmt.Errorf("%w: item %d (id %d) repeats item %d of the same call", ErrDuplicateID, i, it.ID, j)
		}
		seen[it.ID] = i
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var old []uint64
	for _, it := range items {
		if _, _, ok := s.idx.Get(it.ID); ok {
			old = append(old, it.ID)
		}
	}
	if len(old) > 0 {
		if err := s.idx.Remove(old...); err != nil {
			return err
		}
	}
	s.dirty = true
	return s.idx.Add(items...)
}

// Search implements Store.
func (s *LocalStore) Search(ctx context.Context, q []float32, k int, filter Filter) ([]Result, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(filter) == 0 {
		return s.idx.Search(q, k)
	}
	if err := checkK(k); err != nil {
		return nil, err
	}
	n := s.idx.Len()
	for kk := max(4*k, 64); ; kk *= 4 {
		kk = min(kk, n)
		res, err := s.idx.Search(q, max(kk, 1))
		if err != nil {
			return nil, err
		}
		out := make([]Result, 0, k)
		for _, r := range res {
			if filter.Matches(r.Metadata) {
				out = append(out, r)
				if len(out) == k {
					return out, nil
				}
			}
		}
		if kk >= n || len(res) < kk {
			return out, nil
		}
	}
}

// Delete implements Store.
func (s *LocalStore) Delete(ctx context.Context, ids ...uint64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var present []uint64
	seen := map[uint64]bool{}
	for _, id := range ids {
		if _, _, ok := s.idx.Get(id); ok && !seen[id] {
			present = append(present, id)
			seen[id] = true
		}
	}
	if len(present) == 0 {
		return nil
	}
	s.dirty = true
	return s.idx.Remove(present...)
}

// Count implements Store.
func (s *LocalStore) Count(ctx context.Context) (int, error) { return s.idx.Len(), ctx.Err() }

// Save writes the index to the store's file now (no-op for a memory store).
func (s *LocalStore) Save() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.path == "" || !s.dirty {
		return nil
	}
	if err := s.idx.Save(s.path); err != nil {
		return err
	}
	s.dirty = false
	return nil
}

// Close implements Store: it saves a file-backed store.
func (s *LocalStore) Close() error { return s.Save() }

// String names the store for messages.
func (s *LocalStore) String() string {
	if s.path == "" {
		return "in-process index (memory, " + strconv.Itoa(s.idx.Len()) + " items)"
	}
	return "in-process index " + s.path
}
