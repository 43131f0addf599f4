// pjrt_cache.c: a persistent compilation cache for XLA's CPU PJRT plugin.
//
// XLA's CPU plugin compiles every program from scratch in every process (half a second for
// ViT-B/32's text tower), and neither the plugin nor go-xla v0.1.4 keeps compiled programs across
// processes. The PJRT C API can serialise a compiled executable (PJRT_Executable_Serialize) and
// load one back (PJRT_Executable_DeserializeAndLoad); nothing we depend on wires that into a cache,
// so this file does: it wraps the real plugin's API table (pjrt_c_api.h, from go-xla's copy of
// XLA's header) and replaces PJRT_Client_Compile with a version that looks the program up in a
// directory first and stores what it compiles. Everything else goes to the real plugin unchanged.
//
// Built by scripts/install-xla-cpu.sh into libclipkit_pjrt_cache.so beside the plugin (a name the
// PJRT plugin search does not match), and loaded by package backend (xlacache.go), which registers
// the wrapped table with go-xla as the "cpu" plugin.
//
// A cache entry is one file, <dir>/<64-bit FNV-1a of the key, hex>.pjrt:
//   "CLIPKIT-PJRT-CACHE 1\n", u64 key length, the key, u64 executable length, the executable,
//   u64 FNV-1a of the executable (an entry damaged on disk is a miss, not a crash).
// The key is everything the compiled code depends on: this file's format version, the real
// plugin (path, size, modification time), the CPU (model name and feature flags from
// /proc/cpuinfo, so an entry never runs on a CPU without the instructions it was compiled for),
// $XLA_FLAGS, the program's format, the serialised compile options, and the program itself. The
// whole key is stored and compared byte for byte on lookup, so a hash collision is a miss, never
// a wrong program. Files are written to a temporary name and renamed (readers in other processes
// see whole entries or none); a lookup touches its entry, and after each store the least recently
// used entries are removed until the directory holds at most max_bytes of them. Anything that
// fails (an unreadable or corrupt entry, a full disk, a plugin that cannot serialise) falls back
// to compiling, and is counted. Entries are machine code the process will run, so the directory
// is trusted like the plugin's: package backend creates it 0700, and entries are written 0600.
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "pjrt_c_api.h"

#define MAGIC "CLIPKIT-PJRT-CACHE 1\n"
#define MAX_ENTRY (1LL << 30) // an entry larger than this is not read

static PJRT_Api wrapped;
static const PJRT_Api *real;
static char cache_dir[4096];
static long long max_bytes;
static char *fingerprint;
static size_t fingerprint_len;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER; // guards the counters and eviction
static long long counters[4];                          // hits, misses, stores, errors

static void count(int i) {
  pthread_mutex_lock(&mu);
  counters[i]++;
  pthread_mutex_unlock(&mu);
}

static void destroy_error(PJRT_Error *err) {
  if (err == NULL) return;
  PJRT_Error_Destroy_Args a = {.struct_size = PJRT_Error_Destroy_Args_STRUCT_SIZE, .error = err};
  real->PJRT_Error_Destroy(&a);
}

// buffer is a growable byte string.
typedef struct {
  char *p;
  size_t n, cap;
} buffer;

static int put(buffer *b, const void *p, size_t n) {
  if (b->n + n > b->cap) {
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->n + n) cap *= 2;
    char *q = realloc(b->p, cap);
    if (q == NULL) return -1;
    b->p = q;
    b->cap = cap;
  }
  if (n) memcpy(b->p + b->n, p, n);
  b->n += n;
  return 0;
}

static int put_u64(buffer *b, uint64_t v) { return put(b, &v, sizeof v); }

// put_field appends a length-prefixed byte string.
static int put_field(buffer *b, const void *p, size_t n) { return put_u64(b, n) || put(b, p, n); }

static uint64_t fnv1a(const char *p, size_t n) {
  uint64_t h = 14695981039346656037ULL;
  for (size_t i = 0; i < n; i++) {
    h ^= (unsigned char)p[i];
    h *= 1099511628211ULL;
  }
  return h;
}

static int read_all(int fd, void *p, size_t n) {
  char *c = p;
  while (n > 0) {
    ssize_t r = read(fd, c, n);
    if (r <= 0) return -1;
    c += r;
    n -= (size_t)r;
  }
  return 0;
}

static int write_all(int fd, const void *p, size_t n) {
  const char *c = p;
  while (n > 0) {
    ssize_t w = write(fd, c, n);
    if (w <= 0) return -1;
    c += w;
    n -= (size_t)w;
  }
  return 0;
}

// lookup returns the executable stored under key in path (malloc'ed, *n bytes), or NULL.
static char *lookup(const char *path, const buffer *key, size_t *n) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return NULL;
  char magic[sizeof MAGIC - 1];
  uint64_t klen = 0, elen = 0, sum = 0;
  char *k = NULL, *exe = NULL;
  struct stat st;
  if (fstat(fd, &st) != 0 || read_all(fd, magic, sizeof magic) != 0 || memcmp(magic, MAGIC, sizeof magic) != 0 ||
      read_all(fd, &klen, sizeof klen) != 0 || klen != key->n || (long long)klen > st.st_size)
    goto fail;
  k = malloc(klen ? klen : 1);
  if (k == NULL || read_all(fd, k, klen) != 0 || memcmp(k, key->p, klen) != 0) goto fail;
  if (read_all(fd, &elen, sizeof elen) != 0 || elen == 0 || (long long)elen > MAX_ENTRY ||
      (long long)(sizeof magic + 24 + klen + elen) != st.st_size)
    goto fail;
  exe = malloc(elen);
  if (exe == NULL || read_all(fd, exe, elen) != 0 || read_all(fd, &sum, sizeof sum) != 0 || sum != fnv1a(exe, elen))
    goto fail;
  free(k);
  close(fd);
  utimensat(AT_FDCWD, path, NULL, 0); // most recently used
  *n = elen;
  return exe;
fail:
  free(k);
  free(exe);
  close(fd);
  return NULL;
}

typedef struct {
  char name[300];
  long long size;
  struct timespec used;
} entry;

static int older(const void *a, const void *b) {
  const entry *x = a, *y = b;
  if (x->used.tv_sec != y->used.tv_sec) return x->used.tv_sec < y->used.tv_sec ? -1 : 1;
  if (x->used.tv_nsec != y->used.tv_nsec) return x->used.tv_nsec < y->used.tv_nsec ? -1 : 1;
  return 0;
}

// evict removes the least recently used entries until the cache holds at most max_bytes.
static void evict(void) {
  DIR *d = opendir(cache_dir);
  if (d == NULL) return;
  entry *es = NULL;
  size_t n = 0, cap = 0;
  long long total = 0;
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    size_t len = strlen(de->d_name);
    if (len < 6 || len >= sizeof es[0].name || strcmp(de->d_name + len - 5, ".pjrt") != 0) continue;
    char path[sizeof cache_dir + 310];
    snprintf(path, sizeof path, "%s/%s", cache_dir, de->d_name);
    struct stat st;
    if (stat(path, &st) != 0) continue;
    if (n == cap) {
      cap = cap ? 2 * cap : 64;
      entry *e2 = realloc(es, cap * sizeof *es);
      if (e2 == NULL) break;
      es = e2;
    }
    snprintf(es[n].name, sizeof es[n].name, "%s", de->d_name);
    es[n].size = st.st_size;
    es[n].used = st.st_mtim;
    total += st.st_size;
    n++;
  }
  closedir(d);
  if (total > max_bytes) {
    qsort(es, n, sizeof *es, older);
    for (size_t i = 0; i < n && total > max_bytes; i++) {
      char path[sizeof cache_dir + 310];
      snprintf(path, sizeof path, "%s/%s", cache_dir, es[i].name);
      if (unlink(path) == 0) total -= es[i].size;
    }
  }
  free(es);
}

// store writes the executable under key to path, atomically.
static int store(const char *path, const buffer *key, const char *exe, size_t n) {
  char tmp[sizeof cache_dir + 340];
  snprintf(tmp, sizeof tmp, "%s.XXXXXX", path); // unique per writer: threads and processes may race
  int fd = mkostemp(tmp, O_CLOEXEC); // mode 0600: entries are machine code this user will run
  if (fd < 0) return -1;
  uint64_t klen = key->n, elen = n, sum = fnv1a(exe, n);
  int err = write_all(fd, MAGIC, sizeof MAGIC - 1) || write_all(fd, &klen, sizeof klen) ||
            write_all(fd, key->p, key->n) || write_all(fd, &elen, sizeof elen) || write_all(fd, exe, n) ||
            write_all(fd, &sum, sizeof sum);
  if (close(fd) != 0) err = 1;
  if (err || rename(tmp, path) != 0) {
    unlink(tmp);
    return -1;
  }
  return 0;
}

// serialize stores the freshly compiled args->executable under key in path.
static void serialize(PJRT_LoadedExecutable *loaded, const char *path, const buffer *key) {
  PJRT_LoadedExecutable_GetExecutable_Args g = {.struct_size = PJRT_LoadedExecutable_GetExecutable_Args_STRUCT_SIZE,
                                                .loaded_executable = loaded};
  PJRT_Error *err = real->PJRT_LoadedExecutable_GetExecutable(&g);
  if (err != NULL) {
    destroy_error(err);
    count(3);
    return;
  }
  PJRT_Executable_Serialize_Args s = {.struct_size = PJRT_Executable_Serialize_Args_STRUCT_SIZE,
                                      .executable = g.executable};
  err = real->PJRT_Executable_Serialize(&s);
  if (err != NULL) {
    destroy_error(err);
    count(3);
  } else {
    if (s.serialized_bytes_size > 0 && (long long)s.serialized_bytes_size <= MAX_ENTRY &&
        store(path, key, s.serialized_bytes, s.serialized_bytes_size) == 0) {
      count(2);
      pthread_mutex_lock(&mu);
      evict();
      pthread_mutex_unlock(&mu);
    } else {
      count(3);
    }
    if (s.serialized_executable_deleter != NULL) s.serialized_executable_deleter(s.serialized_executable);
  }
  PJRT_Executable_Destroy_Args x = {.struct_size = PJRT_Executable_Destroy_Args_STRUCT_SIZE, .executable = g.executable};
  destroy_error(real->PJRT_Executable_Destroy(&x));
}

static PJRT_Error *cached_compile(PJRT_Client_Compile_Args *args) {
  const PJRT_Program *p = args->program;
  buffer key = {0};
  if (p == NULL || put(&key, fingerprint, fingerprint_len) || put_field(&key, p->format, p->format_size) ||
      put_field(&key, args->compile_options, args->compile_options_size) || put_field(&key, p->code, p->code_size)) {
    free(key.p);
    count(3);
    return real->PJRT_Client_Compile(args);
  }
  char path[sizeof cache_dir + 32];
  snprintf(path, sizeof path, "%s/%016llx.pjrt", cache_dir, (unsigned long long)fnv1a(key.p, key.n));
  size_t n = 0;
  char *exe = lookup(path, &key, &n);
  if (exe != NULL) {
    PJRT_Executable_DeserializeAndLoad_Args d = {.struct_size = PJRT_Executable_DeserializeAndLoad_Args_STRUCT_SIZE,
                                                 .client = args->client,
                                                 .serialized_executable = exe,
                                                 .serialized_executable_size = n};
    PJRT_Error *err = real->PJRT_Executable_DeserializeAndLoad(&d);
    free(exe);
    if (err == NULL && d.loaded_executable != NULL) {
      args->executable = d.loaded_executable;
      free(key.p);
      count(0);
      return NULL;
    }
    destroy_error(err);
    count(3);
  }
  count(1);
  PJRT_Error *err = real->PJRT_Client_Compile(args);
  if (err == NULL) serialize(args->executable, path, &key);
  free(key.p);
  return err;
}

// file_line appends to b the first line of file that starts with prefix, if any.
static void file_line(buffer *b, const char *file, const char *prefix) {
  FILE *f = fopen(file, "re");
  if (f == NULL) return;
  char *line = NULL;
  size_t cap = 0;
  ssize_t n;
  while ((n = getline(&line, &cap, f)) > 0) {
    if (strncmp(line, prefix, strlen(prefix)) == 0) {
      put(b, line, (size_t)n);
      break;
    }
  }
  free(line);
  fclose(f);
}

// ClipkitPjrtCacheApi loads the real plugin at plugin_path and returns its API table with
// PJRT_Client_Compile cached in dir (an existing directory), holding at most max_cache_bytes of
// entries. It returns NULL, with a message in err, when that cannot be done. It may be called
// once per process; later calls return the first table.
const PJRT_Api *ClipkitPjrtCacheApi(const char *plugin_path, const char *dir, long long max_cache_bytes, char *err,
                                    size_t err_size) {
  if (real != NULL) return &wrapped;
  if (strlen(dir) + 1 > sizeof cache_dir - 64) {
    snprintf(err, err_size, "cache directory path too long");
    return NULL;
  }
  if (access(dir, W_OK) != 0) {
    snprintf(err, err_size, "cannot write the cache directory %s", dir);
    return NULL;
  }
  void *h = dlopen(plugin_path, RTLD_NOW | RTLD_LOCAL);
  if (h == NULL) {
    snprintf(err, err_size, "dlopen %s: %s", plugin_path, dlerror());
    return NULL;
  }
  const PJRT_Api *(*get)(void) = (const PJRT_Api *(*)(void))dlsym(h, "GetPjrtApi");
  const PJRT_Api *api = get != NULL ? get() : NULL;
  if (api == NULL) {
    snprintf(err, err_size, "%s has no usable GetPjrtApi", plugin_path);
    return NULL;
  }
  if (api->struct_size < offsetof(PJRT_Api, PJRT_Executable_DeserializeAndLoad) + sizeof(void *) ||
      api->PJRT_Executable_Serialize == NULL || api->PJRT_Executable_DeserializeAndLoad == NULL) {
    snprintf(err, err_size, "%s cannot serialise executables (PJRT API %d.%d)", plugin_path,
             api->pjrt_api_version.major_version, api->pjrt_api_version.minor_version);
    return NULL;
  }
  struct stat st;
  if (stat(plugin_path, &st) != 0) {
    snprintf(err, err_size, "stat %s failed", plugin_path);
    return NULL;
  }
  buffer fp = {0};
  char head[8192];
  int n = snprintf(head, sizeof head, "%s%s\n%lld %lld.%09ld\nXLA_FLAGS=%s\n", MAGIC, plugin_path, (long long)st.st_size,
                   (long long)st.st_mtim.tv_sec, (long)st.st_mtim.tv_nsec, getenv("XLA_FLAGS") ? getenv("XLA_FLAGS") : "");
  put(&fp, head, (size_t)n < sizeof head ? (size_t)n : sizeof head - 1);
  file_line(&fp, "/proc/cpuinfo", "model name");
  file_line(&fp, "/proc/cpuinfo", "flags");
  if (fp.p == NULL) {
    snprintf(err, err_size, "out of memory");
    return NULL;
  }
  fingerprint = fp.p;
  fingerprint_len = fp.n;
  snprintf(cache_dir, sizeof cache_dir, "%s", dir);
  max_bytes = max_cache_bytes;
  size_t size = api->struct_size < sizeof wrapped ? api->struct_size : sizeof wrapped;
  memcpy(&wrapped, api, size);
  wrapped.PJRT_Client_Compile = cached_compile;
  real = api;
  return &wrapped;
}

// ClipkitPjrtCacheStats copies the counters: hits, misses, stores and errors (entries that could
// not be read back, serialised or written).
void ClipkitPjrtCacheStats(long long out[4]) {
  pthread_mutex_lock(&mu);
  memcpy(out, counters, sizeof counters);
  pthread_mutex_unlock(&mu);
}
