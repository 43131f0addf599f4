package cliplib

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"testing"

	"github.com/clipkit/clipkit/cliplib/cache"
	"github.com/clipkit/clipkit/cliplib/checkpoint"
	"github.com/clipkit/clipkit/cliplib/encoder"
	"github.com/clipkit/clipkit/cliplib/internal/testutil"
	"github.com/clipkit/clipkit/cliplib/model"
	"github.com/clipkit/clipkit/cliplib/model/nn"
)

// stateDictIdentity is the identity as earlier versions computed it at load, straight from the
// state dict; text caches and search indexes written then are keyed by it.
func stateDictIdentity(cfg *model.Config, sd checkpoint.StateDict, p encoder.Precision) cache.Identity {
	h := sha256.New()
	c := *cfg
	c.Name = ""
	b, _ := json.Marshal(c)
	h.Write(b)
	h.Write([]byte(p))
	names := make([]string, 0, len(sd))
	for n := range sd {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		t := sd[n]
		fmt.Fprintf(h, "%s%v", n, t.Shape)
		bs := make([]byte, 0, 4*len(t.Data))
		for _, v := range t.Data {
			bs = binary.LittleEndian.AppendUint32(bs, math.Float32bits(v))
		}
		h.Write(bs)
	}
	var id cache.Identity
	copy(id[:], h.Sum(nil))
	return id
}

// TestIdentityIsLazyLayoutFreeAndUnchanged: the identity, now computed on first use from the
// weights the encoder holds, is the one earlier versions computed from the state dict (so caches
// and indexes written before stay valid), in both Linear weight layouts and for every tower
// family; different weights give a different identity.
func TestIdentityIsLazyLayoutFreeAndUnchanged(t *testing.T) {
	for _, name := range []string{"tiny-vit", "tiny-rn", "MobileCLIP-test-S0"} {
		cfg, err := model.Lookup(name)
		if err != nil {
			t.Fatal(err)
		}
		sd, err := encoder.RandomWeights(cfg, 3)
		if err != nil {
			t.Fatal(err)
		}
		want := stateDictIdentity(cfg, sd, encoder.F32)
		for _, layout := range []string{nn.LayoutOutIn, nn.LayoutInOut} {
			m, err := build(name, cfg, sd, Source{Random: true}, Options{Backend: testutil.BackendConfig(),
				Encoder: encoder.Options{LinearLayout: layout}})
			if err != nil {
				t.Fatal(err)
			}
			if got := m.Identity(); got != want {
				t.Errorf("%s, layout %s: identity %s, want the state-dict hash %s", name, layout, got, want)
			}
			m.Close()
		}
		sd2, _ := encoder.RandomWeights(cfg, 4)
		m2, err := build(name, cfg, sd2, Source{Random: true}, Options{Backend: testutil.BackendConfig()})
		if err != nil {
			t.Fatal(err)
		}
		if m2.Identity() == want {
			t.Errorf("%s: other weights give the same identity", name)
		}
		m2.Close()
	}
}
