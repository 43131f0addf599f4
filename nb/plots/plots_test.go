package plots

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// fakeLibrary writes a stand-in echarts.min.js (big enough to pass the sanity check) and points
// CLIPKIT_ECHARTS_JS at it; the real library is only needed by the browser test.
func fakeLibrary(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "echarts.min.js")
	src := "/* echarts stand-in */ " + body + strings.Repeat(" ", 100_001)
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv(EnvEChartsJS, p)
	resetLibrary(t)
	return p
}

// resetLibrary forgets the cached library and the "already displayed" state.
func resetLibrary(t *testing.T) {
	t.Helper()
	libMu.Lock()
	libCached, libPath = nil, ""
	libMu.Unlock()
	displayMu.Lock()
	emittedInProc = false
	displayMu.Unlock()
	t.Cleanup(func() {
		libMu.Lock()
		libCached, libPath = nil, ""
		libMu.Unlock()
		displayMu.Lock()
		emittedInProc, markerOverride = false, ""
		displayMu.Unlock()
	})
}

func TestBuildersRejectBadInput(t *testing.T) {
	tests := []struct {
		name    string
		build   func() error
		wantErr string
	}{
		{"bar without categories", func() error { _, err := Bar(nil, Options{}, Series{Values: nil}); return err }, "no categories"},
		{"bar without series", func() error { _, err := Bar([]string{"a"}, Options{}); return err }, "no series"},
		{"bar length mismatch", func() error {
			_, err := Bar([]string{"a", "b"}, Options{}, Series{Name: "s", Values: []float64{1}})
			return err
		}, `series 0 ("s") has 1 values, want 2`},
		{"line length mismatch", func() error {
			_, err := Line([]string{"1"}, Options{}, Series{Name: "x", Values: []float64{1, 2}})
			return err
		}, "has 2 values, want 1"},
		{"scatter empty", func() error { _, err := Scatter(nil, Options{}); return err }, "no points"},
		{"scatter NaN", func() error {
			_, err := Scatter([]Point{{X: math.NaN(), Y: 1, Label: "p"}}, Options{})
			return err
		}, "non-finite"},
		{"heatmap rows mismatch", func() error {
			_, err := HeatMap([]string{"a", "b"}, []string{"x"}, [][]float64{{1}}, Options{})
			return err
		}, "values has 1 rows, want 2"},
		{"heatmap ragged", func() error {
			_, err := HeatMap([]string{"a"}, []string{"x", "y"}, [][]float64{{1}}, Options{})
			return err
		}, `row 0 ("a") has 1 values, want 2`},
		{"grid empty", func() error { _, err := ImageGrid(nil, GridOptions{}); return err }, "no tiles"},
		{"grid tile without data", func() error { _, err := ImageGrid([]Tile{{Caption: "x"}}, GridOptions{}); return err }, "neither Img nor Data"},
		{"grid tile not an image", func() error {
			_, err := ImageGrid([]Tile{{Data: []byte("not an image"), Caption: "x"}}, GridOptions{})
			return err
		}, "unrecognised image format"},
		{"grid tile image bomb", func() error {
			// A PNG header claiming 100000×100000 pixels: refused from the header by the guarded decoder.
			_, err := ImageGrid([]Tile{{Data: pngClaiming(100000, 100000), Caption: "x"}}, GridOptions{})
			return err
		}, "image too large"},
		{"table long row", func() error { _, err := Table([]string{"a"}, [][]string{{"1", "2"}}); return err }, "row 0 has 2 cells"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.build()
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("got error %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestBarOptionHasDataAxesAndRounding(t *testing.T) {
	c, err := Bar([]string{"cat", "dog"}, Options{Title: "p", Decimals: 2, ValueLabels: true, Horizontal: true},
		Series{Name: "s", Values: []float64{0.12345, math.NaN()}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(c.Option)
	js := string(b)
	for _, want := range []string{`"data":[{"value":0.12},{"value":"-"}]`, `"text":"p"`, `"inverse":true`, `"formatter":"{c}"`} {
		if !strings.Contains(js, want) {
			t.Errorf("option %s lacks %s", js, want)
		}
	}
	// Horizontal: the category axis is the y axis.
	y := c.Option["yAxis"].([]any)[0].(map[string]any)
	if y["data"] == nil {
		t.Errorf("horizontal bar: y axis has no categories: %v", y)
	}
	c2, _ := Bar([]string{"a"}, Options{Decimals: NoDecimals}, Series{Values: []float64{2.6}})
	if b, _ := json.Marshal(c2.Option["series"]); !strings.Contains(string(b), `"value":3`) {
		t.Errorf("NoDecimals: got %s, want value 3", b)
	}
}

func TestHeatMapKeepsZeroBoundsAndCells(t *testing.T) {
	c, err := HeatMap([]string{"r0", "r1"}, []string{"c0", "c1"}, [][]float64{{0, 0.5}, {0.25, 1}}, Options{ValueLabels: true})
	if err != nil {
		t.Fatal(err)
	}
	vm := c.Option["visualMap"].([]any)[0].(map[string]any)
	if vm["min"] != 0.0 || vm["max"] != 1.0 {
		t.Errorf("visualMap bounds = %v..%v, want 0..1", vm["min"], vm["max"])
	}
	b, _ := json.Marshal(c.Option["series"])
	// Cell (row 1, column 0) is [x=0, y=1, 0.25].
	if !strings.Contains(string(b), `[0,1,0.25]`) {
		t.Errorf("series %s lacks cell [0,1,0.25]", b)
	}
}

func TestHeatMapLabelsEveryRowAndColumn(t *testing.T) {
	for _, tc := range []struct {
		cols   int
		rotate int
	}{{3, 0}, {12, 30}} {
		cols := make([]string, tc.cols)
		row := make([]float64, tc.cols)
		for i := range cols {
			cols[i] = fmt.Sprintf("class %d", i)
		}
		c, err := HeatMap([]string{"r0"}, cols, [][]float64{row}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		x := c.Option["xAxis"].([]any)[0].(map[string]any)["axisLabel"].(map[string]any)
		y := c.Option["yAxis"].([]any)[0].(map[string]any)["axisLabel"].(map[string]any)
		if x["interval"] != 0 || y["interval"] != 0 || x["rotate"] != tc.rotate {
			t.Errorf("%d columns: x labels %v, y labels %v; want interval 0 and rotate %d", tc.cols, x, y, tc.rotate)
		}
	}
}

func TestFragmentIsSafeAndSelfContained(t *testing.T) {
	c, err := Bar([]string{`</script><script>alert(1)</script>`}, Options{Title: `"quoted" & <b>`}, Series{Values: []float64{1}})
	if err != nil {
		t.Fatal(err)
	}
	frag, err := c.Fragment()
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(frag, "</script>"); n != 1 {
		t.Errorf("fragment has %d </script>, want exactly its own one:\n%s", n, frag)
	}
	if strings.Contains(frag, "<b>") {
		t.Errorf("title not escaped in the no-JavaScript note:\n%s", frag)
	}
	if regexp.MustCompile(`(?i)src\s*=|https?://`).MatchString(frag) {
		t.Errorf("fragment references something external:\n%s", frag)
	}
	if !strings.Contains(frag, `id="`+c.ID+`"`) || !strings.Contains(frag, `getElementById("`+c.ID+`")`) {
		t.Errorf("fragment does not bind its div %q", c.ID)
	}
	other, _ := Bar([]string{"a"}, Options{}, Series{Values: []float64{1}})
	if other.ID == c.ID {
		t.Errorf("two charts share id %s", c.ID)
	}
}

func TestLibraryPathSearchOrderAndError(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(EnvEChartsJS, "")
	t.Setenv(EnvCache, "")
	t.Chdir(dir)
	if _, err := LibraryPath(); err == nil || !strings.Contains(err.Error(), "setup-notebooks.sh") {
		t.Fatalf("no library anywhere: got %v, want an error naming the set-up script", err)
	}
	cache := filepath.Join(dir, "cache")
	cached := filepath.Join(cache, "echarts", "echarts.min.js")
	mustWrite(t, cached, "x")
	t.Setenv(EnvCache, cache)
	if p, err := LibraryPath(); err != nil || p != cached {
		t.Fatalf("cache: got %q, %v; want %q", p, err, cached)
	}
	// node_modules in a parent directory wins over the cache.
	nm := filepath.Join(dir, "node_modules", "echarts", "dist", "echarts.min.js")
	mustWrite(t, nm, "x")
	sub := filepath.Join(dir, "notebooks")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Chdir(sub)
	if p, err := LibraryPath(); err != nil || p != nm {
		t.Fatalf("node_modules above cwd: got %q, %v; want %q", p, err, nm)
	}
	// The environment variable wins over everything, and must name a file.
	t.Setenv(EnvEChartsJS, cached)
	if p, err := LibraryPath(); err != nil || p != cached {
		t.Fatalf("env: got %q, %v; want %q", p, err, cached)
	}
	t.Setenv(EnvEChartsJS, filepath.Join(dir, "missing.js"))
	if _, err := LibraryPath(); err == nil {
		t.Fatal("env naming a missing file: want an error")
	}
}

func mustWrite(t *testing.T, p, s string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestLibraryScriptShadowsAMDAndEscapesScriptEnd(t *testing.T) {
	fakeLibrary(t, `var s = "</script>";`)
	lib, err := libraryScript()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(lib, `<script `+LibraryMarker+`"`+EChartsVersion+`">`) {
		t.Errorf("library block does not start with the marker: %.80s", lib)
	}
	if !strings.Contains(lib, "(function (define, exports, module) {") || !strings.Contains(lib, ".call(window, undefined, undefined, undefined)") {
		t.Errorf("library is not evaluated with define/exports/module shadowed")
	}
	if strings.Count(lib, "</script>") != 1 {
		t.Errorf("library source can end its <script> early")
	}
}

func TestLibraryTooSmallIsRejected(t *testing.T) {
	p := filepath.Join(t.TempDir(), "echarts.min.js")
	mustWrite(t, p, "echarts")
	t.Setenv(EnvEChartsJS, p)
	resetLibrary(t)
	if _, err := libraryScript(); err == nil || !strings.Contains(err.Error(), "does not look like echarts.min.js") {
		t.Fatalf("got %v, want a 'does not look like' error", err)
	}
}

func TestFragmentsInlineLibraryOncePerSession(t *testing.T) {
	fakeLibrary(t, "")
	t.Setenv(EnvInline, "session")
	markerOverride = filepath.Join(t.TempDir(), "marker")
	c1, _ := Bar([]string{"a"}, Options{}, Series{Values: []float64{1}})
	c2, _ := Bar([]string{"b"}, Options{}, Series{Values: []float64{2}})
	frags, err := Fragments(Text("intro"), c1, c2)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(frags[0], LibraryMarker) || !strings.Contains(frags[1], LibraryMarker) || strings.Contains(frags[2], LibraryMarker) {
		t.Fatalf("library should ride with the first chart only; got markers %v %v %v",
			strings.Contains(frags[0], LibraryMarker), strings.Contains(frags[1], LibraryMarker), strings.Contains(frags[2], LibraryMarker))
	}
	// A later cell is a new process: only the session marker remembers.
	displayMu.Lock()
	emittedInProc = false
	displayMu.Unlock()
	frags, err = Fragments(c1)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(frags[0], LibraryMarker) {
		t.Error("second cell of the session inlined the library again")
	}
	// By default (or CLIPKIT_PLOTS_INLINE=cell) every cell (process) carries it, so a cell re-run
	// after a page reload draws.
	for _, mode := range []string{"", "cell"} {
		t.Setenv(EnvInline, mode)
		displayMu.Lock()
		emittedInProc = false
		displayMu.Unlock()
		frags, _ = Fragments(c1, c2)
		if !strings.Contains(frags[0], LibraryMarker) || strings.Contains(frags[1], LibraryMarker) {
			t.Errorf("inline=%q: want the library in the cell's first chart only", mode)
		}
	}
	t.Setenv(EnvInline, "cell")
	displayMu.Lock()
	emittedInProc = false
	displayMu.Unlock()
	frags, _ = Fragments(c1, c2)
	if !strings.Contains(frags[0], LibraryMarker) || strings.Contains(frags[1], LibraryMarker) {
		t.Error("inline=cell: want the library in the cell's first chart only")
	}
}

func TestRenderPutsLibraryOnceInHead(t *testing.T) {
	fakeLibrary(t, "")
	c1, _ := Line([]string{"1", "2"}, Options{}, Series{Name: "a", Values: []float64{1, 2}})
	c2, _ := Scatter([]Point{{X: 1, Y: 2, Label: "p"}}, Options{})
	var buf bytes.Buffer
	if err := Render(&buf, "T & t", c1, Text("between"), c2); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	if n := strings.Count(page, LibraryMarker); n != 1 {
		t.Fatalf("page has %d library copies, want 1", n)
	}
	if strings.Index(page, LibraryMarker) > strings.Index(page, "</head>") {
		t.Error("library is not in <head>")
	}
	if !strings.Contains(page, "<title>T &amp; t</title>") {
		t.Error("title not escaped")
	}
	buf.Reset()
	if err := Render(&buf, "no charts", Text("x")); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), LibraryMarker) {
		t.Error("page without charts carries the library")
	}
}

func TestImageGridEmbedsAndShrinks(t *testing.T) {
	big := image.NewRGBA(image.Rect(0, 0, 800, 400))
	for y := range 400 {
		for x := range 800 {
			big.Set(x, y, color.RGBA{uint8(x), uint8(y), 100, 255})
		}
	}
	var pngBuf bytes.Buffer
	if err := png.Encode(&pngBuf, image.NewGray(image.Rect(0, 0, 10, 10))); err != nil {
		t.Fatal(err)
	}
	h, err := ImageGrid([]Tile{
		{Img: big, Caption: "big <one>", Border: "red"},
		{Data: pngBuf.Bytes(), Caption: "small"},
	}, GridOptions{TileSize: 100, Columns: 2})
	if err != nil {
		t.Fatal(err)
	}
	s := string(h)
	if !strings.Contains(s, "data:image/jpeg;base64,") {
		t.Error("opaque image not embedded as JPEG")
	}
	if !strings.Contains(s, "data:image/png;base64,") {
		t.Error("small PNG data not embedded as is")
	}
	if !strings.Contains(s, "big &lt;one&gt;") || !strings.Contains(s, "border:3px solid red") {
		t.Error("caption not escaped or border missing")
	}
	if th := Thumbnail(big, 200); th.Bounds().Dx() != 200 || th.Bounds().Dy() != 100 {
		t.Errorf("Thumbnail(800x400, 200) = %v, want 200x100", th.Bounds())
	}
}

func TestTableEscapesAndPads(t *testing.T) {
	h, err := Table([]string{"a", "b"}, [][]string{{"<x>"}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(h), "&lt;x&gt;") || strings.Count(string(h), "<td") != 2 {
		t.Errorf("table: %s", h)
	}
}

func TestNiceBoundsPadAndRound(t *testing.T) {
	for _, tc := range []struct{ lo, hi, wantLo, wantHi float64 }{
		{1, 2, 0.9, 2.1},
		{0.26, 0.72, 0.23, 0.75},
		{-3, 7, -4, 8},
		{5, 5, 4.75, 5.25},
	} {
		lo, hi := niceBounds(tc.lo, tc.hi)
		if math.Abs(lo-tc.wantLo) > 1e-9 || math.Abs(hi-tc.wantHi) > 1e-9 || lo >= tc.lo || hi <= tc.hi {
			t.Errorf("niceBounds(%g, %g) = %g, %g; want %g, %g (strictly around the data)", tc.lo, tc.hi, lo, hi, tc.wantLo, tc.wantHi)
		}
	}
}

// pngClaiming returns a valid 1×1 PNG whose IHDR claims w×h pixels.
func pngClaiming(w, h uint32) []byte {
	var buf bytes.Buffer
	_ = png.Encode(&buf, image.NewGray(image.Rect(0, 0, 1, 1)))
	b := buf.Bytes()
	binary.BigEndian.PutUint32(b[16:], w)
	binary.BigEndian.PutUint32(b[20:], h)
	binary.BigEndian.PutUint32(b[29:], crc32.ChecksumIEEE(b[12:29]))
	return b
}
