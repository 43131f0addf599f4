package main

import (
	"encoding/json"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-rod/rod"
	"github.com/go-rod/rod/lib/input"
	"github.com/go-rod/rod/lib/launcher"
	"github.com/go-rod/rod/lib/proto"

	"github.com/clipkit/clipkit/nb/plots"
	"github.com/clipkit/clipkit/nb/widgets"
)

// fakeModel answers the model server's zero-shot and gallery requests (made-up probabilities) at
// /proxy/1234/ (the path jupyter-server-proxy would serve it under), and serves one page.
type fakeModel struct {
	mu      sync.Mutex
	classes [][]string // the classes of every zero-shot request
	auth    []string
	page    string
	n       int      // items of the gallery registered
	queries []string // the queries of every search request
	thumbs  []string // "path token" of every thumbnail request
}

// The fake's tokens, as `clipx serve` has two: the full one (the kernel's requests) and the
// browser one (what panels' outputs and so the page hold).
const (
	fullTok    = "full-tok-0123"
	browserTok = "brow-tok-4567"
)

func (f *fakeModel) Token() string        { return fullTok }
func (f *fakeModel) BrowserToken() string { return browserTok }
func (f *fakeModel) BrowserBase() string  { return "proxy/1234/" }

type fakeClient struct {
	*fakeModel
	url string
}

func (c fakeClient) URL() string { return c.url + "/proxy/1234" }

func (f *fakeModel) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == "GET" && r.URL.Path == "/" {
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte(f.page))
		return
	}
	if r.Method == "GET" && strings.HasPrefix(r.URL.Path, "/proxy/1234/v1/galleries/g1/images/") {
		// Thumbnails: <img src> carries the token in the query, as the real server takes it.
		f.mu.Lock()
		f.thumbs = append(f.thumbs, r.URL.Path+" "+r.URL.Query().Get("token"))
		f.mu.Unlock()
		if r.URL.Query().Get("token") != browserTok && r.URL.Query().Get("token") != fullTok {
			w.WriteHeader(401)
			return
		}
		img := image.NewRGBA(image.Rect(0, 0, 8, 6))
		draw.Draw(img, img.Bounds(), image.NewUniform(color.RGBA{200, 30, 30, 255}), image.Point{}, draw.Src)
		w.Header().Set("Content-Type", "image/png")
		_ = png.Encode(w, img)
		return
	}
	var req struct {
		Paths   []string `json:"paths"`
		Classes []string `json:"classes"`
		Query   string   `json:"query"`
		K       int      `json:"k"`
	}
	_ = json.NewDecoder(r.Body).Decode(&req)
	auth := r.Header.Get("Authorization")
	f.mu.Lock()
	f.auth = append(f.auth, auth)
	f.mu.Unlock()
	if auth != "Bearer "+fullTok && (auth != "Bearer "+browserTok || r.URL.Path == "/proxy/1234/v1/galleries") {
		w.WriteHeader(403) // as the real server: galleries need the full token
		_, _ = w.Write([]byte(`{"error":"wrong token for this request"}`))
		return
	}
	switch r.URL.Path {
	case "/proxy/1234/v1/galleries":
		f.mu.Lock()
		f.n = len(req.Paths)
		f.mu.Unlock()
		_ = json.NewEncoder(w).Encode(map[string]any{"id": "g1", "n": len(req.Paths)})
	case "/proxy/1234/v1/search":
		// Made-up scores that depend on the query's length, so that another query ranks otherwise.
		type hit struct {
			Index int     `json:"index"`
			Score float64 `json:"score"`
		}
		f.mu.Lock()
		n := f.n
		f.queries = append(f.queries, req.Query)
		f.mu.Unlock()
		var hits []hit
		for i := range n {
			hits = append(hits, hit{i, float64((len(req.Query)*(i+3))%7)/10 + float64(i)/1000})
		}
		sort.Slice(hits, func(a, b int) bool { return hits[a].Score > hits[b].Score })
		_ = json.NewEncoder(w).Encode(map[string]any{"hits": hits[:min(max(1, req.K), n)], "ms": 1})
	case "/proxy/1234/v1/zeroshot":
		if strings.Contains(strings.Join(req.Classes, ""), "bad") {
			w.WriteHeader(400)
			_, _ = w.Write([]byte(`{"error":"classes: \"bad\" is not allowed here"}`))
			return
		}
		f.mu.Lock()
		f.classes = append(f.classes, req.Classes)
		f.mu.Unlock()
		probs := make([][]float64, 2)
		for i := range probs {
			for range req.Classes {
				probs[i] = append(probs[i], 1/float64(len(req.Classes)))
			}
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"classes": req.Classes, "probs": probs, "ms": 1})
	default:
		w.WriteHeader(404)
	}
}

// panelPage serves, from a fake model server, a page holding the panel that build makes (over a
// gallery of n files) and opens it in headless Chromium; it returns the fake and the page, with
// the panel live. It skips the test unless CLIPKIT_BROWSER_TEST=1.
func panelPage(t *testing.T, n int, build func(widgets.Server, widgets.Gallery) (widgets.Panel, error)) (*fakeModel, *rod.Page) {
	t.Helper()
	if os.Getenv("CLIPKIT_BROWSER_TEST") != "1" {
		t.Skip("set CLIPKIT_BROWSER_TEST=1 to run the headless Chromium checks")
	}
	lib, err := plots.LibraryPath()
	if err != nil {
		t.Fatal(err)
	}
	// The panel's HTML inlines the ECharts library only in the first chart output of a process
	// (see nb/plots): the page loads it itself, as a notebook page holds an earlier output's copy.
	js, err := os.ReadFile(lib)
	if err != nil {
		t.Fatal(err)
	}
	bin, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatal("chromium not found")
	}
	f := &fakeModel{}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	c := fakeClient{f, srv.URL}
	dir := t.TempDir()
	var paths []string
	for i := range n {
		p := filepath.Join(dir, string(rune('a'+i))+".png")
		w, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := png.Encode(w, image.NewGray(image.Rect(0, 0, 4, 4))); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	g, err := widgets.NewGallery(c, "test", paths, nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err := build(c, g)
	if err != nil {
		t.Fatal(err)
	}
	h, err := p.HTML()
	if err != nil {
		t.Fatal(err)
	}
	f.page = "<!DOCTYPE html><html><head><script>" + string(js) + "</script></head><body>" + h + "</body></html>"
	if strings.Contains(f.page, fullTok) || !strings.Contains(f.page, browserTok) {
		t.Fatalf("the panel's page holds the full token, or lacks the browser token")
	}

	l := launcher.New().Bin(bin).Headless(true).NoSandbox(true).Leakless(false).UserDataDir(t.TempDir()).
		Set("disable-gpu").Set("disable-dev-shm-usage").Set("disable-background-networking")
	t.Cleanup(l.Cleanup)
	u, err := l.Launch()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Kill)
	browser := rod.New().ControlURL(u)
	if err := browser.Connect(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = browser.Close() })
	page, err := browser.Page(proto.TargetCreateTarget{URL: srv.URL + "/"})
	if err != nil {
		t.Fatal(err)
	}
	if err := page.Timeout(30 * time.Second).WaitLoad(); err != nil {
		t.Fatal(err)
	}
	if err := waitFor("panel live", 20*time.Second, func() (bool, error) {
		return eval[bool](page, `() => !!document.querySelector(".clipkit-panel[data-clipkit-live]") && !!window.echarts`)
	}); err != nil {
		d, _ := eval[map[string]any](page, `() => ({panels: document.querySelectorAll(".clipkit-panel").length, echarts: !!window.echarts, widgets: !!window.clipkitWidgets, html: document.body.innerHTML.slice(0, 3000)})`)
		t.Fatalf("%v (page: %v)", err, d)
	}
	return f, page
}

// TestPanelRuntimeInChromium checks the browser side of nb/widgets without Jupyter: typed
// "banana⏎cat" reaches the server as two classes with the browser token (the page holds no full
// token), the chart is redrawn with them, and a server error shows in place.
func TestPanelRuntimeInChromium(t *testing.T) {
	f, page := panelPage(t, 2, func(c widgets.Server, g widgets.Gallery) (widgets.Panel, error) {
		return widgets.ZeroShotPanel(c, g, []string{"dog"}, []string{"a photo of a {}."}, false)
	})
	var err error
	if ok, err := eval[bool](page, jsFocus, "classes"); err != nil || !ok {
		t.Fatalf("focus: %v %v", ok, err)
	}
	if err := page.Keyboard.Type(input.Backspace, 'b', 'a', 'n', 'a', 'n', 'a', input.Enter, 'c', 'a', 't'); err != nil {
		t.Fatal(err)
	}
	var st *panelState
	err = waitFor("chart with [banana cat]", 20*time.Second, func() (bool, error) {
		st, err = eval[*panelState](page, jsPanelState, "classes")
		return err == nil && st != nil && strings.Join(st.Categories, "|") == "banana|cat", err
	})
	if err != nil {
		t.Fatalf("%v: state %+v", err, st)
	}
	f.mu.Lock()
	last := f.classes[len(f.classes)-1]
	auth := f.auth[len(f.auth)-1]
	f.mu.Unlock()
	if strings.Join(last, "|") != "banana|cat" || auth != "Bearer "+browserTok {
		t.Errorf("last request: classes %q, Authorization %q; want [banana cat] and the browser token", last, auth)
	}
	// A server error is shown in place, and the chart keeps its last state.
	if err := page.Keyboard.Type(input.Enter, 'b', 'a', 'd'); err != nil {
		t.Fatal(err)
	}
	err = waitFor("error shown", 20*time.Second, func() (bool, error) {
		st, err = eval[*panelState](page, jsPanelState, "classes")
		return err == nil && st != nil && strings.Contains(st.Error, `"bad" is not allowed`), err
	})
	if err != nil || strings.Join(st.Categories, "|") != "banana|cat" {
		t.Fatalf("%v: state %+v", err, st)
	}
}

// TestSearchPanelInChromium checks the live search panel and the checks livecheck makes of it
// (typeQuery, moveSlider) against a fake server: a typed query reaches the server, the panel then
// shows the server's ranking and scores, its result images are fetched with the browser token and
// decoded, and moving the k slider redraws the panel and updates the value shown beside it.
func TestSearchPanelInChromium(t *testing.T) {
	f, page := panelPage(t, 4, func(c widgets.Server, g widgets.Gallery) (widgets.Panel, error) {
		return widgets.SearchPanel(c, g, "a cat", 2)
	})
	var r NotebookResult
	if err := typeQuery(Options{}, page, "query", "a red bicycle", "typed", &r); err != nil {
		t.Fatal(err)
	}
	if len(r.Search) != 1 || r.Search[0].Images != 2 || !r.Search[0].Changed || len(r.Search[0].Hits) != 2 {
		t.Fatalf("search step %+v: want 2 hits, 2 images loaded, changed", r.Search)
	}
	f.mu.Lock()
	queries, thumbs := append([]string(nil), f.queries...), append([]string(nil), f.thumbs...)
	f.mu.Unlock()
	if queries[len(queries)-1] != "a red bicycle" {
		t.Errorf("last search request %q, want the typed query", queries[len(queries)-1])
	}
	if len(thumbs) < 2 {
		t.Fatalf("%d thumbnail requests, want at least 2", len(thumbs))
	}
	for _, th := range thumbs {
		if !strings.HasSuffix(th, " "+browserTok) {
			t.Errorf("thumbnail request %q: want the browser token", strings.ReplaceAll(th, fullTok, "FULL"))
		}
	}
	// k: the slider (2 of 4) moves right; the panel redraws with more hits and shows the new k.
	if err := moveSlider(page, "k", &r); err != nil {
		t.Fatal(err)
	}
	st, err := eval[*panelState](page, jsPanelState, "k")
	if err != nil || st == nil || st.Shown != "4" || len(st.Categories) != 4 {
		t.Fatalf("after moving k to the end: state %+v (%v), want 4 hits and \"4\" shown", st, err)
	}
	// Typing a query the panel already shows changes nothing: typeQuery says so.
	if err := typeQuery(Options{}, page, "query", "a red bicycle", "again", &r); err == nil || !strings.Contains(err.Error(), "no redraw") && !strings.Contains(err.Error(), "as they were") {
		t.Errorf("typing the same query again: error %v, want one saying the results did not change", err)
	}
}
