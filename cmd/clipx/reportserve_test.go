//go:build unix

package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/clipkit/clipkit/cliplib/serve"
)

func TestReportStopsTheServersOfItsRun(t *testing.T) {
	for _, tc := range []struct {
		name    string
		obeys   bool // the server exits on POST /v1/shutdown
		wantTok bool
	}{
		{"server that exits on the shutdown request", true, true},
		{"server that ignores it is interrupted", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			child := exec.Command("sleep", "60") // stands in for the server process
			if err := child.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan struct{})
			go func() { child.Wait(); close(done) }()
			t.Cleanup(func() { child.Process.Kill(); <-done })
			const token = "0123456789abcdef0123456789abcdef"
			var gotToken atomic.Bool
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/v1/shutdown" && r.Header.Get("Authorization") == "Bearer "+token {
					gotToken.Store(true)
					if tc.obeys {
						child.Process.Kill()
						<-done
					}
				}
			}))
			defer ts.Close()
			st, _ := json.Marshal(serve.State{URL: ts.URL, Token: token, PID: child.Process.Pid, Model: "tiny-vit"})
			os.WriteFile(filepath.Join(dir, "tiny-vit_go_f32_random.json"), st, 0o600)
			os.WriteFile(filepath.Join(dir, "tiny-vit_go_f32_random.log"), []byte("log"), 0o600)

			if n := stopServers(dir, 500*time.Millisecond); n != 1 {
				t.Errorf("stopServers found %d servers, want 1", n)
			}
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				t.Fatal("the server process is still running after stopServers")
			}
			if gotToken.Load() != tc.wantTok {
				t.Errorf("shutdown request with the token: %v", gotToken.Load())
			}
		})
	}
}

func TestReportServersUseAFolderOfTheirOwn(t *testing.T) {
	t.Setenv(serve.EnvDir, "/somewhere/else")
	t.Setenv("CLIPKIT_CLIPX", "")
	t.Setenv("CLIPKIT_SERVE_IDLE", "")
	stop, err := reportServers()
	if err != nil {
		t.Fatal(err)
	}
	dir := os.Getenv(serve.EnvDir)
	exe, _ := os.Executable()
	if dir == "/somewhere/else" || serve.Dir() != dir || os.Getenv("CLIPKIT_CLIPX") != exe || os.Getenv("CLIPKIT_SERVE_IDLE") != "10m" {
		t.Errorf("during the run: %s=%q, CLIPKIT_CLIPX=%q, CLIPKIT_SERVE_IDLE=%q", serve.EnvDir, dir, os.Getenv("CLIPKIT_CLIPX"), os.Getenv("CLIPKIT_SERVE_IDLE"))
	}
	stop(false)
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("the run's server folder %s is left: %v", dir, err)
	}
	if os.Getenv(serve.EnvDir) != "/somewhere/else" || os.Getenv("CLIPKIT_CLIPX") != "" {
		t.Errorf("environment not restored: %s=%q", serve.EnvDir, os.Getenv(serve.EnvDir))
	}
}
