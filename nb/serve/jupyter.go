package serve

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	api "github.com/clipkit/clipkit/cliplib/serve"
	"github.com/clipkit/clipkit/nb/notebook"
)

// Jupyter is a Jupyter server with jupyter-server-proxy, started by StartJupyter for checks and
// benchmarks of the path browser widgets take: <Jupyter>/proxy/PORT/... to the model server.
type Jupyter struct {
	// URL is the Jupyter server's base URL, e.g. http://127.0.0.1:PORT (no trailing slash).
	URL string
	// Token is Jupyter's own token (?token=, or "Authorization: token ..." where the model
	// server's Bearer token is not needed).
	Token string
	cmd   *exec.Cmd
	dir   string
	log   string
}

// StartJupyter starts `jupyter server` (binary jupyter; default $CLIPKIT_JUPYTER, else the
// repository's .venv/bin/jupyter) on a free loopback port with a random token and the
// jupyter_server_proxy extension, in its own process group, and waits until it answers.
func StartJupyter(jupyter string) (*Jupyter, error) {
	if jupyter == "" {
		jupyter = os.Getenv("CLIPKIT_JUPYTER")
	}
	if jupyter == "" {
		root, err := notebook.RepoRoot()
		if err != nil {
			return nil, fmt.Errorf("serve.StartJupyter: %w", err)
		}
		jupyter = filepath.Join(root, ".venv", "bin", "jupyter")
	}
	if _, err := os.Stat(jupyter); err != nil {
		return nil, fmt.Errorf("serve.StartJupyter: %w (run scripts/setup-notebooks.sh)", err)
	}
	token, err := api.NewToken()
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	dir, err := os.MkdirTemp("", "clipkit-jupyter")
	if err != nil {
		return nil, err
	}
	j := &Jupyter{URL: fmt.Sprintf("http://127.0.0.1:%d", port), Token: token, dir: dir, log: filepath.Join(dir, "jupyter.log")}
	logf, err := os.Create(j.log)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	j.cmd = exec.Command(jupyter, "server", "--no-browser", "--ServerApp.ip=127.0.0.1",
		fmt.Sprintf("--ServerApp.port=%d", port), "--ServerApp.port_retries=0",
		"--IdentityProvider.token="+token, "--ServerApp.root_dir="+dir,
		"--ServerApp.jpserver_extensions=jupyter_server_proxy=True")
	if os.Geteuid() == 0 { // containers and CI run as root; Jupyter refuses that without the flag
		j.cmd.Args = append(j.cmd.Args, "--allow-root")
	}
	j.cmd.Dir = dir
	j.cmd.Env = append(os.Environ(), "JUPYTER_RUNTIME_DIR="+filepath.Join(dir, "runtime"))
	j.cmd.Stdout, j.cmd.Stderr = logf, logf
	j.cmd.SysProcAttr = detached()
	if err := j.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("serve.StartJupyter: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- j.cmd.Wait() }()
	deadline := time.Now().Add(90 * time.Second)
	for {
		select {
		case err := <-exited:
			tail := logTail(j.log)
			os.RemoveAll(dir)
			return nil, fmt.Errorf("serve.StartJupyter: jupyter server exited (%v). %s", err, tail)
		case <-time.After(200 * time.Millisecond):
		}
		resp, err := http.Get(j.URL + "/api/status?token=" + token)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			tail := logTail(j.log)
			j.Stop()
			return nil, fmt.Errorf("serve.StartJupyter: jupyter server not answering after 90 s. %s", tail)
		}
	}
	// The extension logs its loading; without it /proxy/ is a 404.
	for i := 0; i < 50; i++ {
		b, _ := os.ReadFile(j.log)
		if strings.Contains(string(b), "jupyter_server_proxy | extension was successfully loaded") {
			return j, nil
		}
		if strings.Contains(string(b), "jupyter_server_proxy") && strings.Contains(string(b), "ModuleNotFoundError") {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	tail := logTail(j.log)
	j.Stop()
	return nil, fmt.Errorf("serve.StartJupyter: %s did not load jupyter_server_proxy (install it: scripts/setup-notebooks.sh). %s", jupyter, tail)
}

// ProxyBase is the URL of a loopback port through jupyter-server-proxy: URL/proxy/PORT/.
func (j *Jupyter) ProxyBase(port int) string { return fmt.Sprintf("%s/proxy/%d/", j.URL, port) }

// Stop ends the Jupyter server's process group and removes its directory.
func (j *Jupyter) Stop() {
	if j.cmd != nil && j.cmd.Process != nil {
		terminateGroup(j.cmd.Process.Pid)
	}
	os.RemoveAll(j.dir)
}
