package main

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clipkit/clipkit/cliplib/serve"
)

// TestServeWritesStateAndRemovesItAtExit runs clipx serve on the tiny random model: the ready line
// equals the state file, the server answers, and POST /v1/shutdown ends it and removes the file.
func TestServeWritesStateAndRemovesItAtExit(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("CLIPKIT_CACHE", dir)
	state := filepath.Join(dir, "state.json")
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- runServe(serveOptions{model: "tiny-vit", backend: "go", random: true, idle: time.Minute,
			addr: "127.0.0.1:0", state: state, log: filepath.Join(dir, "serve.log"), noCache: true, stdout: pw})
		pw.Close()
	}()
	lineCh := make(chan string, 1)
	go func() {
		b := make([]byte, 4096)
		n, _ := pr.Read(b)
		lineCh <- string(b[:n])
		io.Copy(io.Discard, pr)
	}()
	var line string
	select {
	case line = <-lineCh:
	case err := <-done:
		t.Fatalf("clipx serve ended before its ready line: %v", err)
	case <-time.After(2 * time.Minute):
		t.Fatal("no ready line after 2 minutes")
	}
	var st serve.State
	if err := json.Unmarshal([]byte(line), &st); err != nil {
		t.Fatalf("ready line %q: %v", line, err)
	}
	b, err := os.ReadFile(state)
	if err != nil || strings.TrimSpace(string(b)) != strings.TrimSpace(line) {
		t.Fatalf("state file %q (%v) differs from the ready line %q", b, err, line)
	}
	if fi, _ := os.Stat(state); fi.Mode().Perm() != 0o600 {
		t.Errorf("state file (it holds the tokens) has mode %v, want 0600", fi.Mode().Perm())
	}
	if st.PID != os.Getpid() || len(st.Token) != 32 || st.Model != "tiny-vit" || !st.RandomWeights || st.Log != filepath.Join(dir, "serve.log") {
		t.Errorf("state %+v", st)
	}
	resp, err := http.Get(st.URL + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz: %v %v", err, resp)
	}
	resp.Body.Close()
	if len(st.BrowserToken) != 32 || st.BrowserToken == st.Token {
		t.Errorf("browser token %q: want 32 hex digits, different from the full token", st.BrowserToken)
	}
	// The browser token is accepted for what panels call, and cannot stop the server.
	for _, c := range []struct {
		method, path string
		want         int
	}{{"GET", "/v1/info", 200}, {"POST", "/v1/shutdown", 403}} {
		req, _ := http.NewRequest(c.method, st.URL+c.path, nil)
		req.Header.Set("Authorization", "Bearer "+st.BrowserToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != c.want {
			t.Fatalf("%s %s with the browser token: %v %v, want %d", c.method, c.path, err, resp, c.want)
		}
		resp.Body.Close()
	}
	req, _ := http.NewRequest("POST", st.URL+"/v1/shutdown", nil)
	req.Header.Set("Authorization", "Bearer "+st.Token)
	if resp, err = http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("shutdown: %v %v", err, resp)
	}
	resp.Body.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("clipx serve did not stop after POST /v1/shutdown")
	}
	if _, err := os.Stat(state); !os.IsNotExist(err) {
		t.Errorf("state file still there after exit: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "serve.log")); !strings.Contains(string(b), "stopping: shutdown request") {
		t.Errorf("log does not say why it stopped:\n%s", b)
	}
}

func TestServeRefusesBadFlags(t *testing.T) {
	t.Setenv("CLIPKIT_CACHE", t.TempDir())
	for _, args := range [][]string{
		{"--addr", "0.0.0.0:0", "--random-weights", "--model", "tiny-vit"},
		{"--idle", "-1s"},
		{"extra"},
	} {
		if err := clipx(append([]string{"serve"}, args...)...); !errors.Is(err, errUsage) {
			t.Errorf("clipx serve %q: %v, want a usage error", args, err)
		}
	}
}
