package widgets

import (
	"encoding/json"
	"image"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clipkit/clipkit/nb/plots"
)

// fakeServer answers the model server's API (the contract of `clipx serve`) with made-up but
// well-formed numbers: probabilities from the lengths of the class names.
type fakeServer struct {
	*httptest.Server
	token    string // the full token: the kernel's requests must carry it
	browser  string // the browser token: panels' outputs carry it
	requests []string
	noTemp   bool // answer zero-shot requests without the temperature
}

func (f *fakeServer) URL() string          { return f.Server.URL }
func (f *fakeServer) Token() string        { return f.token }
func (f *fakeServer) BrowserToken() string { return f.browser }
func (f *fakeServer) BrowserBase() string  { return "proxy/1234/" }

// The fake's tokens: neither is a substring of the other.
const (
	fakeFullToken    = "full-0123456789abcdef"
	fakeBrowserToken = "brow-fedcba9876543210"
)

func newFake(t *testing.T) *fakeServer {
	t.Helper()
	f := &fakeServer{token: fakeFullToken, browser: fakeBrowserToken}
	galleries := map[string]int{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.requests = append(f.requests, r.URL.Path)
		if r.Header.Get("Authorization") != "Bearer "+f.token {
			w.WriteHeader(401)
			_, _ = w.Write([]byte(`{"error":"missing or wrong token"}`))
			return
		}
		var req map[string]any
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			w.WriteHeader(400)
			_, _ = w.Write([]byte(`{"error":"body is not JSON"}`))
			return
		}
		out := map[string]any{"ms": 1.5}
		switch r.URL.Path {
		case "/v1/galleries":
			paths := req["paths"].([]any)
			galleries["g1"] = len(paths)
			out["id"], out["n"] = "g1", len(paths)
		case "/v1/zeroshot":
			n := galleries[req["gallery"].(string)]
			cls := req["classes"].([]any)
			if len(cls) == 0 {
				w.WriteHeader(400)
				_, _ = w.Write([]byte(`{"error":"classes: want at least one"}`))
				return
			}
			probs := make([][]float64, n)
			ent := make([]float64, n)
			for i := range probs {
				sum := 0.0
				probs[i] = make([]float64, len(cls))
				for j, c := range cls {
					probs[i][j] = float64(len(c.(string)) + i)
					sum += probs[i][j]
				}
				for j := range probs[i] {
					probs[i][j] /= sum
					ent[i] -= probs[i][j] * math.Log(probs[i][j])
				}
			}
			out["classes"], out["probs"], out["entropy"] = cls, probs, ent
			out["accuracy"], out["per_class_recall"], out["ece"] = 0.5, make([]float64, len(cls)), 0.1
			if t, _ := req["temperature"].(float64); t > 0 {
				out["temperature"] = t
			} else if !f.noTemp {
				out["temperature"] = 0.01
			}
		case "/v1/search":
			k := int(req["k"].(float64))
			var hits []map[string]any
			for i := 0; i < k; i++ {
				hits = append(hits, map[string]any{"index": i, "path": "x", "score": 0.3 - 0.01*float64(i)})
			}
			out["hits"] = hits
		default:
			w.WriteHeader(404)
			_, _ = w.Write([]byte(`{"error":"no such endpoint"}`))
			return
		}
		_ = json.NewEncoder(w).Encode(out)
	}))
	t.Cleanup(f.Close)
	return f
}

// captured records the panels the Live functions show.
func captured(t *testing.T) *[]Panel {
	t.Helper()
	var got []Panel
	old := show
	show = func(p Panel) error {
		if _, err := p.HTML(); err != nil {
			return err
		}
		got = append(got, p)
		return nil
	}
	t.Cleanup(func() { show = old })
	return &got
}

// images writes n small PNG files (search tiles are read from disk).
func images(t *testing.T, n int) []string {
	t.Helper()
	png := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7\x35\x81\x84\x00\x00\x00\x00IEND\xaeB`\x82")
	var out []string
	for i := 0; i < n; i++ {
		p := filepath.Join(t.TempDir(), "img"+string(rune('a'+i))+".png")
		if err := os.WriteFile(p, png, 0o644); err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
	}
	return out
}

func fakeLibrary(t *testing.T) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "echarts.min.js")
	if err := os.WriteFile(p, []byte("/* echarts */"+strings.Repeat(" ", 100_001)), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv(plots.EnvEChartsJS, p)
}

// panelCase shows one kind of live panel.
type panelCase struct {
	name  string
	run   func() error
	wants []string // in the panel's HTML
}

// panelCases returns one case per kind of live panel, over gallery g of server f.
func panelCases(f *fakeServer, g Gallery) []panelCase {
	tpl := []string{"a photo of a {}."}
	return []panelCase{
		{"zeroshot", func() error { return LiveZeroShot(f, g, []string{"cat", "dog"}, tpl, true) },
			[]string{`data-clipkit-name="classes"`, `data-clipkit-name="templates"`, "cat\ndog", `"v1/zeroshot"`, `class="clipkit-chart"`}},
		{"templates", func() error { return LiveTemplates(f, g, []string{"cat", "dog"}, tpl, true) },
			[]string{`data-clipkit-name="templates"`, `data-clipkit-name="classes"`, "accuracy 50.0% of 3 images", "per_class_recall", "want exactly "}},
		{"temperature", func() error { return LiveTemperature(f, g, []string{"cat", "dog"}, tpl) },
			[]string{`type="range"`, `data-clipkit-name="logT"`, "T = 0.01", "Math.pow(10, values.logT)"}},
		{"search", func() error { return LiveSearch(f, g, "a cat", 2) },
			[]string{`data-clipkit-name="query"`, `value="a cat"`, "data:image/png;base64", `"v1/search"`}},
		{"precision", func() error {
			return LivePrecision([]PrecisionServer{{"f32", f, g}, {"bf16", f, g}}, []string{"cat"}, tpl)
		}, []string{`<select data-clipkit-name="precision"`, `<option value="bf16">`, `server: values.precision`}},
	}
}

// showOne runs c and returns the HTML of the one panel it showed.
func showOne(t *testing.T, c panelCase) string {
	t.Helper()
	got := captured(t)
	if err := c.run(); err != nil {
		t.Fatal(err)
	}
	if len(*got) != 1 {
		t.Fatalf("%d panels shown, want 1", len(*got))
	}
	h, err := (*got)[0].HTML()
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestLivePanels(t *testing.T) {
	fakeLibrary(t)
	f := newFake(t)
	g, err := NewGallery(f, "photos", images(t, 3), []int{0, 1, 0})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range panelCases(f, g) {
		t.Run(c.name, func(t *testing.T) {
			h := showOne(t, c)
			for _, w := range append(c.wants, ControlsStart, ControlsEnd, `<template class="`+SnapshotClass+`">`,
				`"base":"proxy/1234/"`, "window.clipkitWidgets.panel", `data-lm-suppress-shortcuts="true"`) {
				if !strings.Contains(h, w) {
					t.Errorf("panel HTML lacks %q", w)
				}
			}
			if strings.Count(h, "<script") < 2 {
				t.Errorf("want the chart's and the panel's scripts")
			}
		})
	}
}

// TestPanelsShowOnlyTheBrowserToken renders every kind of live panel and checks that its output
// (which a saved notebook keeps) holds the server's browser token and never its full token, while
// the kernel's own requests to the server carried the full token (the fake refuses others).
func TestPanelsShowOnlyTheBrowserToken(t *testing.T) {
	fakeLibrary(t)
	f := newFake(t)
	g, err := NewGallery(f, "photos", images(t, 3), []int{0, 1, 0})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range panelCases(f, g) {
		t.Run(c.name, func(t *testing.T) {
			h := showOne(t, c)
			if strings.Contains(h, fakeFullToken) {
				t.Errorf("the panel's output holds the full token %q", fakeFullToken)
			}
			if !strings.Contains(h, `"token":"`+fakeBrowserToken+`"`) {
				t.Errorf("the panel's output lacks the browser token %q", fakeBrowserToken)
			}
		})
	}
}

func TestLivePanelErrors(t *testing.T) {
	fakeLibrary(t)
	f := newFake(t)
	paths := images(t, 2)
	g, err := NewGallery(f, "photos", paths, nil)
	if err != nil {
		t.Fatal(err)
	}
	tpl := []string{"a photo of a {}."}
	bad := &fakeServer{Server: f.Server, token: "wrong", browser: fakeBrowserToken}
	noBrowser := &fakeServer{Server: f.Server, token: fakeFullToken}
	sameToken := &fakeServer{Server: f.Server, token: fakeFullToken, browser: fakeFullToken}
	cases := []struct {
		name string
		run  func() error
		want string
	}{
		{"no classes", func() error { return LiveZeroShot(f, g, nil, tpl, false) }, "no classes"},
		{"template without {}", func() error { return LiveZeroShot(f, g, []string{"cat"}, []string{"a cat"}, false) }, "has no {}"},
		{"no labels", func() error { return LiveTemplates(f, g, []string{"cat"}, tpl, false) }, "has no labels"},
		{"no learned temperature", func() error {
			f.noTemp = true
			defer func() { f.noTemp = false }()
			return LiveTemperature(f, g, []string{"cat"}, tpl)
		}, "want a positive number"},
		{"empty query", func() error { return LiveSearch(f, g, " ", 3) }, "empty initial query"},
		{"wrong token", func() error { return LiveZeroShot(bad, g, []string{"cat"}, tpl, false) }, "HTTP 401: missing or wrong token"},
		{"no browser token", func() error { return LiveZeroShot(noBrowser, g, []string{"cat"}, tpl, false) }, "has no browser token"},
		{"browser token is the full token", func() error { return LiveSearch(sameToken, g, "a cat", 1) }, "has no browser token"},
		{"no browser token, precision", func() error {
			return LivePrecision([]PrecisionServer{{"f32", f, g}, {"bf16", noBrowser, g}}, []string{"cat"}, tpl)
		}, `server "bf16"`},
		{"duplicate server", func() error {
			return LivePrecision([]PrecisionServer{{"f32", f, g}, {"f32", f, g}}, []string{"cat"}, tpl)
		}, "given twice"},
		{"labels mismatch", func() error { _, err := NewGallery(f, "x", paths, []int{1}); return err }, "1 labels for 2 paths"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			captured(t)
			err := c.run()
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an error containing %q", err, c.want)
			}
		})
	}
}

func TestControlsEscapeAndSnapshot(t *testing.T) {
	p := Panel{Title: "t", Request: "return null;", Render: "",
		Controls: []Control{TextArea{Name: "a", Label: "<b>", Value: "x</textarea><script>"}, Slider{Name: "s", Min: 0, Max: 1, Value: 0.5},
			Dropdown{Name: "d", Options: []string{"p", "q"}, Value: "q"}, Checkbox{Name: "c", Label: "on", Value: true}, Button{Name: "b", Label: "Go"}}}
	if _, err := p.HTML(); err == nil || !strings.Contains(err.Error(), "Request and Render") {
		t.Fatalf("want an error for the missing Render, got %v", err)
	}
	p.Render = "ctx.slot(0, '');"
	p.State = map[string]string{"x": "</script>"}
	h, err := p.HTML()
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"x&lt;/textarea&gt;&lt;script&gt;", "&lt;b&gt;", `<option value="q" selected>`, `type="checkbox" data-clipkit-name="c" checked`, `data-clipkit-name="b"`} {
		if !strings.Contains(h, w) {
			t.Errorf("HTML lacks %q", w)
		}
	}
	if strings.Contains(h, `"x":"</script>"`) {
		t.Error("State is not escaped for a <script> element")
	}
	snap := h[strings.Index(h, `<template class="`+SnapshotClass):]
	if !strings.Contains(snap, "<pre") || !strings.Contains(snap, "<code>q</code>") {
		t.Errorf("snapshot lacks the text box or dropdown state: %s", snap[:min(300, len(snap))])
	}
}

func TestLines(t *testing.T) {
	got := Lines(" banana \n\ncat\r\n  space shuttle")
	want := []string{"banana", "cat", "space shuttle"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("Lines = %q, want %q", got, want)
	}
}

func TestImageFiles(t *testing.T) {
	t.Setenv("CLIPKIT_CACHE", t.TempDir())
	calls := 0
	item := func(i int) (image.Image, error) {
		calls++
		return image.NewGray(image.Rect(0, 0, 4, 4+i)), nil
	}
	paths, err := ImageFiles("mnist digits/2", 3, item)
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) != 3 || !strings.Contains(paths[0], filepath.Join("widgets", "mnist_digits_2")) {
		t.Fatalf("paths = %q", paths)
	}
	if _, err := plots.LoadTile(paths[2]); err != nil {
		t.Fatalf("written file is not an image: %v", err)
	}
	if _, err := ImageFiles("mnist digits/2", 3, item); err != nil || calls != 3 {
		t.Fatalf("second call: err %v, %d item calls (want the files reused: 3)", err, calls)
	}
	for _, c := range []struct {
		name string
		n    int
		want string
	}{{"x", 0, "no images"}, {"..", 1, "no usable characters"}} {
		if _, err := ImageFiles(c.name, c.n, item); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ImageFiles(%q, %d): got %v, want %q", c.name, c.n, err, c.want)
		}
	}
}

func TestAttachRejectsBadIdle(t *testing.T) {
	for _, v := range []string{"soon", "-1m", "0s"} {
		t.Setenv(EnvServeIdle, v)
		if _, err := Attach("tiny-vit"); err == nil || !strings.Contains(err.Error(), "want a positive Go duration") {
			t.Errorf("%s=%q: got %v, want an error naming the variable", EnvServeIdle, v, err)
		}
	}
}
