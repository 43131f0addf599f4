package download

import (
	"context"
	"errors"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"
)

// TestFetchStopsWritingAtTheExpectedSize: a server that streams more than the expected size (a
// chunked body announces none) is cut off at that size, and nothing larger is left on disk
// (before, every byte it sent was written and only then rejected).
func TestFetchStopsWritingAtTheExpectedSize(t *testing.T) {
	const want = 1000
	var sent atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chunk := make([]byte, 64<<10)
		for i := 0; i < 1024; i++ { // up to 64 MiB, flushed so that no Content-Length is set
			if _, err := w.Write(chunk); err != nil {
				return
			}
			sent.Add(int64(len(chunk)))
			w.(http.Flusher).Flush()
		}
	}))
	defer srv.Close()
	dir := t.TempDir()
	_, err := testClient(t, nil).Fetch(context.Background(), Request{URL: srv.URL + "/big.bin",
		Dest: filepath.Join(dir, "big.bin"), Expect: Expect{Size: want}})
	if !errors.Is(err, ErrMismatch) {
		t.Fatalf("error %v, want a size mismatch", err)
	}
	srv.Close() // waits for the handler
	if n := sent.Load(); n > 32<<20 {
		t.Errorf("the client read %d MiB of a %d-byte file before giving up", n>>20, want)
	}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if st, _ := d.Info(); st != nil && st.Size() > want {
				t.Errorf("%s holds %d bytes, over the expected %d", p, st.Size(), want)
			}
		}
		return nil
	})
}
