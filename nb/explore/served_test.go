package explore

import (
	"errors"
	"fmt"
	"image"
	"image/png"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/clipkit/clipkit/cliplib"
	"github.com/clipkit/clipkit/internal/clipxtest"
	"github.com/clipkit/clipkit/nb/serve"
)

// servedEnv builds ./cmd/clipx once (slow: skipped with -short) and sets up a smoke-mode notebook
// environment of its own: a fresh cache (state files, logs, embedding caches), tiny-vit with
// random weights on simplego, a short idle exit. Servers it starts are shut down at cleanup.
func servedEnv(t *testing.T) {
	t.Helper()
	t.Setenv("CLIPKIT_CLIPX", clipxtest.Binary(t))
	t.Setenv("CLIPKIT_CACHE", t.TempDir())
	t.Setenv("GOMLX_BACKEND", "go")
	t.Setenv("CLIP_SMOKE", "1")
	t.Setenv(EnvModel, "")
	t.Setenv(EnvPrecision, "")
	t.Setenv(serve.EnvServeIdle, "2m")
}

// openServed opens a served session (a cell) and shuts its server down at cleanup.
func openServed(t *testing.T) *Session {
	t.Helper()
	s, err := Open()
	if err != nil {
		t.Fatal(err)
	}
	if !s.Served() {
		t.Fatalf("Open loaded the model in process instead of attaching to the server")
	}
	t.Cleanup(func() { stopServer(s.Server()) })
	return s
}

// stopServer asks the server to exit and waits (up to 15 s) until its process has ended (it saves
// its caches on the way out).
func stopServer(c *serve.Client) {
	c.Shutdown()
	for range 150 {
		p, err := os.FindProcess(c.PID())
		if err != nil || p.Signal(syscall.Signal(0)) != nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestServedCellAfterTheFirstLoadsNothing(t *testing.T) {
	servedEnv(t)
	loads := localLoads.Load()
	first := openServed(t)
	h1, err := first.Server().Health()
	if err != nil {
		t.Fatal(err)
	}
	second, err := Open() // the next cell
	if err != nil {
		t.Fatal(err)
	}
	h2, err := second.Server().Health()
	if err != nil {
		t.Fatal(err)
	}
	if h2.PID != h1.PID || second.Server().PID() != first.Server().PID() || h2.UptimeS < h1.UptimeS {
		t.Errorf("second cell got server pid %d (up %.2f s), first pid %d (up %.2f s): want the same server, still up",
			h2.PID, h2.UptimeS, h1.PID, h1.UptimeS)
	}
	if n := localLoads.Load() - loads; n != 0 {
		t.Errorf("%d models loaded in the cells' process, want none", n)
	}
	if _, err := second.Local(); !errors.Is(err, ErrNotLocal) {
		t.Errorf("Local() on a served session: %v, want ErrNotLocal", err)
	}
	if err := second.Close(); err != nil {
		t.Errorf("Close of a served session: %v", err)
	}
	if _, err := first.EncodeTexts([]string{"still there"}); err != nil {
		t.Errorf("the server did not outlive the second cell's Close: %v", err)
	}
}

// pngFiles writes imgs as PNG files and returns their paths.
func pngFiles(t *testing.T, imgs []image.Image) []string {
	t.Helper()
	dir := t.TempDir()
	paths := make([]string, len(imgs))
	for i, img := range imgs {
		paths[i] = filepath.Join(dir, fmt.Sprintf("%d.png", i))
		f, err := os.Create(paths[i])
		if err != nil {
			t.Fatal(err)
		}
		if err := png.Encode(f, img); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	return paths
}

// maxDiff is the largest absolute difference of two embedding lists of the same shape.
func maxDiff(t *testing.T, a, b [][]float32) float64 {
	t.Helper()
	if len(a) != len(b) {
		t.Fatalf("%d embeddings vs %d", len(a), len(b))
	}
	d := 0.0
	for i := range a {
		if len(a[i]) != len(b[i]) {
			t.Fatalf("embedding %d: size %d vs %d", i, len(a[i]), len(b[i]))
		}
		for k := range a[i] {
			d = max(d, math.Abs(float64(a[i][k]-b[i][k])))
		}
	}
	return d
}

func TestServedSessionMatchesTheInProcessModel(t *testing.T) {
	servedEnv(t)
	srv := openServed(t)
	loc, err := OpenLocal()
	if err != nil {
		t.Fatal(err)
	}
	defer loc.Close()

	// Dataset items of every kind the notebooks meet: RGBA (CIFAR-like), gray (MNIST), odd sizes.
	ds := &countingDataset{}
	for i := range 20 {
		var img image.Image
		if i%2 == 0 {
			g := image.NewGray(image.Rect(0, 0, 28, 28))
			for p := range g.Pix {
				g.Pix[p] = uint8(p*3 + i*17)
			}
			img = g
		} else {
			c := image.NewRGBA(image.Rect(0, 0, 32+i, 32))
			for p := range c.Pix {
				c.Pix[p] = uint8(p*7 + i*31)
				if p%4 == 3 {
					c.Pix[p] = 255
				}
			}
			img = c
		}
		ds.imgs = append(ds.imgs, img)
	}
	idx := []int{19, 0, 3, 4, 7, 8, 11, 12, 15, 16, 1, 2, 5, 6, 9, 10, 13, 14, 17, 18} // more than a batch
	files := pngFiles(t, ds.imgs[:5])
	texts := []string{"a photo of a cat.", "a digit 7", ""}
	for _, tc := range []struct {
		name   string
		encode func(s *Session) ([][]float32, error)
	}{
		{"EncodeDataset", func(s *Session) ([][]float32, error) {
			e, labels, err := s.EncodeDataset("test", ds, idx)
			if err == nil && (len(labels) != len(idx) || labels[0] != 19%3) {
				err = fmt.Errorf("labels %v", labels)
			}
			return e, err
		}},
		{"EncodeDataset again (server's pixel cache)", func(s *Session) ([][]float32, error) {
			e, _, err := s.EncodeDataset("test", ds, idx[:3])
			return e, err
		}},
		{"EncodeFiles", func(s *Session) ([][]float32, error) { return s.EncodeFiles("files", files) }},
		{"EncodeTexts", func(s *Session) ([][]float32, error) { return s.EncodeTexts(texts) }},
		{"EncodeTexts of none", func(s *Session) ([][]float32, error) { return s.EncodeTexts(nil) }},
		{"ZeroShot weights", func(s *Session) ([][]float32, error) {
			z, err := s.ZeroShot([]string{"cat", "dog", "seven"}, cliplib.PhotoTemplate)
			if err != nil {
				return nil, err
			}
			return z.Weights, nil
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.encode(srv)
			if err != nil {
				t.Fatal(err)
			}
			want, err := tc.encode(loc)
			if err != nil {
				t.Fatal(err)
			}
			if d := maxDiff(t, got, want); d > 1e-6 {
				t.Errorf("served and in-process results differ by up to %g, want <= 1e-6", d)
			}
		})
	}

	for _, c := range []struct {
		what      string
		got, want any
	}{
		{"Name", srv.Name(), loc.Name()},
		{"Label", srv.Label(), loc.Label()},
		{"Random", srv.Random(), loc.Random()},
		{"Weights", srv.Weights(), loc.Weights()},
		{"LogitScale", srv.LogitScale(), loc.LogitScale()},
		{"EmbedDim", srv.EmbedDim(), loc.EmbedDim()},
		{"Precision", srv.Precision(), loc.Precision()},
		{"NumParams", srv.NumParams(), loc.NumParams()},
		{"Config", srv.Config(), loc.Config()},
		{"Caveat", srv.Caveat(), loc.Caveat()},
	} {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s: served %v, in process %v", c.what, c.got, c.want)
		}
	}
	tok, err := srv.Tokenizer()
	if err != nil {
		t.Fatal(err)
	}
	ltok, _ := loc.Tokenizer()
	if a, b := tok.Tokenize("a photo of a cat."), ltok.Tokenize("a photo of a cat."); !reflect.DeepEqual(a, b) {
		t.Errorf("served tokenizer %v, in-process %v", a, b)
	}
	if b := srv.Banner(); !strings.Contains(b, "RANDOM WEIGHTS") || !strings.Contains(b, "model server") {
		t.Errorf("served banner does not say random weights and where the model runs:\n%s", b)
	}
	if _, err := srv.EvalZeroShot("mnist", 4); !errors.Is(err, ErrNotLocal) {
		t.Errorf("EvalZeroShot on a served session: %v, want ErrNotLocal", err)
	}
}

func TestServedSessionReportsADeadServer(t *testing.T) {
	servedEnv(t)
	s := openServed(t)
	stopServer(s.Server())
	ds := &countingDataset{imgs: []image.Image{image.NewGray(image.Rect(0, 0, 8, 8))}}
	for _, tc := range []struct {
		name string
		call func() error
	}{
		{"EncodeTexts", func() error { _, err := s.EncodeTexts([]string{"a cat"}); return err }},
		{"ZeroShot", func() error { _, err := s.ZeroShot([]string{"cat"}, nil); return err }},
		{"EncodeDataset", func() error { _, _, err := s.EncodeDataset("x", ds, []int{0}); return err }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			if !errors.Is(err, serve.ErrServerDied) || !strings.Contains(err.Error(), "shutdown request") {
				t.Errorf("call to a stopped server: %v, want serve.ErrServerDied saying it exited on a shutdown request", err)
			}
		})
	}
	// The next cell starts a new server.
	s2 := openServed(t)
	if s2.Server().PID() == s.Server().PID() {
		t.Errorf("the next cell attached to the dead server's pid %d", s2.Server().PID())
	}
}

func TestOpenRefusesABadIdleSettingInsteadOfLoadingInProcess(t *testing.T) {
	t.Setenv("CLIP_SMOKE", "1")
	t.Setenv(serve.EnvServeIdle, "soon")
	loads := localLoads.Load()
	if _, err := Open(); err == nil || !strings.Contains(err.Error(), serve.EnvServeIdle) || localLoads.Load() != loads {
		t.Errorf("Open with %s=soon: %v (%d local loads); want an error naming the variable and no load", serve.EnvServeIdle, err, localLoads.Load()-loads)
	}
}

func TestOpenWithoutAServerLoadsInProcessAndSaysSo(t *testing.T) {
	t.Setenv("CLIPKIT_CLIPX", filepath.Join(t.TempDir(), "no-clipx-here"))
	t.Setenv("CLIPKIT_CACHE", t.TempDir())
	t.Setenv("GOMLX_BACKEND", "go")
	t.Setenv("CLIP_SMOKE", "1")
	t.Setenv(EnvModel, "")
	loads := localLoads.Load()
	stderr := os.Stderr
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	os.Stderr = w
	s, err := Open()
	os.Stderr = stderr
	w.Close()
	said, _ := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if !strings.Contains(string(said), "no model server") || !strings.Contains(string(said), "no-clipx-here") {
		t.Errorf("the fallback is not announced on stderr with its reason: %q", said)
	}
	if s.Served() || localLoads.Load()-loads != 1 {
		t.Fatalf("Open without a clipx binary: served %v, %d local loads; want the in-process fallback", s.Served(), localLoads.Load()-loads)
	}
	if _, err := s.Local(); err != nil {
		t.Errorf("fallback session has no local model: %v", err)
	}
	if b := s.Banner(); !strings.Contains(b, "this cell's process") {
		t.Errorf("banner does not say the model runs in the cell's process:\n%s", b)
	}
}
