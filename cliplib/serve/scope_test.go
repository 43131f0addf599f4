package serve

import (
	"bytes"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

const testBrowserToken = "fedcba9876543210fedcba9876543210"

// send sends a request with token (none when empty) as a bearer header and returns the status
// and body.
func send(t *testing.T, ts *httptest.Server, method, path, token string, body any) (int, string) {
	t.Helper()
	var r io.Reader
	if body != nil {
		js, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		r = bytes.NewReader(js)
	}
	req, err := http.NewRequest(method, ts.URL+path, r)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(raw)
}

// TestTokenScopes checks every endpoint with no token, the browser token and the full token: the
// browser token reaches only what live panels call (zero-shot and search over a registered
// gallery, thumbnails, healthz, info) and gets a 403 naming the browser token for the rest, for
// zero-shot over paths and for search by image path; the full token reaches everything.
func TestTokenScopes(t *testing.T) {
	var logBuf bytes.Buffer
	_, ts := newServer(t, Config{BrowserToken: testBrowserToken, Log: log.New(&logBuf, "", 0)})
	paths := writeImages(t, 3)
	var g GalleryResponse
	if st, body := call(t, ts, "POST", "/v1/galleries", GalleryRequest{Name: "scope", Paths: paths}, &g); st != 200 {
		t.Fatalf("galleries: %d %s", st, body)
	}
	png := pngBytes(t, 20, 20)
	classes := []string{"red", "blue"}
	type row struct {
		name, method, path  string
		body                any
		none, browser, full int
	}
	rows := []row{
		{"healthz", "GET", "/healthz", nil, 200, 200, 200},
		{"info", "GET", "/v1/info", nil, 401, 200, 200},
		{"thumbnail", "GET", "/v1/galleries/" + g.ID + "/images/1?size=32", nil, 401, 200, 200},
		{"zeroshot over a gallery", "POST", "/v1/zeroshot", ZeroShotRequest{Gallery: g.ID, Classes: classes, Temperature: 0.05}, 401, 200, 200},
		{"zeroshot over paths", "POST", "/v1/zeroshot", ZeroShotRequest{Paths: paths[:1], Classes: classes}, 401, 403, 200},
		{"zeroshot with gallery and empty paths", "POST", "/v1/zeroshot", map[string]any{"gallery": g.ID, "paths": []string{}, "classes": classes}, 401, 403, 200},
		{"search by text", "POST", "/v1/search", SearchRequest{Gallery: g.ID, Query: "a red square", K: 2}, 401, 200, 200},
		{"search by image path", "POST", "/v1/search", SearchRequest{Gallery: g.ID, ImagePath: paths[0]}, 401, 403, 200},
		{"encode text", "POST", "/v1/encode/text", EncodeTextRequest{Texts: []string{"a cat"}}, 401, 403, 200},
		{"encode images by path", "POST", "/v1/encode/images", EncodeImagesRequest{Paths: paths[:1]}, 401, 403, 200},
		{"encode image data", "POST", "/v1/encode/image-data", EncodeImageDataRequest{Images: [][]byte{png}}, 401, 403, 200},
		{"create a gallery", "POST", "/v1/galleries", GalleryRequest{Name: "other", Paths: paths[1:]}, 401, 403, 200},
		{"shutdown, wrong method", "GET", "/v1/shutdown", nil, 401, 403, 405},
		{"unknown path", "GET", "/v1/nothing", nil, 401, 404, 404},
		{"shutdown", "POST", "/v1/shutdown", nil, 401, 403, 200}, // last: the full token stops it
	}
	for _, r := range rows {
		for _, tok := range []struct {
			name, token string
			want        int
		}{{"no token", "", r.none}, {"browser token", testBrowserToken, r.browser}, {"full token", testToken, r.full}} {
			t.Run(r.name+"/"+tok.name, func(t *testing.T) {
				st, body := send(t, ts, r.method, r.path, tok.token, r.body)
				if st != tok.want {
					t.Fatalf("%s %s: status %d, want %d (%s)", r.method, r.path, st, tok.want, body)
				}
				if st == 200 {
					return
				}
				var e ErrorResponse
				if json.Unmarshal([]byte(body), &e) != nil || e.Error == "" {
					t.Fatalf("answer %q is not a JSON error", body)
				}
				if st == 403 && !strings.Contains(e.Error, "the browser token does not allow") {
					t.Errorf("403 says %q, want it to name the browser token", e.Error)
				}
			})
		}
	}
	// The log says which token each request carried, never the token itself.
	l := logBuf.String()
	if !strings.Contains(l, "POST /v1/zeroshot 200") || !strings.Contains(l, "403") || !strings.Contains(l, "(browser token)") ||
		!strings.Contains(l, "(full token)") || strings.Contains(l, testBrowserToken) || strings.Contains(l, testToken) {
		t.Errorf("log does not say which token requests carried, or holds one:\n%s", l)
	}
}

// TestBrowserTokenInQuery checks that the browser token works as ?token= (for <img src>) with the
// same scope as in the header.
func TestBrowserTokenInQuery(t *testing.T) {
	_, ts := newServer(t, Config{BrowserToken: testBrowserToken})
	paths := writeImages(t, 2)
	var g GalleryResponse
	if st, body := call(t, ts, "POST", "/v1/galleries", GalleryRequest{Name: "q", Paths: paths}, &g); st != 200 {
		t.Fatalf("galleries: %d %s", st, body)
	}
	if st, body := send(t, ts, "GET", "/v1/galleries/"+g.ID+"/images/0?token="+testBrowserToken, "", nil); st != 200 {
		t.Errorf("thumbnail with ?token=browser: %d %s", st, body)
	}
	if st, body := send(t, ts, "POST", "/v1/shutdown?token="+testBrowserToken, "", nil); st != 403 {
		t.Errorf("shutdown with ?token=browser: %d %s, want 403", st, body)
	}
}

// TestNewChecksBrowserToken checks that a short browser token, or one equal to the full token, is
// refused, and that a server without a browser token refuses it as any wrong token (401).
func TestNewChecksBrowserToken(t *testing.T) {
	m := tinyModel(t)
	for _, bt := range []string{"short", testToken} {
		if _, err := New(Config{Model: m, Token: testToken, BrowserToken: bt}); err == nil {
			t.Errorf("New accepted the browser token %q (full token %q)", bt, testToken)
		}
	}
	_, ts := newServer(t, Config{})
	if st, body := send(t, ts, "GET", "/v1/info", testBrowserToken, nil); st != 401 {
		t.Errorf("browser token on a server without one: %d %s, want 401", st, body)
	}
}
