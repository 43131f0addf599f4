// Command livecheck drives clipkit's live notebooks in JupyterLab with headless Chromium, as a
// researcher would, and checks that the live controls (nb/widgets) work while the kernel stays
// free:
//
//  1. starts JupyterLab (with jupyter-server-proxy and the GoNB kernel) on a free loopback port with
//     a random token, on copies of the notebooks beside the originals (removed afterwards);
//  2. for each notebook: runs all cells and checks that none failed and every chart drew;
//  3. notebook 02 (a classes box): types "banana⏎cat" into the box with real key events and checks
//     that the heat map's categories become exactly [banana, cat] (Enter makes a new line); then
//     types one letter at a time, each a new prompt for the model server, and measures the time
//     from the keydown to the redrawn chart (p50/p95 over --edits edits);
//  4. a notebook with a slider (08): moves the slider with the arrow keys and checks that the chart
//     changed (and the value shown beside the slider);
//  5. a notebook with a live search panel (05 or 15, widgets.LiveSearch): types a new query with
//     real key events and waits until the panel shows exactly the model server's answer for it
//     (items, order and scores, the server asked through the proxy as the panel does), different
//     from what it showed before, with every result image fetched through jupyter-server-proxy
//     with the server's browser token (HTTP 200, never the full token) and decoded
//     (naturalWidth > 0); then times the query box's edit-to-redraw latency as for 02;
//  6. with a control live, checks that the kernel is idle and runs another cell, which must finish
//     (the control does not hold the kernel);
//  7. reloads the page (the kernel keeps running), re-runs the live cell and checks that its
//     charts draw and its control works again (a search panel: another query, with its images).
//
// The kernels get a $CLIPKIT_SERVE_DIR of the run's own (unless one is set), so the model servers
// the notebooks start are the run's, and it stops them at the end.
//
// It prints a JSON summary (latency figures included) and exits non-zero on any failed check.
//
//	go run ./tools/ci/livecheck --out reports/live --notebooks 02-zero-shot,08-temperature,05-text-to-image-retrieval
//
// The environment reaches the kernel: CLIP_SMOKE=1 (the default here; --smoke=false for the real
// model), CLIP_MODEL, GOMLX_BACKEND. clipx should be on PATH (nb/serve otherwise builds it once).
package main

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/go-rod/rod"
	"github.com/go-rod/rod/lib/input"
	"github.com/go-rod/rod/lib/launcher"
	"github.com/go-rod/rod/lib/proto"

	"github.com/clipkit/clipkit/cliplib/serve"
)

// Options configure a run.
type Options struct {
	Repo       string        // repository root (notebooks/ inside)
	Jupyter    string        // jupyter executable
	Chromium   string        // browser executable
	Out        string        // screenshots, JupyterLab log, summary.json
	Edits      int           // latency samples on the text box
	CellWait   time.Duration // limit for running all cells of one notebook
	Smoke      bool          // CLIP_SMOKE=1 for the kernel
	Notebooks  []string      // names in notebooks/
	SkipReload bool
	// ServeDir is $CLIPKIT_SERVE_DIR for the kernels: a new temporary folder, so that the model
	// servers the notebooks start are this run's own (Run stops them at the end); empty: that
	// variable as inherited (or nb/serve's default), and the servers are left to their idle exit.
	ServeDir string
	TypeInto string // the notebook whose classes box gets "banana⏎cat" and the timed edits
}

// NotebookResult is what one notebook showed.
type NotebookResult struct {
	Notebook     string    `json:"notebook"`
	RunAllS      float64   `json:"run_all_s"`
	Charts       int       `json:"charts"`
	DrawnCharts  int       `json:"drawn_charts"`
	Panels       int       `json:"live_panels"`
	TypedClasses []string  `json:"typed_classes,omitempty"`
	SliderMoved  bool      `json:"slider_moved,omitempty"`
	KernelIdle   bool      `json:"kernel_idle_while_live"`
	OtherCellS   float64   `json:"other_cell_s"`
	ReloadDrawn  int       `json:"reload_drawn_charts"`
	LatenciesMS  []float64 `json:"latencies_ms,omitempty"`
	P50MS        float64   `json:"p50_ms,omitempty"`
	P95MS        float64   `json:"p95_ms,omitempty"`
	ServerMS     []float64 `json:"-"`
	// Search holds what a live search panel showed after each typed query (05, 15).
	Search []SearchStep `json:"search,omitempty"`
}

// SearchStep is one query typed into a live search panel and what the panel showed for it.
type SearchStep struct {
	When     string   `json:"when"`     // "typed", "after the reload"
	Query    string   `json:"query"`    // typed with real key events
	Hits     []string `json:"hits"`     // the score chart's categories ("1. name"), as the server ranked them
	Scores   []string `json:"scores"`   // the score chart's values
	Changed  bool     `json:"changed"`  // the hits or the first score differ from before the edit
	Images   int      `json:"images"`   // result images complete with naturalWidth > 0
	Statuses []int    `json:"statuses"` // HTTP status of each result image's request through the proxy
}

func main() {
	var o Options
	var nbs string
	flag.StringVar(&o.Repo, "repo", "", "repository root (default: the directory above tools/ that holds this checkout, found from the working directory)")
	flag.StringVar(&o.Jupyter, "jupyter", "", "jupyter executable (default: <repo>/.venv/bin/jupyter)")
	flag.StringVar(&o.Chromium, "chromium", "", "Chromium executable (default: chromium or chromium-browser on PATH)")
	flag.StringVar(&o.Out, "out", "reports/live", "directory for screenshots, the JupyterLab log and summary.json")
	flag.IntVar(&o.Edits, "edits", 20, "text edits timed for the edit-to-redraw latency")
	flag.DurationVar(&o.CellWait, "cell-wait", 6*time.Minute, "limit for running all cells of one notebook")
	flag.BoolVar(&o.Smoke, "smoke", true, "run the kernel in smoke mode (CLIP_SMOKE=1: tiny model, few samples)")
	flag.BoolVar(&o.SkipReload, "skip-reload", false, "skip the page-reload check")
	flag.StringVar(&nbs, "notebooks", "02-zero-shot,08-temperature", "comma-separated notebooks in notebooks/")
	flag.StringVar(&o.TypeInto, "type-into", "02-zero-shot", "the notebook (of --notebooks) with a classes box to type into and time")
	flag.Parse()
	o.Notebooks = strings.Split(nbs, ",")
	// Killed (CI time-out, Ctrl-C): stop JupyterLab, its kernels and Chromium before exiting.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		s := <-sig
		logf("%v: cleaning up", s)
		runCleanups()
		os.Exit(1)
	}()
	if os.Getenv(serve.EnvDir) == "" {
		d, err := os.MkdirTemp("", "livecheck-serve-")
		if err != nil {
			fmt.Fprintln(os.Stderr, "livecheck:", err)
			os.Exit(1)
		}
		o.ServeDir = d
		atExit(func() { stopServers(d); _ = os.RemoveAll(d) })
	}
	res, err := Run(o)
	if o.ServeDir != "" {
		if n := stopServers(o.ServeDir); n > 0 {
			logf("stopped %d model server(s) the notebooks started", n)
		}
		if err == nil {
			_ = os.RemoveAll(o.ServeDir)
		} else {
			logf("model server logs kept in %s", o.ServeDir)
		}
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	_ = enc.Encode(res)
	if o.Out != "" {
		if b, e := json.MarshalIndent(res, "", "  "); e == nil {
			_ = os.WriteFile(filepath.Join(o.Out, "summary.json"), b, 0o644)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "livecheck: FAILED:", err)
		os.Exit(1)
	}
	for _, r := range res {
		if len(r.LatenciesMS) > 0 {
			fmt.Printf("livecheck: %s: edit-to-redraw latency over %d edits: p50 %.0f ms, p95 %.0f ms\n", r.Notebook, len(r.LatenciesMS), r.P50MS, r.P95MS)
		}
	}
	fmt.Println("livecheck: ok")
}

var (
	cleanupMu sync.Mutex
	cleanups  []func()
)

// atExit registers f to run when the program is killed by a signal (deferred calls do not run then).
func atExit(f func()) {
	cleanupMu.Lock()
	defer cleanupMu.Unlock()
	cleanups = append(cleanups, f)
}

func runCleanups() {
	cleanupMu.Lock()
	defer cleanupMu.Unlock()
	for i := len(cleanups) - 1; i >= 0; i-- {
		cleanups[i]()
	}
	cleanups = nil
}

// Run performs the checks; it returns what it measured so far even on failure.
func Run(o Options) ([]NotebookResult, error) {
	var err error
	if o.Repo == "" {
		if o.Repo, err = findRepo(); err != nil {
			return nil, err
		}
	}
	if o.Jupyter == "" {
		o.Jupyter = filepath.Join(o.Repo, ".venv", "bin", "jupyter")
	}
	if o.Chromium == "" {
		for _, n := range []string{"chromium", "chromium-browser"} {
			if p, e := exec.LookPath(n); e == nil {
				o.Chromium = p
				break
			}
		}
		if o.Chromium == "" {
			return nil, errors.New("Chromium not found (apt-get install chromium, or --chromium PATH)")
		}
	}
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return nil, err
	}
	nbDir := filepath.Join(o.Repo, "notebooks")
	var copies []string
	defer func() {
		for _, c := range copies {
			_ = os.Remove(c)
			_ = os.Remove(filepath.Join(filepath.Dir(c), ".ipynb_checkpoints", strings.TrimSuffix(filepath.Base(c), ".ipynb")+"-checkpoint.ipynb"))
		}
	}()
	for _, n := range o.Notebooks {
		src, err := os.ReadFile(filepath.Join(nbDir, strings.TrimSuffix(n, ".ipynb")+".ipynb"))
		if err != nil {
			return nil, fmt.Errorf("notebook %q: %w", n, err)
		}
		c := filepath.Join(nbDir, "_livecheck_"+strings.TrimSuffix(n, ".ipynb")+".ipynb")
		if err := os.WriteFile(c, src, 0o644); err != nil {
			return nil, err
		}
		copies = append(copies, c)
		// Trusted, so that outputs restored after a reload may run their scripts too.
		_ = exec.Command(o.Jupyter, "trust", c).Run()
	}

	atExit(func() {
		for _, c := range copies {
			_ = os.Remove(c)
		}
	})
	jl, err := startJupyter(o, nbDir)
	if err != nil {
		return nil, err
	}
	defer jl.stop()
	atExit(jl.stop)

	userData, err := os.MkdirTemp("", "livecheck-profile-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(userData)
	l := launcher.New().Bin(o.Chromium).Headless(true).NoSandbox(true).Leakless(false).UserDataDir(userData).
		Set("disable-gpu").Set("disable-dev-shm-usage").Set("disable-background-networking").
		Set("disable-component-update").Set("disable-sync").Set("no-first-run").Set("disable-quic")
	defer l.Cleanup()
	controlURL, err := l.Launch()
	if err != nil {
		return nil, fmt.Errorf("starting %s: %w", o.Chromium, err)
	}
	defer l.Kill()
	atExit(l.Kill)
	browser := rod.New().ControlURL(controlURL)
	if err := browser.Connect(); err != nil {
		return nil, err
	}
	defer browser.Close()

	var results []NotebookResult
	for i, c := range copies {
		r := NotebookResult{Notebook: o.Notebooks[i]}
		err := checkNotebook(o, jl, browser, filepath.Base(c), strings.TrimSuffix(o.Notebooks[i], ".ipynb") == strings.TrimSuffix(o.TypeInto, ".ipynb"), &r)
		results = append(results, r)
		if err != nil {
			return results, fmt.Errorf("%s: %w (JupyterLab log: %s)", o.Notebooks[i], err, jl.logPath)
		}
	}
	return results, nil
}

func findRepo() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "notebooks")); err == nil {
			if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
				return d, nil
			}
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no repository (go.mod and notebooks/) above %s: pass --repo", wd)
		}
	}
}

type jupyterLab struct {
	cmd     *exec.Cmd
	port    int
	token   string
	logPath string
	done    chan error
	once    sync.Once
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// startJupyter starts JupyterLab on nbDir and waits until its API answers.
func startJupyter(o Options, nbDir string) (*jupyterLab, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	var tok [16]byte
	_, _ = rand.Read(tok[:])
	jl := &jupyterLab{port: port, token: hex.EncodeToString(tok[:]), logPath: filepath.Join(o.Out, "jupyterlab.log"), done: make(chan error, 1)}
	logf, err := os.Create(jl.logPath)
	if err != nil {
		return nil, err
	}
	settings, err := os.MkdirTemp("", "livecheck-lab-")
	if err != nil {
		return nil, err
	}
	// No news pop-up, no autosave of the working copies.
	_ = os.MkdirAll(filepath.Join(settings, "@jupyterlab", "docmanager-extension"), 0o755)
	_ = os.WriteFile(filepath.Join(settings, "@jupyterlab", "docmanager-extension", "plugin.jupyterlab-settings"), []byte(`{"autosave": false}`), 0o644)
	_ = os.MkdirAll(filepath.Join(settings, "@jupyterlab", "apputils-extension"), 0o755)
	_ = os.WriteFile(filepath.Join(settings, "@jupyterlab", "apputils-extension", "notification.jupyterlab-settings"), []byte(`{"fetchNews": "false", "checkForUpdates": false}`), 0o644)
	args := []string{"lab", "--no-browser", "--ip=127.0.0.1", fmt.Sprintf("--port=%d", port), "--port-retries=0",
		"--IdentityProvider.token=" + jl.token, "--ServerApp.root_dir=" + nbDir, "--LabApp.expose_app_in_browser=True",
		"--LabApp.user_settings_dir=" + settings, "--LabApp.workspaces_dir=" + settings}
	if os.Geteuid() == 0 {
		args = append(args, "--allow-root")
	}
	cmd := exec.Command(o.Jupyter, args...)
	cmd.Dir = nbDir
	env := os.Environ()
	if o.Smoke {
		env = append(env, "CLIP_SMOKE=1")
	}
	if o.ServeDir != "" {
		env = append(env, serve.EnvDir+"="+o.ServeDir)
	}
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", o.Jupyter, err)
	}
	jl.cmd = cmd
	go func() { jl.done <- cmd.Wait(); logf.Close() }()
	deadline := time.Now().Add(90 * time.Second)
	for {
		req, _ := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d/api/status", port), nil)
		req.Header.Set("Authorization", "token "+jl.token)
		if res, err := http.DefaultClient.Do(req); err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return jl, nil
			}
		}
		select {
		case err := <-jl.done:
			return nil, fmt.Errorf("JupyterLab exited (%v); log: %s", err, jl.logPath)
		case <-time.After(300 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			jl.stop()
			return nil, fmt.Errorf("JupyterLab did not answer within 90 s; log: %s", jl.logPath)
		}
	}
}

// stop ends JupyterLab and its kernels (its process group).
func (jl *jupyterLab) stop() { jl.once.Do(jl.kill) }

func (jl *jupyterLab) kill() {
	if jl.cmd == nil || jl.cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-jl.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-jl.done:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-jl.cmd.Process.Pid, syscall.SIGKILL)
		<-jl.done
	}
}

// JavaScript run in JupyterLab's page (window.jupyterapp exists with --LabApp.expose_app_in_browser).
const (
	jsNotebookReady = `(file) => {
  const app = window.jupyterapp; if (!app) return false;
  const w = app.shell.currentWidget; if (!w || !w.content || !w.sessionContext || !w.context || w.context.path !== file) return false;
  const k = w.sessionContext.session && w.sessionContext.session.kernel;
  return !!(k && w.context.isReady && k.connectionStatus === "connected" && (k.status === "idle" || k.status === "unknown"));
}`
	jsRunAll = `() => { window.jupyterapp.commands.execute("notebook:run-all-cells"); return true; }`
	// jsCells describes the code cells: execution count, whether queued/running, error text.
	jsCells = `() => {
  const nb = window.jupyterapp.shell.currentWidget.content;
  return nb.widgets.map((c, i) => {
    if (c.model.type !== "code") return null;
    const prompt = c.node.querySelector(".jp-InputArea-prompt");
    const outs = c.model.outputs.toJSON();
    let err = "";
    for (const o of outs) {
      if (o.output_type === "error") err += o.ename + ": " + o.evalue + "\n";
      if (o.output_type === "stream" && o.name === "stderr") {
        const t = Array.isArray(o.text) ? o.text.join("") : o.text;
        if (/(^|\n)(exit status \d+|signal: [a-z ]+)\s*$/.test(t)) err += t.slice(-800); // as clipx report: GoNB's last line for a failed cell
      }
    }
    return {index: i, count: c.model.executionCount, busy: !!(prompt && prompt.textContent.indexOf("*") >= 0), error: err,
            source: c.model.sharedModel.getSource().slice(0, 80)};
  });
}`
	jsKernelStatus = `() => window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.status`
	// jsRunCell runs cell i alone (run-all leaves every cell selected, which would run them all).
	jsRunCell = `(i) => { const w = window.jupyterapp.shell.currentWidget, nb = w.content;
  nb.deselectAll(); nb.activeCellIndex = i; nb.deselectAll();
  window.jupyterapp.commands.execute("notebook:run-cell"); return true; }`
	// jsCharts counts the clipkit charts in the notebook and those drawn (a canvas with pixels that differ).
	jsCharts = `(sel) => {
  const charts = Array.from(document.querySelectorAll((sel || "") + " .clipkit-chart"));
  let drawn = 0; const errors = [];
  for (const c of charts) {
    const e = c.querySelector("p[style*='#a00']"); if (e) { errors.push(e.textContent.slice(0, 200)); continue; }
    let ok = false;
    for (const cv of c.querySelectorAll("canvas")) {
      if (!cv.width || !cv.height) continue;
      const d = cv.getContext("2d").getImageData(0, 0, cv.width, cv.height).data;
      for (let i = 4 * 97; i < d.length; i += 4 * 97) { if (d[i] !== d[0] || d[i+1] !== d[1] || d[i+2] !== d[2] || d[i+3] !== d[3]) { ok = true; break; } }
      if (ok) break;
    }
    if (ok) drawn++;
  }
  return {charts: charts.length, drawn: drawn, errors: errors, panels: document.querySelectorAll(".clipkit-panel[data-clipkit-live]").length};
}`
	// jsPanelState returns a live panel's redraw count, its first chart's category labels and series data, its error text
	// and the text shown beside the control (a slider's value).
	jsPanelState = `(name) => {
  const ctl = document.querySelector(".clipkit-panel[data-clipkit-live] [data-clipkit-name='" + name + "']");
  if (!ctl) return null;
  const p = ctl.closest(".clipkit-panel");
  const el = p.querySelector(".clipkit-chart");
  const ch = el && window.echarts ? window.echarts.getInstanceByDom(el) : null;
  const opt = ch ? ch.getOption() : null;
  let cats = null;
  if (opt) { for (const a of [].concat(opt.xAxis || [], opt.yAxis || [])) { if (a.type === "category" && a.data && !cats) cats = a.data.map(String); } }
  const err = p.querySelector(".clipkit-error");
  return {redraws: parseInt(p.getAttribute("data-clipkit-redraws") || "0", 10), ms: parseFloat(p.getAttribute("data-clipkit-ms") || "0"),
          categories: cats, data: opt ? JSON.stringify(opt.series.map(s => s.data)) : "",
          error: err && err.style.display !== "none" ? err.textContent : "", status: (p.querySelector(".clipkit-status") || {}).textContent,
          shown: (p.querySelector("[data-clipkit-show='" + name + "']") || {}).textContent || ""};
}`
	// jsTimer records, for the control, the time of each keydown and of each redraw after it.
	jsTimer = `(name) => {
  const ctl = document.querySelector(".clipkit-panel[data-clipkit-live] [data-clipkit-name='" + name + "']");
  const p = ctl.closest(".clipkit-panel");
  window.__lc = {down: 0, lat: []};
  ctl.addEventListener("keydown", () => { window.__lc.down = performance.now(); }, true);
  new MutationObserver(() => {
    if (window.__lc.down) { window.__lc.lat.push(performance.now() - window.__lc.down); window.__lc.down = 0; }
  }).observe(p, {attributes: true, attributeFilter: ["data-clipkit-redraws"]});
  return true;
}`
	jsLatencies = `() => window.__lc ? window.__lc.lat : []`
	jsFocus     = `(name) => { const c = document.querySelector(".clipkit-panel[data-clipkit-live] [data-clipkit-name='" + name + "']");
  c.scrollIntoView(); c.focus(); if (c.select) c.select(); return document.activeElement === c; }`
)

func eval[T any](page *rod.Page, js string, args ...any) (T, error) {
	var v T
	obj, err := page.Timeout(30*time.Second).Eval(js, args...)
	if err != nil {
		return v, err
	}
	err = obj.Value.Unmarshal(&v)
	return v, err
}

// logf prints a progress line to stderr.
func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "livecheck %s: %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

// waitFor polls cond until it returns true or the time runs out.
func waitFor(what string, d time.Duration, cond func() (bool, error)) error {
	deadline := time.Now().Add(d)
	var last error
	for {
		ok, err := cond()
		if ok {
			return nil
		}
		if err != nil {
			last = err
		}
		if time.Now().After(deadline) {
			if last != nil {
				return fmt.Errorf("%s: not within %s (last error: %v)", what, d, last)
			}
			return fmt.Errorf("%s: not within %s", what, d)
		}
		time.Sleep(150 * time.Millisecond)
	}
}

type cellInfo struct {
	Index  int    `json:"index"`
	Count  *int   `json:"count"`
	Busy   bool   `json:"busy"`
	Error  string `json:"error"`
	Source string `json:"source"`
}

// waitCells waits until no code cell is queued or running and every one from 'from' on (only
// cell 'from' when only is set) has run.
func waitCells(page *rod.Page, d time.Duration, from int, only bool) ([]*cellInfo, error) {
	var cells []*cellInfo
	err := waitFor("cells to finish", d, func() (bool, error) {
		var err error
		cells, err = eval[[]*cellInfo](page, jsCells)
		if err != nil {
			return false, err
		}
		for _, c := range cells {
			if c == nil || c.Index < from || (only && c.Index != from) {
				continue
			}
			if c.Busy || (c.Count == nil && strings.TrimSpace(c.Source) != "") {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		return cells, err
	}
	var errs []string
	for _, c := range cells {
		if c != nil && c.Error != "" && (!only || c.Index == from) {
			errs = append(errs, fmt.Sprintf("cell %d (%q): %s", c.Index+1, c.Source, c.Error))
		}
	}
	if len(errs) > 0 {
		return cells, fmt.Errorf("%d cell(s) failed:\n%s", len(errs), strings.Join(errs, "\n"))
	}
	return cells, nil
}

func shot(o Options, page *rod.Page, name string) {
	png, err := page.Screenshot(false, &proto.PageCaptureScreenshot{Format: proto.PageCaptureScreenshotFormatPng})
	if err == nil {
		_ = os.WriteFile(filepath.Join(o.Out, name+".png"), png, 0o644)
	}
}

type chartCount struct {
	Charts int      `json:"charts"`
	Drawn  int      `json:"drawn"`
	Errors []string `json:"errors"`
	Panels int      `json:"panels"`
}

type panelState struct {
	Redraws    int      `json:"redraws"`
	MS         float64  `json:"ms"`
	Categories []string `json:"categories"`
	Data       string   `json:"data"`
	Error      string   `json:"error"`
	Status     string   `json:"status"`
	Shown      string   `json:"shown"`
}

func openNotebook(jl *jupyterLab, page *rod.Page, file string) error {
	// A workspace of its own, reset: nothing else (an earlier notebook) is restored into the page.
	ws := strings.NewReplacer(".", "-", "_", "-").Replace(strings.TrimSuffix(file, ".ipynb"))
	url := fmt.Sprintf("http://127.0.0.1:%d/lab/workspaces/%s/tree/%s?reset&token=%s", jl.port, ws, file, jl.token)
	if err := page.Timeout(60 * time.Second).Navigate(url); err != nil {
		return fmt.Errorf("opening %s: %w", url, err)
	}
	err := waitFor("notebook open with an idle kernel", 120*time.Second, func() (bool, error) {
		return eval[bool](page, jsNotebookReady, file)
	})
	if err != nil {
		d, _ := eval[map[string]any](page, jsDiag)
		return fmt.Errorf("%w (page: %v)", err, d)
	}
	return nil
}

// jsDiag says what the page has, when the notebook does not become ready.
const jsDiag = `() => { const app = window.jupyterapp; const w = app && app.shell.currentWidget;
  const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
  return {url: location.href, app: !!app, widget: w ? (w.title && w.title.label) : null, content: !!(w && w.content),
          ready: !!(w && w.context && w.context.isReady), kernel: k ? k.status : null, dialog: (document.querySelector(".jp-Dialog") || {}).textContent || ""}; }`

// liveControls names the first live controls of the page by kind: a text box (TEXTAREA: classes,
// templates), a one-line text input (a search panel's query) and a slider.
type liveControls struct {
	Text, Query, Slider string
}

func findControls(page *rod.Page) (liveControls, error) {
	type ctl struct {
		Name, Tag, Type string
	}
	var lc liveControls
	ctls, err := eval[[]ctl](page, `() => Array.from(document.querySelectorAll(".clipkit-panel[data-clipkit-live] [data-clipkit-name]")).map(e => ({Name: e.getAttribute("data-clipkit-name"), Tag: e.tagName, Type: e.type || ""}))`)
	if err != nil {
		return lc, err
	}
	for _, c := range ctls {
		if c.Tag == "TEXTAREA" && lc.Text == "" {
			lc.Text = c.Name
		}
		if c.Tag == "INPUT" && c.Type == "text" && lc.Query == "" {
			lc.Query = c.Name
		}
		if c.Type == "range" && lc.Slider == "" {
			lc.Slider = c.Name
		}
	}
	return lc, nil
}

func checkNotebook(o Options, jl *jupyterLab, browser *rod.Browser, file string, typing bool, r *NotebookResult) error {
	page, err := browser.Page(proto.TargetCreateTarget{URL: "about:blank"})
	if err != nil {
		return err
	}
	// JupyterLab asks "leave the page?" on reload and close when a notebook has unsaved changes
	// (outputs): accept, or the reload (and closing the page) would wait forever.
	go page.EachEvent(func(e *proto.PageJavascriptDialogOpening) {
		_ = proto.PageHandleJavaScriptDialog{Accept: true}.Call(page)
	})()
	defer page.Close()
	if err := (proto.EmulationSetDeviceMetricsOverride{Width: 1280, Height: 1000, DeviceScaleFactor: 1}).Call(page); err != nil {
		return err
	}
	if err := openNotebook(jl, page, file); err != nil {
		return err
	}
	logf("%s: open; running all cells", file)
	t0 := time.Now()
	if _, err := eval[bool](page, jsRunAll); err != nil {
		return err
	}
	time.Sleep(time.Second)
	cells, err := waitCells(page, o.CellWait, 0, false)
	r.RunAllS = time.Since(t0).Seconds()
	shot(o, page, strings.TrimSuffix(file, ".ipynb")+"-run-all")
	if err != nil {
		return err
	}
	var cc chartCount
	_ = waitFor("charts to draw", 30*time.Second, func() (bool, error) {
		var err error
		cc, err = eval[chartCount](page, jsCharts, "")
		return err == nil && cc.Charts > 0 && cc.Drawn == cc.Charts && cc.Panels > 0, err
	})
	r.Charts, r.DrawnCharts, r.Panels = cc.Charts, cc.Drawn, cc.Panels
	if cc.Panels == 0 {
		return fmt.Errorf("no live panel on the page after running all cells")
	}
	if cc.Drawn < cc.Charts || len(cc.Errors) > 0 {
		return fmt.Errorf("%d of %d charts drew (errors: %q)", cc.Drawn, cc.Charts, cc.Errors)
	}
	// The live cell has returned: the kernel must be idle while its controls are live.
	st, err := eval[string](page, jsKernelStatus)
	if err != nil {
		return err
	}
	r.KernelIdle = st == "idle"
	if !r.KernelIdle {
		return fmt.Errorf("kernel is %q with the controls live, want idle", st)
	}
	logf("%s: all cells ran in %.0f s; %d of %d charts drew; %d live panel(s); kernel %s", file, r.RunAllS, cc.Drawn, cc.Charts, cc.Panels, st)
	ctls, err := findControls(page)
	if err != nil {
		return err
	}
	text, slider := ctls.Text, ctls.Slider
	liveCell := -1 // the cell whose output holds the panel
	if idx, err := eval[int](page, `() => { const nb = window.jupyterapp.shell.currentWidget.content;
  return nb.widgets.findIndex(c => c.node.querySelector(".clipkit-panel[data-clipkit-live]")); }`); err == nil {
		liveCell = idx
	}
	if typing && text != "" {
		if err := typeClasses(page, text, r); err != nil {
			shot(o, page, strings.TrimSuffix(file, ".ipynb")+"-typing")
			return err
		}
		if err := measure(page, text, o.Edits, r); err != nil {
			shot(o, page, strings.TrimSuffix(file, ".ipynb")+"-latency")
			return err
		}
	}
	if ctls.Query != "" {
		// A search panel: a typed query must show the server's answer with its result images;
		// then the edit-to-redraw latency of the query box.
		if err := typeQuery(o, page, ctls.Query, searchQueries[0], "typed", r); err != nil {
			shot(o, page, strings.TrimSuffix(file, ".ipynb")+"-search")
			return err
		}
		shot(o, page, strings.TrimSuffix(file, ".ipynb")+"-searched")
		if err := measure(page, ctls.Query, o.Edits, r); err != nil {
			shot(o, page, strings.TrimSuffix(file, ".ipynb")+"-latency")
			return err
		}
	}
	if slider != "" {
		if err := moveSlider(page, slider, r); err != nil {
			shot(o, page, strings.TrimSuffix(file, ".ipynb")+"-slider")
			return err
		}
	}
	if typing && text == "" {
		return fmt.Errorf("no live text box on the page")
	}
	shot(o, page, strings.TrimSuffix(file, ".ipynb")+"-edited")

	// Another cell, while the controls are live: the last code cell (re-run), which must finish.
	last := -1
	for _, c := range cells {
		if c != nil && c.Index != liveCell && strings.TrimSpace(c.Source) != "" && !strings.HasPrefix(strings.TrimSpace(c.Source), "!") && !strings.HasPrefix(c.Source, "import") {
			last = c.Index
		}
	}
	if last >= 0 {
		before := map[int]*int{}
		for _, c := range cells {
			if c != nil {
				before[c.Index] = c.Count
			}
		}
		logf("%s: running cell %d while the controls are live", file, last+1)
		t := time.Now()
		if _, err := eval[bool](page, jsRunCell, last); err != nil {
			return err
		}
		err := waitFor("another cell to run while the controls are live", 3*time.Minute, func() (bool, error) {
			cs, err := eval[[]*cellInfo](page, jsCells)
			if err != nil {
				return false, err
			}
			c := cs[last]
			return c != nil && !c.Busy && c.Count != nil && (before[last] == nil || *c.Count != *before[last]), nil
		})
		r.OtherCellS = time.Since(t).Seconds()
		if err != nil {
			return err
		}
		if cs, err := eval[[]*cellInfo](page, jsCells); err == nil && cs[last] != nil && cs[last].Error != "" {
			return fmt.Errorf("cell %d failed when run with the controls live: %s", last+1, cs[last].Error)
		}
		// And the controls still work afterwards.
		if slider != "" {
			if err := moveSlider(page, slider, r); err != nil {
				return fmt.Errorf("after running another cell: %w", err)
			}
		}
	}

	if o.SkipReload || liveCell < 0 {
		return nil
	}
	// Reload: the kernel keeps running; re-running the live cell must draw its charts again.
	logf("%s: reloading the page; re-running cell %d", file, liveCell+1)
	if err := page.Timeout(60 * time.Second).Reload(); err != nil {
		return fmt.Errorf("reloading: %w", err)
	}
	if err := waitFor("notebook open again after the reload", 120*time.Second, func() (bool, error) { return eval[bool](page, jsNotebookReady, file) }); err != nil {
		return err
	}
	if _, err := eval[bool](page, jsRunCell, liveCell); err != nil {
		return err
	}
	time.Sleep(time.Second)
	if _, err := waitCells(page, 3*time.Minute, liveCell, true); err != nil {
		return fmt.Errorf("after the reload: %w", err)
	}
	sel := fmt.Sprintf(".jp-Notebook .jp-Cell:nth-child(%d)", liveCell+1)
	err = waitFor("the re-run cell's charts to draw after the reload", 30*time.Second, func() (bool, error) {
		var err error
		cc, err = eval[chartCount](page, jsCharts, sel)
		return err == nil && cc.Charts > 0 && cc.Drawn == cc.Charts && cc.Panels > 0, err
	})
	r.ReloadDrawn = cc.Drawn
	shot(o, page, strings.TrimSuffix(file, ".ipynb")+"-reloaded")
	if err != nil {
		return fmt.Errorf("%w: %d of %d charts drew (errors %q)", err, cc.Drawn, cc.Charts, cc.Errors)
	}
	if ctls.Query != "" {
		if err := typeQuery(o, page, ctls.Query, searchQueries[1], "after the reload", r); err != nil {
			shot(o, page, strings.TrimSuffix(file, ".ipynb")+"-reloaded-search")
			return fmt.Errorf("after the reload: %w", err)
		}
		shot(o, page, strings.TrimSuffix(file, ".ipynb")+"-reloaded-searched")
	}
	if slider != "" {
		return moveSlider(page, slider, r)
	}
	if text != "" {
		if _, err := eval[bool](page, jsFocus, text); err != nil {
			return err
		}
		before, _ := eval[*panelState](page, jsPanelState, text)
		_ = page.Keyboard.Type(input.End, input.KeyX)
		return waitFor("a redraw after typing, after the reload", 20*time.Second, func() (bool, error) {
			s, err := eval[*panelState](page, jsPanelState, text)
			return err == nil && s != nil && before != nil && s.Redraws > before.Redraws, err
		})
	}
	return nil
}

// typeClasses replaces the classes box's text by "banana⏎cat", typed with real key events, and
// checks that the chart shows exactly those two classes.
func typeClasses(page *rod.Page, name string, r *NotebookResult) error {
	ok, err := eval[bool](page, jsFocus, name)
	if err != nil || !ok {
		return fmt.Errorf("cannot focus the %q box (%v)", name, err)
	}
	keys := []input.Key{input.Backspace}
	for _, ch := range "banana" {
		keys = append(keys, input.Key(ch))
	}
	keys = append(keys, input.Enter)
	for _, ch := range "cat" {
		keys = append(keys, input.Key(ch))
	}
	if err := page.Keyboard.Type(keys...); err != nil {
		return err
	}
	var s *panelState
	err = waitFor("the chart to show the typed classes [banana cat]", 30*time.Second, func() (bool, error) {
		var err error
		s, err = eval[*panelState](page, jsPanelState, name)
		return err == nil && s != nil && strings.Join(s.Categories, "|") == "banana|cat", err
	})
	if s != nil {
		r.TypedClasses = s.Categories
		logf("typed banana⏎cat: the chart shows %q", s.Categories)
	}
	if err != nil && s != nil {
		return fmt.Errorf("%w: the chart shows %q (error %q, status %q)", err, s.Categories, s.Error, s.Status)
	}
	return err
}

// measure types n letters, one at a time, each making a new class name, and records the time from
// each keydown to the redraw it caused.
func measure(page *rod.Page, name string, n int, r *NotebookResult) error {
	if _, err := eval[bool](page, jsTimer, name); err != nil {
		return err
	}
	letters := "abcdefghijklmnopqrstuvwxyz"
	for i := 0; i < n; i++ {
		before, err := eval[*panelState](page, jsPanelState, name)
		if err != nil || before == nil {
			return fmt.Errorf("reading the panel: %v", err)
		}
		if err := page.Keyboard.Type(input.Key(letters[i%len(letters)])); err != nil {
			return err
		}
		err = waitFor(fmt.Sprintf("redraw after edit %d", i+1), 30*time.Second, func() (bool, error) {
			s, err := eval[*panelState](page, jsPanelState, name)
			if err == nil && s != nil && s.Error != "" {
				return false, fmt.Errorf("the panel shows an error: %s", s.Error)
			}
			return err == nil && s != nil && s.Redraws > before.Redraws, err
		})
		if err != nil {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
	lat, err := eval[[]float64](page, jsLatencies)
	if err != nil {
		return err
	}
	if len(lat) < n {
		return fmt.Errorf("measured %d latencies for %d edits", len(lat), n)
	}
	r.LatenciesMS = lat
	s := append([]float64(nil), lat...)
	sort.Float64s(s)
	r.P50MS, r.P95MS = quantile(s, 0.5), quantile(s, 0.95)
	logf("%d edits: p50 %.0f ms, p95 %.0f ms", len(lat), r.P50MS, r.P95MS)
	return nil
}

// quantile of sorted values (nearest rank).
func quantile(s []float64, q float64) float64 {
	if len(s) == 0 {
		return 0
	}
	i := int(q*float64(len(s))+0.5) - 1
	return s[max(0, min(len(s)-1, i))]
}

// moveSlider presses the right arrow on the slider a few times (the left one when the slider is
// at its maximum) and checks that the chart changed.
func moveSlider(page *rod.Page, name string, r *NotebookResult) error {
	before, err := eval[*panelState](page, jsPanelState, name)
	if err != nil || before == nil {
		return fmt.Errorf("no live slider %q (%v)", name, err)
	}
	if _, err := eval[bool](page, jsFocus, name); err != nil {
		return err
	}
	key := input.ArrowRight
	if atEnd, err := eval[bool](page, jsSliderEnd, name); err == nil && atEnd {
		key = input.ArrowLeft // at its maximum (a search panel's k = every image): move it down
	}
	for i := 0; i < 10; i++ {
		if err := page.Keyboard.Type(key); err != nil {
			return err
		}
	}
	var s *panelState
	err = waitFor("the chart to change after moving the slider", 30*time.Second, func() (bool, error) {
		var err error
		s, err = eval[*panelState](page, jsPanelState, name)
		return err == nil && s != nil && s.Redraws > before.Redraws && s.Data != before.Data, err
	})
	if err != nil && s != nil {
		return fmt.Errorf("%w (redraws %d → %d, error %q, status %q)", err, before.Redraws, s.Redraws, s.Error, s.Status)
	}
	if err == nil && before.Shown != "" && s.Shown == before.Shown {
		return fmt.Errorf("the slider moved and the chart changed, but the value shown beside the slider still reads %q", s.Shown)
	}
	r.SliderMoved = err == nil
	return err
}
