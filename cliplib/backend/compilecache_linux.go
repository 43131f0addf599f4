//go:build linux && amd64 && !noxla

package backend

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdlib.h>

typedef const void *(*cache_api_fn)(const char *, const char *, long long, char *, size_t);
typedef void (*cache_stats_fn)(long long *);

static const void *call_cache_api(void *f, const char *plugin, const char *dir, long long max, char *err, size_t n) {
	return ((cache_api_fn)f)(plugin, dir, max, err, n);
}
static void call_cache_stats(void *f, long long *out) { ((cache_stats_fn)f)(out); }
*/
import "C"

import (
	"fmt"
	"os"
	"path/filepath"
	"unsafe"

	"github.com/gomlx/go-xla/pkg/pjrt"
)

// cacheStatsFn is the library's ClipkitPjrtCacheStats, once loaded.
var cacheStatsFn unsafe.Pointer

func init() {
	installCompileCache = installCompileCacheLinux
	compileCacheCounters = func() (hits, misses, stores, errors int64) {
		if cacheStatsFn == nil {
			return 0, 0, 0, 0
		}
		var out [4]C.longlong
		C.call_cache_stats(cacheStatsFn, &out[0])
		return int64(out[0]), int64(out[1]), int64(out[2]), int64(out[3])
	}
}

// installCompileCacheLinux finds the XLA CPU plugin and the cache library beside it, has the
// library wrap the plugin, and registers the wrapped API table with go-xla as the "cpu" plugin
// (pjrt.RegisterPreloadedPlugin), so that every xla:cpu backend of this process compiles through
// the cache. It must run before go-xla loads the plain "cpu" plugin: enableCompileCache calls it
// first thing wherever this package creates or looks for XLA backends.
func installCompileCacheLinux(dir string, maxBytes int64) CompileCache {
	state := CompileCache{Dir: dir}
	plugin, ok := pjrt.AvailablePlugins()["cpu"] // searches the plugin directories, loads nothing
	if !ok {
		state.Reason = "no XLA CPU plugin installed"
		return state
	}
	lib := filepath.Join(filepath.Dir(plugin), CompileCacheLib)
	if _, err := os.Stat(lib); err != nil {
		state.Reason = fmt.Sprintf("%s is not built (scripts/install-xla-cpu.sh builds it)", lib)
		return state
	}
	// The directory is created here only (the library checks that it can write there). Entries
	// are machine code the process runs: the directory is this user's alone.
	if err := os.MkdirAll(dir, 0o700); err != nil {
		state.Reason = fmt.Sprintf("cache directory: %v", err)
		return state
	}
	cLib := C.CString(lib)
	defer C.free(unsafe.Pointer(cLib))
	handle := C.dlopen(cLib, C.RTLD_NOW|C.RTLD_LOCAL)
	if handle == nil {
		state.Reason = fmt.Sprintf("loading %s: %s", lib, C.GoString(C.dlerror()))
		return state
	}
	sym := func(name string) unsafe.Pointer {
		c := C.CString(name)
		defer C.free(unsafe.Pointer(c))
		return C.dlsym(handle, c)
	}
	apiFn, statsFn := sym("ClipkitPjrtCacheApi"), sym("ClipkitPjrtCacheStats")
	if apiFn == nil || statsFn == nil {
		state.Reason = lib + " lacks ClipkitPjrtCacheApi or ClipkitPjrtCacheStats (rebuild it with scripts/install-xla-cpu.sh)"
		return state
	}
	cPlugin, cDir := C.CString(plugin), C.CString(dir)
	defer C.free(unsafe.Pointer(cPlugin))
	defer C.free(unsafe.Pointer(cDir))
	var msg [512]C.char
	api := C.call_cache_api(apiFn, cPlugin, cDir, C.longlong(maxBytes), &msg[0], C.size_t(len(msg)))
	if api == nil {
		state.Reason = C.GoString(&msg[0])
		return state
	}
	if err := pjrt.RegisterPreloadedPlugin("cpu", uintptr(api)); err != nil {
		state.Reason = fmt.Sprintf("registering the cached plugin: %v", err)
		return state
	}
	cacheStatsFn = statsFn
	state.Enabled, state.Plugin = true, plugin
	return state
}
