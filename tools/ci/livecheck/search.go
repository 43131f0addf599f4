package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/go-rod/rod"
	"github.com/go-rod/rod/lib/input"

	"github.com/clipkit/clipkit/cliplib/serve"
)

// The live search panel (widgets.LiveSearch: a query box, a k slider, a slot of result images and
// a bar chart of their scores) is checked by typing a query and waiting until the panel shows
// exactly what the model server answers for it: the same items in the same order, each result
// image fetched by the browser through jupyter-server-proxy with the panel's (browser) token and
// decoded.

// JavaScript for the search panel of control name.
const (
	// jsSearchState returns the control's value, the panel's redraw count and its result images:
	// whether each goes through the proxy (port, gallery, item, token from its address), whether
	// it is decoded (complete, naturalWidth) and the HTTP status of its request (Resource Timing).
	jsSearchState = `(name) => {
  const ctl = document.querySelector(".clipkit-panel[data-clipkit-live] [data-clipkit-name='" + name + "']");
  if (!ctl) return null;
  const p = ctl.closest(".clipkit-panel");
  const imgs = Array.from(p.querySelectorAll(".clipkit-slot img")).map(im => {
    const u = new URL(im.src, location.href);
    const m = /\/proxy\/(\d+)\/v1\/galleries\/([^\/]+)\/images\/(\d+)$/.exec(u.pathname);
    const e = performance.getEntriesByName(u.href).slice(-1)[0];
    return {proxied: !!m && u.origin === location.origin, port: m ? m[1] : "", gallery: m ? decodeURIComponent(m[2]) : "",
            index: m ? parseInt(m[3], 10) : -1, token: u.searchParams.get("token") || "",
            complete: im.complete, width: im.naturalWidth, status: e ? (e.responseStatus || 0) : -1};
  });
  return {value: ctl.value, redraws: parseInt(p.getAttribute("data-clipkit-redraws") || "0", 10), images: imgs};
}`
	// jsSearchAnswer asks the model server, through the proxy as the panel does, for the top k of
	// a query over a gallery; it returns the HTTP status and the answer's text.
	jsSearchAnswer = `async (port, gallery, token, query, k) => {
  const m = document.cookie.match(/(?:^|;\s*)_xsrf=([^;]*)/);
  const r = await fetch(window.clipkitWidgets.baseUrl() + "proxy/" + port + "/v1/search", {method: "POST", credentials: "same-origin",
    headers: {"Content-Type": "application/json", "Authorization": "Bearer " + token, "X-XSRFToken": m ? decodeURIComponent(m[1]) : ""},
    body: JSON.stringify({gallery: gallery, query: query, k: k})});
  return {status: r.status, body: await r.text()};
}`
	// jsSliderEnd says whether a range control is at its maximum.
	jsSliderEnd = `(name) => { const c = document.querySelector(".clipkit-panel[data-clipkit-live] [data-clipkit-name='" + name + "']");
  return !!c && parseFloat(c.value) >= parseFloat(c.max); }`
)

type searchImage struct {
	Proxied  bool   `json:"proxied"`
	Port     string `json:"port"`
	Gallery  string `json:"gallery"`
	Index    int    `json:"index"`
	Token    string `json:"token"`
	Complete bool   `json:"complete"`
	Width    int    `json:"width"`
	Status   int    `json:"status"`
}

type searchState struct {
	Value   string         `json:"value"`
	Redraws int            `json:"redraws"`
	Images  []*searchImage `json:"images"`
}

// proxied reports whether the panel shows result images and every one comes through the proxy
// from one gallery of one server (the first render's images are embedded by the kernel).
func (s *searchState) proxied() bool {
	if s == nil || len(s.Images) == 0 {
		return false
	}
	for _, im := range s.Images {
		if !im.Proxied || im.Port != s.Images[0].Port || im.Gallery != s.Images[0].Gallery || im.Token != s.Images[0].Token {
			return false
		}
	}
	return true
}

// indices are the gallery items the images show, in order.
func (s *searchState) indices() []int {
	out := make([]int, len(s.Images))
	for i, im := range s.Images {
		out[i] = im.Index
	}
	return out
}

// loaded reports whether every image was fetched with a 200 and decoded.
func (s *searchState) loaded() bool {
	for _, im := range s.Images {
		if !im.Complete || im.Width <= 0 || im.Status != 200 {
			return false
		}
	}
	return len(s.Images) > 0
}

// searchAnswer is the part of the server's /v1/search answer compared with the panel.
type searchAnswer struct {
	Hits []struct {
		Index int     `json:"index"`
		Score float64 `json:"score"`
	} `json:"hits"`
}

// typeQuery replaces the search panel's query by query, typed with real key events, and checks
// that the panel then shows the server's answer for it (items and order, scores in the chart),
// that the result differs from what the panel showed before, and that every result image was
// fetched through the proxy with the browser token (200) and decoded. It appends what it saw to
// r.Search.
func typeQuery(o Options, page *rod.Page, name, query, when string, r *NotebookResult) error {
	before, err := eval[*panelState](page, jsPanelState, name)
	if err != nil || before == nil {
		return fmt.Errorf("no live query box %q (%v)", name, err)
	}
	// The images' HTTP statuses come from Resource Timing, whose buffer (250 entries by default)
	// JupyterLab's own requests may have filled: make room first.
	if _, err := eval[bool](page, `() => { performance.setResourceTimingBufferSize(100000); return true; }`); err != nil {
		return err
	}
	if ok, err := eval[bool](page, jsFocus, name); err != nil || !ok {
		return fmt.Errorf("cannot focus the %q box (%v)", name, err)
	}
	keys := make([]input.Key, 0, len(query))
	for _, ch := range query {
		keys = append(keys, input.Key(ch))
	}
	if err := page.Keyboard.Type(keys...); err != nil {
		return err
	}
	step := SearchStep{When: when, Query: query}
	var st *searchState
	var ps *panelState
	var want []int
	var wantScores []string
	why := "no redraw"
	err = waitFor(fmt.Sprintf("the search panel to show the answer for %q with its images loaded", query), 60*time.Second, func() (bool, error) {
		var err error
		if st, err = eval[*searchState](page, jsSearchState, name); err != nil || st == nil {
			return false, err
		}
		if st.Value != query {
			why = fmt.Sprintf("the box holds %q", st.Value)
			return false, nil
		}
		if ps, err = eval[*panelState](page, jsPanelState, name); err != nil || ps == nil {
			return false, err
		}
		if ps.Error != "" {
			return false, fmt.Errorf("the panel shows an error: %s", ps.Error)
		}
		if st.Redraws <= before.Redraws || !st.proxied() {
			why = "no redraw with result images through the proxy yet"
			return false, nil
		}
		if want == nil { // the server's answer, asked once the panel has shown which gallery and server it uses
			im := st.Images[0]
			a, err := eval[struct {
				Status int    `json:"status"`
				Body   string `json:"body"`
			}](page, jsSearchAnswer, im.Port, im.Gallery, im.Token, query, len(st.Images))
			if err != nil {
				return false, err
			}
			var ans searchAnswer
			if a.Status != 200 || json.Unmarshal([]byte(a.Body), &ans) != nil || len(ans.Hits) == 0 {
				return false, fmt.Errorf("the model server answered the search %q through the proxy with HTTP %d: %.200s", query, a.Status, a.Body)
			}
			want = []int{}
			for _, h := range ans.Hits {
				want = append(want, h.Index)
				wantScores = append(wantScores, strconv.FormatFloat(h.Score, 'f', 3, 64))
			}
		}
		got := scores(ps.Data)
		if !slices.Equal(st.indices(), want) || !slices.Equal(got, wantScores) {
			why = fmt.Sprintf("the panel shows items %v scored %v, the server answers %v scored %v", st.indices(), got, want, wantScores)
			return false, nil
		}
		if !st.loaded() {
			why = fmt.Sprintf("result images not all loaded: %s", describeImages(st))
			return false, nil
		}
		return true, nil
	})
	if st != nil {
		for _, im := range st.Images {
			if im.Complete && im.Width > 0 {
				step.Images++
			}
			step.Statuses = append(step.Statuses, im.Status)
		}
	}
	if ps != nil {
		step.Hits, step.Scores = ps.Categories, scores(ps.Data)
		b := scores(before.Data)
		step.Changed = !slices.Equal(ps.Categories, before.Categories) || len(b) == 0 || len(step.Scores) == 0 || b[0] != step.Scores[0]
	}
	r.Search = append(r.Search, step)
	if err != nil {
		return fmt.Errorf("%w (%s)", err, why)
	}
	if !step.Changed {
		return fmt.Errorf("typing %q left the search results as they were (%q, scores %v)", query, step.Hits, step.Scores)
	}
	if err := checkToken(o, st.Images[0]); err != nil {
		return err
	}
	logf("typed %q: the panel shows the server's top %d %q (scores %v), %d result image(s) loaded through the proxy (HTTP %v)",
		query, len(step.Hits), step.Hits, step.Scores, step.Images, step.Statuses)
	return nil
}

// scores reads the first series of a panelState's Data (JSON of the charts' series data) as
// numbers with 3 decimals (as the panel's score chart rounds them).
func scores(data string) []string {
	var series [][]any
	if json.Unmarshal([]byte(data), &series) != nil || len(series) == 0 {
		return nil
	}
	var out []string
	for _, v := range series[0] {
		switch x := v.(type) {
		case float64:
			out = append(out, strconv.FormatFloat(x, 'f', 3, 64))
		case map[string]any: // {value: x}
			if f, ok := x["value"].(float64); ok {
				out = append(out, strconv.FormatFloat(f, 'f', 3, 64))
			}
		}
	}
	return out
}

// describeImages says, without tokens, what state the result images are in.
func describeImages(s *searchState) string {
	var b []string
	for _, im := range s.Images {
		b = append(b, fmt.Sprintf("item %d: complete %v, width %d, HTTP %d", im.Index, im.Complete, im.Width, im.Status))
	}
	return strings.Join(b, "; ")
}

// checkToken checks, when the run has its own servers' state files, that the result images were
// fetched with the browser token of the server behind their proxy port, never with the full one.
func checkToken(o Options, im *searchImage) error {
	if o.ServeDir == "" {
		return nil
	}
	for _, st := range states(o.ServeDir) {
		if strconv.Itoa(st.Port) != im.Port {
			continue
		}
		switch im.Token {
		case st.BrowserToken:
			return nil
		case st.Token:
			return fmt.Errorf("the result images carry the server's full token: want its browser token")
		default:
			return fmt.Errorf("the result images carry a token that is not the browser token of the server on port %s", im.Port)
		}
	}
	return fmt.Errorf("no model server of this run listens on port %s (the result images' proxy port)", im.Port)
}

// states reads the model servers' state files in dir.
func states(dir string) []serve.State {
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	var out []serve.State
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		var st serve.State
		if json.Unmarshal(b, &st) == nil && st.PID > 0 && strings.HasPrefix(st.URL, "http://127.") {
			out = append(out, st)
		}
	}
	return out
}

// stopServers shuts down the model servers with a state file in dir (POST /v1/shutdown with the
// full token), interrupts those still running after 15 s, and returns how many there were.
func stopServers(dir string) int {
	sts := states(dir)
	hc := http.Client{Timeout: 5 * time.Second}
	for _, st := range sts {
		req, err := http.NewRequest("POST", st.URL+"/v1/shutdown", strings.NewReader("{}"))
		if err != nil {
			continue
		}
		req.Header.Set("Authorization", "Bearer "+st.Token)
		if resp, err := hc.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}
	deadline := time.Now().Add(15 * time.Second)
	for _, st := range sts {
		for syscall.Kill(st.PID, 0) == nil && time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond)
		}
		if syscall.Kill(st.PID, 0) == nil {
			_ = syscall.Kill(st.PID, syscall.SIGTERM)
		}
	}
	return len(sts)
}

// searchQueries are typed into a search panel: the first after the notebook ran, the second after
// the page reload (each differs from the notebooks' own queries).
var searchQueries = []string{"a red bicycle", "a snowy mountain"}
