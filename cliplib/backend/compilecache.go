package backend

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/clipkit/clipkit/internal/download"
)

// CompileCacheEnv names the directory of the persistent XLA compilation cache; "off" turns the
// cache off. Empty: $CLIPKIT_CACHE/xla (~/.cache/clipkit/xla).
const CompileCacheEnv = "CLIPKIT_XLA_CACHE"

// CompileCacheMaxEnv bounds the cache directory, in bytes (default DefaultCompileCacheMaxBytes):
// after each store, the least recently used entries are removed until the entries hold at most
// that many bytes.
const CompileCacheMaxEnv = "CLIPKIT_XLA_CACHE_MAX_BYTES"

// DefaultCompileCacheMaxBytes is the default bound of the cache directory (1 GiB; ViT-B/32's
// graphs, one per batch and text-length bucket, take 0.5–1 MB each).
const DefaultCompileCacheMaxBytes = 1 << 30

// compileCacheMaxBytes returns the bound $CLIPKIT_XLA_CACHE_MAX_BYTES sets, or an error naming it.
func compileCacheMaxBytes() (int64, error) {
	v := strings.TrimSpace(os.Getenv(CompileCacheMaxEnv))
	if v == "" {
		return DefaultCompileCacheMaxBytes, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("$%s=%q: want a number of bytes ≥ 0", CompileCacheMaxEnv, v)
	}
	return n, nil
}

// CompileCacheLib is the file name of the cache library scripts/install-xla-cpu.sh builds beside
// the XLA CPU plugin (from pjrtcache/pjrt_cache.c).
const CompileCacheLib = "libclipkit_pjrt_cache.so"

// CompileCache describes this process's persistent compilation cache for XLA's CPU plugin: a
// wrapper around the plugin (pjrtcache/pjrt_cache.c) that stores every program the plugin
// compiles, serialised, and loads it back instead of compiling it again, in this process or a
// later one. Entries are keyed by the program, its compile options, the plugin file, the CPU and
// $XLA_FLAGS, and compared byte for byte, so a cached program is the program that would have been
// compiled.
type CompileCache struct {
	// Enabled is set once the wrapper is the "cpu" plugin of this process.
	Enabled bool
	// Dir is the cache directory.
	Dir string
	// Plugin is the XLA CPU plugin the cache wraps, when Enabled.
	Plugin string
	// Reason says why the cache is off, when it is.
	Reason string
	// Hits, Misses, Stores and Errors count the compilations the cache served, those it did not
	// hold, the entries it wrote, and the failures it fell back from (an unreadable entry, a
	// program the plugin could not serialise, a full disk).
	Hits, Misses, Stores, Errors int64
}

// CompileCacheDir returns the cache directory $CLIPKIT_XLA_CACHE names (default
// $CLIPKIT_CACHE/xla), or "" when it says "off".
func CompileCacheDir() string {
	v := strings.TrimSpace(os.Getenv(CompileCacheEnv))
	switch strings.ToLower(v) {
	case "off", "0", "false", "no", "none":
		return ""
	case "":
		return filepath.Join(download.DefaultCacheDir(), "xla")
	}
	return v
}

var (
	compileCacheOnce sync.Once
	// compileCacheSet is the cache's state once enableCompileCache has run (nil before).
	compileCacheSet atomic.Pointer[CompileCache]
)

// compileCacheState returns the cache's state; the zero value before enableCompileCache has run.
func compileCacheState() CompileCache {
	if c := compileCacheSet.Load(); c != nil {
		return *c
	}
	return CompileCache{}
}

// enableCompileCache makes the cache wrapper this process's "cpu" plugin, once, before anything
// loads the plain plugin (see installCompileCache); later calls do nothing.
func enableCompileCache() {
	compileCacheOnce.Do(func() {
		state := CompileCache{Reason: "turned off by $" + CompileCacheEnv}
		if dir := CompileCacheDir(); dir != "" {
			if maxBytes, err := compileCacheMaxBytes(); err != nil {
				state = CompileCache{Dir: dir, Reason: err.Error()}
			} else {
				state = installCompileCache(dir, maxBytes)
			}
		}
		compileCacheSet.Store(&state)
	})
}

// CompileCacheStatus returns the state of the compilation cache and its counters. The cache is
// set up when the first XLA backend is created (or the automatic choice looks for plugins); before
// that it reports itself off, with that reason.
func CompileCacheStatus() CompileCache {
	s := compileCacheState()
	if !s.Enabled && s.Reason == "" {
		s.Reason = "no XLA CPU backend created yet"
	}
	if s.Enabled {
		s.Hits, s.Misses, s.Stores, s.Errors = compileCacheCounters()
	}
	return s
}

// installCompileCache and compileCacheCounters are set by compilecache_linux.go where the cache
// can be built (linux/amd64 with XLA).
var (
	installCompileCache = func(dir string, maxBytes int64) CompileCache {
		return CompileCache{Dir: dir, Reason: "the compilation cache is built for linux/amd64 only"}
	}
	compileCacheCounters = func() (hits, misses, stores, errors int64) { return 0, 0, 0, 0 }
)
