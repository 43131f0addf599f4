package cliplib

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"

	"github.com/clipkit/clipkit/cliplib/batcher"
	"github.com/clipkit/clipkit/cliplib/cache"
	"github.com/clipkit/clipkit/internal/atomicfile"
	"github.com/clipkit/clipkit/weights"
)

// setup fills in the option defaults and opens what opt asks for: the caches (which hashes the
// weights for their file names) and the batchers.
func (m *Model) setup(opt Options) error {
	if opt.Warn == nil {
		opt.Warn = func(msg string) { fmt.Fprintln(os.Stderr, "clipkit:", msg) }
	}
	if opt.TextCacheBytes <= 0 {
		opt.TextCacheBytes = DefaultTextCacheBytes
	}
	if opt.ImageCacheBytes <= 0 {
		opt.ImageCacheBytes = DefaultImageCacheBytes
	}
	if opt.CacheDir == "" {
		opt.CacheDir = weights.DefaultCacheDir()
	}
	m.opt = opt
	m.backendName = m.enc.BackendChoice().String()
	if opt.TextCache {
		m.text = m.openCache("textcache", ".textcache", opt.TextCacheBytes)
	}
	if opt.ImageCache {
		m.image = m.openCache("imagecache", ".imagecache", opt.ImageCacheBytes)
	}
	if opt.Batching {
		b, err := batcher.NewEncoder(m.enc, opt.Batch)
		if err != nil {
			return err
		}
		m.batch = b
	}
	return nil
}

// openCache returns a cache for this model's identity: in memory, or backed by
// CacheDir/sub/<identity><ext> (loaded now when valid; a foreign or corrupt file is ignored with a
// warning by package cache).
func (m *Model) openCache(sub, ext string, maxBytes int64) *cache.TextCache {
	co := cache.Options{MaxBytes: maxBytes, Warn: m.opt.Warn}
	if !m.opt.MemoryOnly {
		dir := filepath.Join(m.opt.CacheDir, sub)
		p := filepath.Join(dir, m.Identity().String()+ext)
		err := os.MkdirAll(dir, 0o755)
		if err == nil {
			err = atomicfile.CheckWritable(p)
		}
		if err != nil {
			// A cache is an optimisation: a read-only or broken cache directory must not fail the run.
			m.opt.Warn(fmt.Sprintf("the %s directory cannot be written (%v); caching in memory only for this run", sub, err))
			return cache.New(m.Identity(), m.EmbedDim(), co)
		}
		co.Path = p
	}
	return cache.New(m.Identity(), m.EmbedDim(), co)
}

// TextCache returns the text-embedding cache (nil when Options.TextCache is off), e.g. for its
// statistics or file.
func (m *Model) TextCache() *cache.TextCache { return m.text }

// ImageCache returns the image-embedding cache (nil when Options.ImageCache is off).
func (m *Model) ImageCache() *cache.TextCache { return m.image }

// Stats are the counters of a model's optimisations.
type Stats struct {
	// Precision and Backend describe the compute.
	Precision, Backend string
	// TextBucketing is true when causal text towers are cut to length buckets.
	TextBucketing bool
	// TextCache and ImageCache are the caches' counters (zero when off).
	TextCache, ImageCache cache.Stats
	// TextBatches and ImageBatches are the batchers' counters (zero when off).
	TextBatches, ImageBatches batcher.Stats
	// Deduplicated counts text requests served by an identical request of the same batch.
	Deduplicated int64
}

// Stats returns a snapshot of the counters (also after Close).
func (m *Model) Stats() Stats {
	s := Stats{Precision: m.Precision(), Backend: m.backendName, TextBucketing: m.TextBucketing()}
	if m.text != nil {
		s.TextCache = m.text.Stats()
	}
	if m.image != nil {
		s.ImageCache = m.image.Stats()
	}
	if m.batch != nil {
		s.TextBatches, s.ImageBatches = m.batch.TextStats(), m.batch.ImageStats()
		s.Deduplicated = m.batch.Deduplicated()
	}
	return s
}

// Save persists the caches that gained entries since they were loaded or last saved (no-op for
// caches that are off or kept in memory: MemoryOnly, or a directory that cannot be written).
// Each file is replaced atomically. Close saves too.
func (m *Model) Save() error {
	var errs []error
	for _, c := range []struct {
		cache *cache.TextCache
		dirty *atomic.Bool
	}{{m.text, &m.textDirty}, {m.image, &m.imageDirty}} {
		if c.cache != nil && c.cache.Path() != "" && c.dirty.Swap(false) {
			if err := c.cache.Save(); err != nil {
				c.dirty.Store(true)
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}
