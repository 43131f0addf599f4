package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/clipkit/clipkit/cliplib/serve"
)

// reportServers gives the notebooks of one `clipx report` run model servers of their own: it
// points $CLIPKIT_SERVE_DIR (state files and logs) at a new temporary folder, so that the run
// neither attaches to a server the user started nor leaves one behind, sets $CLIPKIT_CLIPX to this
// executable (the servers run the same clipx as the report; an explicit setting is kept) and, unless
// set, $CLIPKIT_SERVE_IDLE to 10m (a safety net should the report be killed). The notebooks of the
// run share those servers. stop shuts every one of them down; it keeps the folder (and says so)
// when a notebook failed, for the servers' logs.
func reportServers() (stop func(failed bool), err error) {
	dir, err := os.MkdirTemp("", "clipx-report-serve-")
	if err != nil {
		return nil, fmt.Errorf("model server folder: %w", err)
	}
	restore := setenvs(map[string]string{serve.EnvDir: dir})
	if os.Getenv("CLIPKIT_CLIPX") == "" {
		if exe, err := os.Executable(); err == nil {
			restore = chain(restore, setenvs(map[string]string{"CLIPKIT_CLIPX": exe}))
		}
	}
	if os.Getenv("CLIPKIT_SERVE_IDLE") == "" {
		restore = chain(restore, setenvs(map[string]string{"CLIPKIT_SERVE_IDLE": "10m"}))
	}
	return func(failed bool) {
		defer restore()
		n := stopServers(dir, 15*time.Second)
		if n > 0 {
			fmt.Fprintf(os.Stderr, "clipx report: stopped %d model server(s) the notebooks started\n", n)
		}
		if failed {
			fmt.Fprintf(os.Stderr, "clipx report: model server logs kept in %s\n", dir)
			return
		}
		os.RemoveAll(dir)
	}, nil
}

// stopServers asks every server with a state file in dir to shut down (POST /v1/shutdown with
// its token), interrupts those that do not exit within wait, and returns how many there were.
func stopServers(dir string, wait time.Duration) int {
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	var pids []int
	hc := http.Client{Timeout: 5 * time.Second}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		var st serve.State
		if json.Unmarshal(b, &st) != nil || st.PID <= 0 || !strings.HasPrefix(st.URL, "http://127.") {
			continue
		}
		pids = append(pids, st.PID)
		req, err := http.NewRequest("POST", st.URL+"/v1/shutdown", strings.NewReader("{}"))
		if err != nil {
			continue
		}
		req.Header.Set("Authorization", "Bearer "+st.Token)
		if resp, err := hc.Do(req); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}
	deadline := time.Now().Add(wait)
	for _, pid := range pids {
		for processAlive(pid) && time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond)
		}
		if processAlive(pid) {
			if p, err := os.FindProcess(pid); err == nil {
				p.Signal(os.Interrupt)
			}
		}
	}
	return len(pids)
}

// setenvs sets environment variables and returns a function that restores their old values.
func setenvs(vars map[string]string) (restore func()) {
	old := map[string]*string{}
	for k, v := range vars {
		if o, ok := os.LookupEnv(k); ok {
			old[k] = &o
		} else {
			old[k] = nil
		}
		os.Setenv(k, v)
	}
	return func() {
		for k, o := range old {
			if o == nil {
				os.Unsetenv(k)
			} else {
				os.Setenv(k, *o)
			}
		}
	}
}

func chain(a, b func()) func() { return func() { b(); a() } }
