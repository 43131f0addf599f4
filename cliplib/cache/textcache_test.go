package cache

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func ids(v ...int32) []int32 {
	row := make([]int32, 77)
	copy(row, v)
	return row
}

func vec(dim int, seed float32) []float32 {
	v := make([]float32, dim)
	for i := range v {
		v[i] = seed + float32(i)
	}
	return v
}

func TestGetPutStats(t *testing.T) {
	c := New(Identity{1}, 4, Options{})
	if _, ok := c.Get(ids(49406, 320, 49407)); ok {
		t.Fatal("hit in an empty cache")
	}
	c.Put(ids(49406, 320, 49407), vec(4, 1))
	got, ok := c.Get(ids(49406, 320, 49407))
	if !ok || got[0] != 1 || got[3] != 4 {
		t.Fatalf("Get = %v, %v", got, ok)
	}
	got[0] = 99 // callers get copies
	if again, _ := c.Get(ids(49406, 320, 49407)); again[0] != 1 {
		t.Error("the cache returned its own storage")
	}
	if _, ok := c.Get(ids(49406, 321, 49407)); ok {
		t.Error("different ids hit")
	}
	s := c.Stats()
	if s.Hits != 2 || s.Misses != 2 || s.Entries != 1 || s.HitRate() != 0.5 || s.Bytes <= 0 {
		t.Errorf("stats %+v", s)
	}
}

func TestRefusesBadVectors(t *testing.T) {
	var warned []string
	c := New(Identity{}, 3, Options{Warn: func(m string) { warned = append(warned, m) }})
	c.Put(ids(1), []float32{1, 2})
	nan := float32(0)
	c.Put(ids(2), []float32{1, 2, nan / nan})
	if c.Stats().Entries != 0 || len(warned) != 2 {
		t.Errorf("entries %d, warnings %q", c.Stats().Entries, warned)
	}
}

func TestLRUEviction(t *testing.T) {
	dim := 16
	per := entryBytes(key(ids(49406, 1, 49407)), dim)
	c := New(Identity{}, dim, Options{MaxBytes: 3 * per})
	for i := int32(1); i <= 3; i++ {
		c.Put(ids(49406, i, 49407), vec(dim, float32(i)))
	}
	c.Get(ids(49406, 1, 49407)) // 1 becomes most recent; 2 is now the oldest
	c.Put(ids(49406, 4, 49407), vec(dim, 4))
	if _, ok := c.Get(ids(49406, 2, 49407)); ok {
		t.Error("least recently used entry was not evicted")
	}
	for _, i := range []int32{1, 3, 4} {
		if _, ok := c.Get(ids(49406, i, 49407)); !ok {
			t.Errorf("entry %d evicted", i)
		}
	}
	if s := c.Stats(); s.Evictions != 1 || s.Bytes > 3*per {
		t.Errorf("stats %+v (bound %d)", s, 3*per)
	}
}

func TestConcurrentUse(t *testing.T) {
	c := New(Identity{}, 8, Options{MaxBytes: 1 << 14})
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 500; i++ {
				k := ids(49406, int32(i%97), int32(g), 49407)
				if v, ok := c.Get(k); ok && v[0] != float32(i%97) {
					t.Errorf("wrong vector for key %d", i%97)
					return
				}
				c.Put(k, vec(8, float32(i%97)))
			}
		}(g)
	}
	wg.Wait()
}

func TestPersistence(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "m.textcache")
	id := Identity{7, 7}
	c := New(id, 4, Options{Path: path})
	for i := int32(1); i <= 5; i++ {
		c.Put(ids(49406, i, 49407), vec(4, float32(i)))
	}
	if err := c.Save(); err != nil {
		t.Fatal(err)
	}
	d := New(id, 4, Options{Path: path, Warn: func(m string) { t.Errorf("unexpected warning %q", m) }})
	for i := int32(1); i <= 5; i++ {
		v, ok := d.Get(ids(49406, i, 49407))
		if !ok || v[0] != float32(i) {
			t.Errorf("entry %d after reload: %v %v", i, v, ok)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("temporary files left behind: %v", entries)
	}
}

// TestBadFilesAreIgnoredNeverUsed writes foreign, corrupt, truncated and garbage cache files and
// checks that each is reported and ignored: the cache starts empty rather than returning vectors.
func TestBadFilesAreIgnoredNeverUsed(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good")
	c := New(Identity{1}, 4, Options{Path: good})
	c.Put(ids(49406, 320, 49407), vec(4, 1))
	if err := c.Save(); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(good)
	flip := append([]byte(nil), data...)
	flip[len(flip)/2] ^= 1
	for _, tc := range []struct {
		name   string
		data   []byte
		id     Identity
		dim    int
		reason string
	}{
		{"foreign", data, Identity{2}, 4, "another model"},
		{"dim", data, Identity{1}, 8, "dimension"},
		{"flipped", flip, Identity{1}, 4, "checksum"},
		{"truncated", data[:len(data)-9], Identity{1}, 4, "checksum"},
		{"garbage", []byte("hello world, not a cache at all"), Identity{1}, 4, "not a clipkit"},
		{"empty", nil, Identity{1}, 4, "not a clipkit"},
	} {
		p := filepath.Join(dir, tc.name)
		os.WriteFile(p, tc.data, 0o644)
		var warned string
		c := New(tc.id, tc.dim, Options{Path: p, Warn: func(m string) { warned = m }})
		if _, ok := c.Get(ids(49406, 320, 49407)); ok {
			t.Errorf("%s: a vector was served from a bad file", tc.name)
		}
		if !strings.Contains(warned, tc.reason) || !strings.Contains(warned, p) {
			t.Errorf("%s: warning %q does not name the file and %q", tc.name, warned, tc.reason)
		}
	}
}

func FuzzLoad(f *testing.F) {
	dir := f.TempDir()
	p := filepath.Join(dir, "seed")
	c := New(Identity{1}, 2, Options{Path: p})
	c.Put(ids(49406, 320, 49407), []float32{1, 2})
	c.Save()
	seed, _ := os.ReadFile(p)
	f.Add(seed)
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), fmt.Sprint("f"))
		os.WriteFile(path, data, 0o644)
		New(Identity{1}, 2, Options{Path: path, Warn: func(string) {}})
	})
}
