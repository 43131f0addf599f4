package milvus_test

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/clipkit/clipkit/cliplib/search"
	"github.com/clipkit/clipkit/cliplib/search/milvus"
	"github.com/clipkit/clipkit/cliplib/search/storetest"
)

// AddrEnv names the environment variable holding host:port of a running
// Milvus server for the tests that need one (scripts/milvus-server.sh
// starts one; scripts/test.sh sets it).
const AddrEnv = "CLIPKIT_MILVUS_ADDR"

// serverAddr returns the test server's address or skips the test.
func serverAddr(t *testing.T) string {
	t.Helper()
	addr := os.Getenv(AddrEnv)
	if addr == "" {
		t.Skipf("no Milvus server: set %s=host:port (scripts/milvus-server.sh start prints one)", AddrEnv)
	}
	return addr
}

var collSeq atomic.Int64

// openTemp opens a new collection with a unique name on the test server
// and drops it when the test ends.
func openTemp(t *testing.T, addr string, dim int, params string) *milvus.Store {
	t.Helper()
	name := fmt.Sprintf("clipkit_test_%d_%d", time.Now().UnixNano()%1e9, collSeq.Add(1))
	u := "milvus://" + addr + "/" + name
	if params != "" {
		u += "?" + params
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	st, err := search.OpenStore(ctx, u, search.StoreOptions{Dim: dim})
	if err != nil {
		t.Fatal(err)
	}
	s := st.(*milvus.Store)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		s.Drop(ctx)
		s.Close()
	})
	return s
}

func TestMilvusStoreConformance(t *testing.T) {
	addr := serverAddr(t)
	t.Parallel()
	for _, c := range []struct {
		params    string
		minRecall float64
	}{
		{"", 0.95}, // HNSW M=16 efConstruction=100 ef=64
		{"index=ivf_flat&nlist=16&nprobe=16", 1},
	} {
		t.Run("index="+c.params, func(t *testing.T) {
			storetest.Run(t, func(t *testing.T, dim int) search.Store { return openTemp(t, addr, dim, c.params) }, c.minRecall)
		})
	}
}
