package serve

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
)

// TestThroughJupyterServerProxy checks the browser's path: Jupyter (with jupyter-server-proxy)
// forwards <jupyter>/proxy/PORT/... to the model server, Jupyter's own auth applies, and the
// model server's token still does. Slow (starts Jupyter): runs only with CLIPKIT_PROXY_TEST=1.
func TestThroughJupyterServerProxy(t *testing.T) {
	if os.Getenv("CLIPKIT_PROXY_TEST") != "1" {
		t.Skip("starts a Jupyter server; set CLIPKIT_PROXY_TEST=1 (needs scripts/setup-notebooks.sh)")
	}
	opt := testOptions(t)
	c := attach(t, opt)
	j, err := StartJupyter("")
	if err != nil {
		t.Fatal(err)
	}
	defer j.Stop()
	base := j.ProxyBase(c.Port())
	get := func(method, url, bearer, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, url, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		client := http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	st, body := get("GET", base+"healthz?token="+j.Token, "", "")
	var h Health
	if st != 200 || json.Unmarshal([]byte(body), &h) != nil || h.PID != c.PID() {
		t.Fatalf("GET %shealthz through the proxy: %d %.300s", base, st, body)
	}
	// Jupyter's auth applies: no Jupyter token (or cookie), no access.
	if st, body := get("GET", base+"healthz", "", ""); st == 200 {
		t.Errorf("the proxy answered without Jupyter's token: %d %.200s", st, body)
	}
	// The model server's token still applies behind the proxy.
	if st, _ := get("POST", base+"v1/encode/text?token="+j.Token, "", `{"texts":["a"]}`); st != 401 {
		t.Errorf("POST through the proxy without the model server's token: %d, want 401", st)
	}
	st, body = get("POST", base+"v1/encode/text?token="+j.Token, c.Token(), `{"texts":["a cat"]}`)
	if st != 200 || !strings.Contains(body, `"embeddings"`) {
		t.Errorf("POST through the proxy with both tokens: %d %.200s", st, body)
	}
	// The browser token (the one panels' outputs carry) reaches /v1/info but not what it does
	// not allow, behind the proxy too.
	if st, body := get("GET", base+"v1/info?token="+j.Token, c.BrowserToken(), ""); st != 200 {
		t.Errorf("GET v1/info through the proxy with the browser token: %d %.200s", st, body)
	}
	if st, body := get("POST", base+"v1/encode/text?token="+j.Token, c.BrowserToken(), `{"texts":["a"]}`); st != 403 || !strings.Contains(body, "browser token") {
		t.Errorf("POST v1/encode/text through the proxy with the browser token: %d %.200s, want 403", st, body)
	}
}
