// Package cache holds the text-embedding cache: embeddings of tokenized texts for one model,
// looked up by the exact token ids, bounded in memory by LRU eviction, safe for concurrent use,
// and persisted to one versioned, checksummed file per model so that notebook runs (each GoNB cell
// is a fresh process) and CLI runs share it.
//
// A cache belongs to one model identity (a hash of the weights and the configuration; see
// cliplib.Model.Identity): a file written for another model, an older format, or a corrupt or
// truncated file is detected, reported through the Warn callback, and ignored — it can never
// return another model's vectors.
package cache

import (
	"bufio"
	"bytes"
	"container/list"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"
	"path/filepath"
	"sync"

	"github.com/clipkit/clipkit/internal/atomicfile"
)

// Identity identifies a model: weights and configuration (a SHA-256).
type Identity [32]byte

// String returns the identity in hex.
func (id Identity) String() string { return hex.EncodeToString(id[:]) }

// Options configure a TextCache.
type Options struct {
	// MaxBytes bounds the memory held by embeddings and keys; least recently used entries are
	// evicted beyond it. Default 64 MiB (about 30,000 embeddings of dimension 512).
	MaxBytes int64
	// Path is the file the cache is loaded from (if it exists and is valid) and saved to. Empty
	// means memory only.
	Path string
	// Warn receives messages about cache files that were ignored. Default: standard error.
	Warn func(msg string)
}

// Stats are the counters of a cache.
type Stats struct {
	Hits, Misses int64
	Entries      int
	Bytes        int64 // memory held by keys and vectors
	Evictions    int64
}

// HitRate returns Hits / (Hits + Misses), or 0 before any lookup.
func (s Stats) HitRate() float64 {
	if s.Hits+s.Misses == 0 {
		return 0
	}
	return float64(s.Hits) / float64(s.Hits+s.Misses)
}

// TextCache maps token-id sequences to embeddings for one model.
type TextCache struct {
	id   Identity
	dim  int
	opt  Options
	mu   sync.Mutex
	lru  *list.List // of *entry, most recent first
	byID map[string]*list.Element
	st   Stats
}

type entry struct {
	key string
	vec []float32
}

// New returns an empty cache for embeddings of dimension dim of the model identified by id, then,
// if opt.Path names a valid cache file of the same model, loads it.
func New(id Identity, dim int, opt Options) *TextCache {
	if opt.MaxBytes <= 0 {
		opt.MaxBytes = 64 << 20
	}
	if opt.Warn == nil {
		opt.Warn = func(msg string) { fmt.Fprintln(os.Stderr, "clipkit text cache:", msg) }
	}
	c := &TextCache{id: id, dim: dim, opt: opt, lru: list.New(), byID: map[string]*list.Element{}}
	if opt.Path != "" {
		if err := c.load(opt.Path); err != nil && !errors.Is(err, os.ErrNotExist) {
			opt.Warn(fmt.Sprintf("ignoring %s: %v", opt.Path, err))
			c.lru.Init()
			c.byID = map[string]*list.Element{}
			c.st = Stats{}
		}
	}
	return c
}

// key is the token ids up to the last non-zero one (the padding is implied), as bytes.
func key(ids []int32) string {
	n := len(ids)
	for n > 0 && ids[n-1] == 0 {
		n--
	}
	b := make([]byte, 4*n)
	for i, v := range ids[:n] {
		binary.LittleEndian.PutUint32(b[4*i:], uint32(v))
	}
	return string(b)
}

func entryBytes(key string, dim int) int64 { return int64(len(key) + 4*dim + 64) }

// Get returns a copy of the embedding cached for exactly these token ids.
func (c *TextCache) Get(ids []int32) ([]float32, bool) { return c.GetKey(key(ids)) }

// GetKey is Get for an arbitrary key (e.g. the SHA-256 of an image file's content): a cache
// can hold image embeddings too.
func (c *TextCache) GetKey(k string) ([]float32, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.byID[k]
	if !ok {
		c.st.Misses++
		return nil, false
	}
	c.st.Hits++
	c.lru.MoveToFront(el)
	return append([]float32(nil), el.Value.(*entry).vec...), true
}

// Put stores the embedding of these token ids (copied), evicting the least recently used entries
// beyond the memory bound. Vectors of the wrong dimension or with non-finite values are refused.
func (c *TextCache) Put(ids []int32, vec []float32) { c.PutKey(key(ids), vec) }

// PutKey is Put for an arbitrary key (at most 256 KiB).
func (c *TextCache) PutKey(k string, vec []float32) {
	if len(vec) != c.dim {
		c.opt.Warn(fmt.Sprintf("refusing a vector of dimension %d in a cache of dimension %d", len(vec), c.dim))
		return
	}
	for _, v := range vec {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			c.opt.Warn("refusing a vector with non-finite values")
			return
		}
	}
	if len(k) > 4*maxIDs {
		c.opt.Warn(fmt.Sprintf("refusing a key of %d bytes", len(k)))
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.putLocked(k, append([]float32(nil), vec...))
}

func (c *TextCache) putLocked(k string, vec []float32) {
	if el, ok := c.byID[k]; ok {
		el.Value.(*entry).vec = vec
		c.lru.MoveToFront(el)
		return
	}
	c.byID[k] = c.lru.PushFront(&entry{key: k, vec: vec})
	c.st.Bytes += entryBytes(k, c.dim)
	for c.st.Bytes > c.opt.MaxBytes && c.lru.Len() > 1 {
		last := c.lru.Back()
		e := last.Value.(*entry)
		c.lru.Remove(last)
		delete(c.byID, e.key)
		c.st.Bytes -= entryBytes(e.key, c.dim)
		c.st.Evictions++
	}
}

// Stats returns the counters.
func (c *TextCache) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.st
	s.Entries = c.lru.Len()
	return s
}

// Identity returns the model identity the cache belongs to.
func (c *TextCache) Identity() Identity { return c.id }

// Dim returns the embedding dimension.
func (c *TextCache) Dim() int { return c.dim }

// File format (little-endian):
//
//	magic "CLIPKTXT" | version u32 | identity [32]byte | dim u32 | count u32 |
//	count × (keyLen u32 | key bytes (token ids as int32s, or any key) | dim × float32) |
//	CRC-32C (Castagnoli) of everything before it
const (
	magic   = "CLIPKTXT"
	version = 2
	// maxIDs bounds the token-id count of one entry on load (CLIP contexts are 77).
	maxIDs = 1 << 16
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Path returns the file the cache is loaded from and saved to ("" for a cache kept in memory).
func (c *TextCache) Path() string { return c.opt.Path }

// Save writes the cache to opt.Path (or path, if given) crash-safely: a temporary file in the
// same directory, fsync, then an atomic rename. Entries are written least recent first, so a load
// restores the recency order.
func (c *TextCache) Save(path ...string) error {
	p := c.opt.Path
	if len(path) > 0 {
		p = path[0]
	}
	if p == "" {
		return errors.New("text cache: no file to save to")
	}
	c.mu.Lock()
	var buf bytes.Buffer
	buf.WriteString(magic)
	le := binary.LittleEndian
	_ = binary.Write(&buf, le, uint32(version))
	buf.Write(c.id[:])
	_ = binary.Write(&buf, le, uint32(c.dim))
	_ = binary.Write(&buf, le, uint32(c.lru.Len()))
	for el := c.lru.Back(); el != nil; el = el.Prev() {
		e := el.Value.(*entry)
		_ = binary.Write(&buf, le, uint32(len(e.key)))
		buf.WriteString(e.key)
		_ = binary.Write(&buf, le, e.vec)
	}
	c.mu.Unlock()
	_ = binary.Write(&buf, le, crc32.Checksum(buf.Bytes(), castagnoli))

	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return atomicfile.WriteBytes(p, buf.Bytes(), 0o600)
}

// load reads a cache file, validating everything before using any of it.
func (c *TextCache) load(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if len(data) < len(magic)+4+32+4+4+4 || string(data[:len(magic)]) != magic {
		return errors.New("not a clipkit text cache file")
	}
	body, sum := data[:len(data)-4], binary.LittleEndian.Uint32(data[len(data)-4:])
	if crc32.Checksum(body, castagnoli) != sum {
		return errors.New("checksum mismatch (corrupt or truncated file)")
	}
	r := bufio.NewReader(bytes.NewReader(body[len(magic):]))
	le := binary.LittleEndian
	var ver, dim, count uint32
	var id Identity
	if err := binary.Read(r, le, &ver); err != nil {
		return err
	}
	if ver != version {
		return fmt.Errorf("format version %d, this program reads version %d", ver, version)
	}
	if _, err := io.ReadFull(r, id[:]); err != nil {
		return err
	}
	if id != c.id {
		return fmt.Errorf("it belongs to another model (identity %.16s…, this model %.16s…)", id, c.id)
	}
	if err := binary.Read(r, le, &dim); err != nil {
		return err
	}
	if int(dim) != c.dim {
		return fmt.Errorf("embedding dimension %d, this model's is %d", dim, c.dim)
	}
	if err := binary.Read(r, le, &count); err != nil {
		return err
	}
	for i := uint32(0); i < count; i++ {
		var n uint32
		if err := binary.Read(r, le, &n); err != nil {
			return fmt.Errorf("entry %d: %w", i, err)
		}
		if n > 4*maxIDs {
			return fmt.Errorf("entry %d: key of %d bytes", i, n)
		}
		k := make([]byte, n)
		if _, err := io.ReadFull(r, k); err != nil {
			return fmt.Errorf("entry %d: %w", i, err)
		}
		vec := make([]float32, dim)
		if err := binary.Read(r, le, vec); err != nil {
			return fmt.Errorf("entry %d: %w", i, err)
		}
		c.putLocked(string(k), vec)
	}
	if _, err := r.ReadByte(); err != io.EOF {
		return errors.New("trailing data after the last entry")
	}
	return nil
}

// ParseIdentity parses an Identity from its String form (64 hexadecimal digits).
func ParseIdentity(s string) (Identity, error) {
	var id Identity
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(id) {
		return Identity{}, fmt.Errorf("cache.ParseIdentity(%q): want %d hexadecimal digits", s, 2*len(id))
	}
	copy(id[:], b)
	return id, nil
}
