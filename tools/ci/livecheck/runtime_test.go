package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
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
	var req struct {
		Paths   []string `json:"paths"`
		Classes []string `json:"classes"`
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
		_ = json.NewEncoder(w).Encode(map[string]any{"id": "g1", "n": len(req.Paths)})
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

// TestPanelRuntimeInChromium checks the browser side of nb/widgets without Jupyter: typed
// "banana⏎cat" reaches the server as two classes with the browser token (the page holds no full
// token), the chart is redrawn with them, and a server error shows in place.
func TestPanelRuntimeInChromium(t *testing.T) {
	if os.Getenv("CLIPKIT_BROWSER_TEST") != "1" {
		t.Skip("set CLIPKIT_BROWSER_TEST=1 to run the headless Chromium checks")
	}
	if _, err := plots.LibraryPath(); err != nil {
		t.Fatal(err)
	}
	bin, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatal("chromium not found")
	}
	f := &fakeModel{}
	srv := httptest.NewServer(f)
	defer srv.Close()
	c := fakeClient{f, srv.URL}
	dir := t.TempDir()
	var paths []string
	for _, n := range []string{"a.png", "b.png"} {
		p := filepath.Join(dir, n)
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	g, err := widgets.NewGallery(c, "two", paths, nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err := widgets.ZeroShotPanel(c, g, []string{"dog"}, []string{"a photo of a {}."}, false)
	if err != nil {
		t.Fatal(err)
	}
	h, err := p.HTML()
	if err != nil {
		t.Fatal(err)
	}
	f.page = "<!DOCTYPE html><html><body>" + h + "</body></html>"
	if strings.Contains(f.page, fullTok) || !strings.Contains(f.page, browserTok) {
		t.Fatalf("the panel's page holds the full token, or lacks the browser token")
	}

	l := launcher.New().Bin(bin).Headless(true).NoSandbox(true).Leakless(false).UserDataDir(t.TempDir()).
		Set("disable-gpu").Set("disable-dev-shm-usage").Set("disable-background-networking")
	defer l.Cleanup()
	u, err := l.Launch()
	if err != nil {
		t.Fatal(err)
	}
	defer l.Kill()
	browser := rod.New().ControlURL(u)
	if err := browser.Connect(); err != nil {
		t.Fatal(err)
	}
	defer browser.Close()
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
		t.Fatal(err)
	}
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
