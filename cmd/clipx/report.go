package main

// clipx report: execute notebooks headless with the GoNB kernel and write one self-contained HTML
// report per notebook.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/clipkit/clipkit/nb/notebook"
	"github.com/clipkit/clipkit/nb/plots"
	"github.com/clipkit/clipkit/nb/widgets"
	"github.com/spf13/cobra"
)

func init() {
	addCommand("", newReportCmd)
}

// reportConfig holds the flags of `clipx report`.
type reportConfig struct {
	out         string        // directory for <name>.html
	cellTimeout time.Duration // per-cell execution limit
	keepIpynb   bool          // also write the executed notebook
	jupyter     string        // jupyter executable
	failFast    bool          // stop at the first failing notebook
	live        bool          // execute in JupyterLab driven by headless Chromium (GoNB's nbexec)
	liveTimeout time.Duration // limit for one notebook under --live
	chromium    string        // browser for --live
	liveTries   int           // attempts under --live
	noInput     bool          // hide code cells (nbconvert --no-input)
	notebooks   []string      // the notebooks named (default: every notebooks/*.ipynb)
}

func newReportCmd() *cobra.Command {
	cfg := &reportConfig{}
	c := &cobra.Command{
		Use:   "report --out DIR [flags] [NOTEBOOK...]",
		Short: "execute notebooks headless and write self-contained HTML reports",
		Long: `Execute notebooks with the GoNB kernel (jupyter nbconvert --execute) and write DIR/<name>.html for
each, self-contained: charts carry their ECharts library inline and nothing is loaded from the
network. With no NOTEBOOK, runs every notebooks/*.ipynb of the repository in name order. A NOTEBOOK
is a path or a name in notebooks/ (with or without .ipynb). CLIP_SMOKE=1 in the environment runs them
in smoke mode. It fails, naming the notebook and cell, when a cell errs (compile error, panic,
non-zero exit). The notebooks of one run share model servers of their own (clipx serve, running
this clipx, state in a temporary $CLIPKIT_SERVE_DIR), which it stops at the end.`,
		Example: `  clipx report --out /tmp/reports
  CLIP_SMOKE=1 clipx report --out /tmp/reports 02-zero-shot 15-image-search
  clipx report --no-input --out /tmp/reports 02-zero-shot
  clipx report --live --out /tmp/live 10-text-cache`,
		RunE: func(_ *cobra.Command, args []string) error {
			cfg.notebooks = args
			return runReport(cfg)
		},
	}
	fs := c.Flags()
	fs.StringVar(&cfg.out, "out", "", "directory for the HTML reports (created if missing; required)")
	fs.DurationVar(&cfg.cellTimeout, "timeout", 20*time.Minute, "limit for one cell's execution")
	fs.BoolVar(&cfg.keepIpynb, "ipynb", false, "also write the executed notebook as DIR/<name>.ipynb")
	fs.StringVar(&cfg.jupyter, "jupyter", "", "jupyter executable (default: $CLIPKIT_VENV/bin/jupyter, <repo>/.venv/bin/jupyter, then PATH)")
	fs.BoolVar(&cfg.failFast, "fail-fast", false, "stop at the first notebook that fails (default: run all, then report every failure)")
	fs.BoolVar(&cfg.live, "live", false, "execute in a live front end (GoNB's nbexec: Jupyter + headless Chromium), so widget cells\n"+
		"run for real; needs nbexec (scripts/setup-notebooks.sh) and Chromium (--chromium)")
	fs.DurationVar(&cfg.liveTimeout, "live-timeout", 15*time.Minute, "with --live: limit for one notebook")
	fs.IntVar(&cfg.liveTries, "live-tries", 3, "with --live: attempts per notebook (nbexec sometimes drives JupyterLab before it is ready)")
	fs.StringVar(&cfg.chromium, "chromium", "", "with --live: Chromium executable (default: chromium or chromium-browser on PATH)")
	fs.BoolVar(&cfg.noInput, "no-input", false, "hide the code cells in the reports (as nbconvert's --no-input): question, charts and conclusions only")
	return c
}

func runReport(cfg *reportConfig) error {
	if cfg.out == "" {
		return fmt.Errorf("%w: --out DIR is required", errUsage)
	}
	if cfg.cellTimeout < time.Second {
		return fmt.Errorf("%w: --timeout %s is too short (want at least 1s)", errUsage, cfg.cellTimeout)
	}
	notebooks, err := findNotebooks(cfg.notebooks)
	if err != nil {
		return err
	}
	jupyter, err := findJupyter(cfg.jupyter)
	if err != nil {
		return err
	}
	if err := checkGonbKernel(jupyter); err != nil {
		return err
	}
	if err := os.MkdirAll(cfg.out, 0o755); err != nil {
		return fmt.Errorf("creating --out directory: %w", err)
	}
	if notebook.Smoke() {
		fmt.Fprintln(os.Stderr, "clipx report: smoke mode (CLIP_SMOKE is set)")
	}
	stopServers, err := reportServers()
	if err != nil {
		return err
	}
	var failures []string
	defer func() { stopServers(len(failures) > 0) }()
	for i, nb := range notebooks {
		start := time.Now()
		fmt.Fprintf(os.Stderr, "clipx report: [%d/%d] %s: running\n", i+1, len(notebooks), nb)
		htmlPath, err := reportNotebook(*cfg, jupyter, nb)
		if err != nil {
			failures = append(failures, err.Error())
			fmt.Fprintf(os.Stderr, "clipx report: [%d/%d] FAILED %s after %s (details at the end)\n", i+1, len(notebooks), nb, time.Since(start).Round(time.Second))
			if cfg.failFast {
				break
			}
			continue
		}
		st, _ := os.Stat(htmlPath)
		fmt.Printf("%s: %s (%.1f MB) in %s\n", nb, htmlPath, float64(st.Size())/1e6, time.Since(start).Round(100*time.Millisecond))
	}
	if len(failures) > 0 {
		return fmt.Errorf("%d of %d notebook(s) failed:\n%s", len(failures), len(notebooks), strings.Join(failures, "\n"))
	}
	return nil
}

// findNotebooks resolves the NOTEBOOK arguments, or lists notebooks/*.ipynb of the repository.
func findNotebooks(args []string) ([]string, error) {
	var dir string
	if root, err := notebook.RepoRoot(); err == nil {
		dir = filepath.Join(root, "notebooks")
	}
	if len(args) == 0 {
		if dir == "" {
			return nil, fmt.Errorf("no NOTEBOOK given and not inside the clipkit repository (no notebooks/ to run)")
		}
		all, err := filepath.Glob(filepath.Join(dir, "*.ipynb"))
		if err != nil {
			return nil, err
		}
		if len(all) == 0 {
			return nil, fmt.Errorf("no notebooks in %s", dir)
		}
		sort.Strings(all)
		return all, nil
	}
	var out []string
	for _, a := range args {
		cands := []string{a}
		if dir != "" && !strings.ContainsRune(a, filepath.Separator) {
			name := a
			if !strings.HasSuffix(name, ".ipynb") {
				name += ".ipynb"
			}
			cands = append(cands, filepath.Join(dir, name))
		}
		found := ""
		for _, c := range cands {
			if st, err := os.Stat(c); err == nil && !st.IsDir() && strings.HasSuffix(c, ".ipynb") {
				found = c
				break
			}
		}
		if found == "" {
			return nil, fmt.Errorf("notebook %q not found (want a .ipynb path or a name in %s)", a, dir)
		}
		out = append(out, found)
	}
	return out, nil
}

// findJupyter returns the jupyter executable to use.
func findJupyter(flagValue string) (string, error) {
	var cands []string
	if flagValue != "" {
		cands = []string{flagValue}
	} else {
		if v := os.Getenv("CLIPKIT_VENV"); v != "" {
			cands = append(cands, filepath.Join(v, "bin", "jupyter"))
		}
		if root, err := notebook.RepoRoot(); err == nil {
			cands = append(cands, filepath.Join(root, ".venv", "bin", "jupyter"))
		}
		if p, err := exec.LookPath("jupyter"); err == nil {
			cands = append(cands, p)
		}
	}
	for _, c := range cands {
		if st, err := os.Stat(c); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return c, nil
		}
	}
	return "", fmt.Errorf("jupyter not found (tried %s): run scripts/setup-notebooks.sh, or pass --jupyter", strings.Join(cands, ", "))
}

// checkGonbKernel fails unless jupyter knows a kernel named gonb.
func checkGonbKernel(jupyter string) error {
	out, err := exec.Command(jupyter, "kernelspec", "list", "--json").Output()
	if err != nil {
		return fmt.Errorf("%s kernelspec list: %w", jupyter, err)
	}
	var specs struct {
		Kernelspecs map[string]json.RawMessage `json:"kernelspecs"`
	}
	if err := json.Unmarshal(out, &specs); err != nil {
		return fmt.Errorf("%s kernelspec list --json: unexpected output: %w", jupyter, err)
	}
	if _, ok := specs.Kernelspecs["gonb"]; !ok {
		return fmt.Errorf("jupyter (%s) has no GoNB kernel: run scripts/setup-notebooks.sh", jupyter)
	}
	return nil
}

// reportNotebook executes one notebook and writes its HTML report; it returns the report's path.
func reportNotebook(cfg reportConfig, jupyter, nbPath string) (string, error) {
	name := strings.TrimSuffix(filepath.Base(nbPath), ".ipynb")
	tmp, err := os.MkdirTemp("", "clipx-report-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)

	// 1. Execute into tmp/<name>.ipynb.
	var log bytes.Buffer
	var err2 error
	if cfg.live {
		err2 = executeLive(cfg, jupyter, nbPath, filepath.Join(tmp, name+".ipynb"), &log)
	} else {
		// --allow-errors keeps going past compile errors so that the check below can name every
		// failing cell; runtime failures (panics, os.Exit) never stop nbconvert with GoNB.
		cmd := exec.Command(jupyter, "nbconvert", "--to", "notebook", "--execute", "--allow-errors",
			fmt.Sprintf("--ExecutePreprocessor.timeout=%d", int(cfg.cellTimeout.Seconds())),
			"--output-dir", tmp, "--output", name+".ipynb", nbPath)
		cmd.Stdout, cmd.Stderr = &log, &log
		if err := cmd.Run(); err != nil {
			err2 = fmt.Errorf("executing with %s nbconvert failed (%v)", jupyter, err)
		}
	}
	if err2 != nil {
		return "", fmt.Errorf("%s: %v:\n%s", nbPath, err2, logTail(log.String(), 25))
	}
	executed, err := os.ReadFile(filepath.Join(tmp, name+".ipynb"))
	if err != nil {
		return "", fmt.Errorf("%s: no executed notebook was written: %w\n%s", nbPath, err, logTail(log.String(), 25))
	}

	// 2. Check every cell, and drop the outputs that must not reach the report.
	cleaned, cellErrs, err := checkAndCleanNotebook(executed)
	if err != nil {
		return "", fmt.Errorf("%s: %w", nbPath, err)
	}
	cleanedPath := filepath.Join(tmp, name+".clean.ipynb")
	if err := os.WriteFile(cleanedPath, cleaned, 0o644); err != nil {
		return "", err
	}
	if cfg.keepIpynb {
		if err := os.WriteFile(filepath.Join(cfg.out, name+".ipynb"), cleaned, 0o644); err != nil {
			return "", err
		}
	}

	// 3. Convert to HTML (also when cells failed: the report shows the errors) and make it self-contained.
	log.Reset()
	args := []string{"nbconvert", "--to", "html", "--output-dir", tmp, "--output", name + ".html"}
	if cfg.noInput {
		args = append(args, "--no-input")
	}
	cmd := exec.Command(jupyter, append(args, cleanedPath)...)
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%s: converting to HTML failed (%v):\n%s", nbPath, err, logTail(log.String(), 25))
	}
	page, err := os.ReadFile(filepath.Join(tmp, name+".html"))
	if err != nil {
		return "", err
	}
	page, err = makeSelfContained(page)
	if err != nil {
		return "", fmt.Errorf("%s: %w", nbPath, err)
	}
	htmlPath := filepath.Join(cfg.out, name+".html")
	if err := os.WriteFile(htmlPath, page, 0o644); err != nil {
		return "", err
	}
	if len(cellErrs) > 0 {
		return htmlPath, fmt.Errorf("%s: %d cell(s) failed (report with the errors: %s):\n%s",
			nbPath, len(cellErrs), htmlPath, strings.Join(cellErrs, "\n"))
	}
	return htmlPath, nil
}

// ipynbCell is the part of a notebook cell that report reads; everything else is kept verbatim.
type ipynbCell struct {
	CellType string
	Source   json.RawMessage
	Outputs  []json.RawMessage
}

type ipynbOutput struct {
	OutputType string                     `json:"output_type"`
	Name       string                     `json:"name"`
	Text       json.RawMessage            `json:"text"`
	Data       map[string]json.RawMessage `json:"data"`
	EName      string                     `json:"ename"`
	EValue     string                     `json:"evalue"`
}

var (
	// exitLine is how GoNB reports a cell program that failed at run time (its last stderr line).
	exitLine = regexp.MustCompile(`(?m)^(\^C\n)?(exit status \d+|signal: [a-z ]+)\s*\z`)
	ansiSeq  = regexp.MustCompile("\x1b\\[[0-9;]*[A-Za-z]")
	// gonbCommsBootstrap marks the JavaScript GoNB injects to open its widget WebSocket: useless
	// (and a network attempt) in a static report.
	gonbCommsBootstrap = "Creates a WebSocket connecting to the JupyterServer and through it to the GoNB kernel"
)

// checkAndCleanNotebook returns the executed notebook without empty HTML outputs (left by
// in-place updates such as progress bars) and GoNB's WebSocket bootstrap, with live panels
// (nb/widgets) replaced by the static snapshot of their controls, and titled (metadata.title,
// which nbconvert uses for the page title) by its first Markdown heading; plus one message per
// failing code cell: an "error" output (compile errors, special commands), or stderr ending in
// "exit status N"/"signal: ..." (panics, os.Exit).
func checkAndCleanNotebook(data []byte) ([]byte, []string, error) {
	var nb map[string]json.RawMessage
	if err := json.Unmarshal(data, &nb); err != nil {
		return nil, nil, fmt.Errorf("executed notebook is not JSON: %w", err)
	}
	var cells []map[string]json.RawMessage
	if err := json.Unmarshal(nb["cells"], &cells); err != nil {
		return nil, nil, fmt.Errorf("executed notebook has no cell list: %w", err)
	}
	var failures []string
	codeIdx := 0
	title := ""
	for i, raw := range cells {
		var c ipynbCell
		c.Source = raw["source"]
		_ = json.Unmarshal(raw["cell_type"], &c.CellType)
		if c.CellType == "markdown" && title == "" {
			title = markdownTitle(multilineText(c.Source))
		}
		if o, ok := raw["outputs"]; ok {
			if err := json.Unmarshal(o, &c.Outputs); err != nil {
				return nil, nil, fmt.Errorf("cell %d: bad outputs: %w", i+1, err)
			}
		}
		if c.CellType != "code" {
			continue
		}
		codeIdx++
		if ec, ok := raw["execution_count"]; !ok || string(ec) == "null" {
			if strings.TrimSpace(multilineText(c.Source)) != "" {
				failures = append(failures, fmt.Sprintf("  cell %d (code cell %d, %q): was not executed",
					i+1, codeIdx, firstLine(multilineText(c.Source))))
			}
		}
		var kept []json.RawMessage
		var stderr, errContext strings.Builder
		var errs []string
		for _, o := range c.Outputs {
			var out ipynbOutput
			if err := json.Unmarshal(o, &out); err != nil {
				return nil, nil, fmt.Errorf("cell %d: bad output: %w", i+1, err)
			}
			switch out.OutputType {
			case "error":
				msg := fmt.Sprintf("%s: %s", out.EName, ansiSeq.ReplaceAllString(out.EValue, ""))
				if errContext.Len() > 0 {
					msg += "\n" + indent(tailLines(errContext.String(), 10))
				}
				errs = append(errs, msg)
			case "stream":
				if out.Name == "stderr" {
					stderr.WriteString(multilineText(out.Text))
				}
			case "display_data", "update_display_data":
				if h, ok := out.Data["text/html"]; ok && len(out.Data) == 1 {
					text := multilineText(h)
					if strings.TrimSpace(text) == "" || strings.Contains(text, gonbCommsBootstrap) {
						continue // drop
					}
					if strings.Contains(text, "gonb-err") { // GoNB shows compiler errors as HTML before the error output
						errContext.WriteString(htmlToText(text))
					}
					if strings.Contains(text, widgets.ControlsStart) {
						snap, err := snapshotPanels(text)
						if err != nil {
							return nil, nil, fmt.Errorf("cell %d: %w", i+1, err)
						}
						var m map[string]json.RawMessage
						if err := json.Unmarshal(o, &m); err != nil {
							return nil, nil, fmt.Errorf("cell %d: bad output: %w", i+1, err)
						}
						data := map[string]json.RawMessage{}
						if data["text/html"], err = marshalJSON(snap, false); err != nil {
							return nil, nil, err
						}
						if m["data"], err = marshalJSON(data, false); err != nil {
							return nil, nil, err
						}
						if o, err = marshalJSON(m, false); err != nil {
							return nil, nil, err
						}
					}
				}
			}
			kept = append(kept, o)
		}
		se := ansiSeq.ReplaceAllString(stderr.String(), "")
		if exitLine.MatchString(se) {
			errs = append(errs, "the cell's program failed; its stderr ends with:\n"+indent(tailLines(se, 12)))
		}
		if len(errs) > 0 {
			failures = append(failures, fmt.Sprintf("  cell %d (code cell %d, %q): %s",
				i+1, codeIdx, firstLine(multilineText(c.Source)), strings.Join(errs, "; ")))
		}
		if kept == nil {
			kept = []json.RawMessage{}
		}
		ko, err := marshalJSON(kept, false)
		if err != nil {
			return nil, nil, err
		}
		raw["outputs"] = ko
	}
	cb, err := marshalJSON(cells, false)
	if err != nil {
		return nil, nil, err
	}
	nb["cells"] = cb
	if title != "" {
		var meta map[string]json.RawMessage
		if len(nb["metadata"]) > 0 {
			if err := json.Unmarshal(nb["metadata"], &meta); err != nil {
				return nil, nil, fmt.Errorf("executed notebook has bad metadata: %w", err)
			}
		}
		if meta == nil {
			meta = map[string]json.RawMessage{}
		}
		if meta["title"], err = marshalJSON(title, false); err != nil {
			return nil, nil, err
		}
		if nb["metadata"], err = marshalJSON(meta, false); err != nil {
			return nil, nil, err
		}
	}
	out, err := marshalJSON(nb, true)
	if err != nil {
		return nil, nil, err
	}
	return out, failures, nil
}

var (
	mdHeading = regexp.MustCompile(`(?m)^#{1,6}[ \t]+(.+?)[ \t#]*$`)
	mdInline  = regexp.MustCompile("[*_`]+")
	mdLink    = regexp.MustCompile(`\[([^\]]*)\]\([^)]*\)`)
	// panelScript is the script of a live panel (nb/widgets' runtime and its binding): dead in a
	// static report, which has no model server.
	panelScript = regexp.MustCompile(`(?s)<script>\s*// clipkit live panels:.*?</script>`)
	snapshotTpl = regexp.MustCompile(`(?s)<template class="` + regexp.QuoteMeta(widgets.SnapshotClass) + `">(.*?)</template>`)
)

// markdownTitle returns the text of the first heading of a Markdown cell ("02 · Zero-shot
// classification of the sample photos"), without emphasis marks or link targets; "" if none.
func markdownTitle(md string) string {
	m := mdHeading.FindStringSubmatch(md)
	if m == nil {
		return ""
	}
	t := mdLink.ReplaceAllString(m[1], "$1")
	return strings.TrimSpace(mdInline.ReplaceAllString(t, ""))
}

// snapshotPanels replaces, in one HTML output, each live panel's controls (between
// widgets.ControlsStart and ControlsEnd) by the static snapshot of their state that the panel
// carries in a <template>, and drops the panels' scripts: a report shows what the kernel computed
// for that state, not dead inputs.
func snapshotPanels(h string) (string, error) {
	var out strings.Builder
	rest := h
	for {
		i := strings.Index(rest, widgets.ControlsStart)
		if i < 0 {
			out.WriteString(rest)
			break
		}
		j := strings.Index(rest[i:], widgets.ControlsEnd)
		if j < 0 {
			return "", fmt.Errorf("live panel: controls not closed (no %s)", widgets.ControlsEnd)
		}
		after := rest[i+j+len(widgets.ControlsEnd):]
		m := snapshotTpl.FindStringSubmatchIndex(after)
		if m == nil {
			return "", fmt.Errorf("live panel: no snapshot <template> after its controls")
		}
		out.WriteString(rest[:i])
		out.WriteString(`<div class="clipkit-snapshot">` + after[m[2]:m[3]] + `</div>`)
		rest = after[:m[0]] + after[m[1]:]
	}
	return panelScript.ReplaceAllString(out.String(), ""), nil
}

// marshalJSON encodes v without escaping <, > and & (notebook outputs are HTML), indented like
// Jupyter's files when indent is set.
func marshalJSON(v any, indent bool) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if indent {
		enc.SetIndent("", " ")
	}
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// multilineText decodes an ipynb text field: a string or a list of strings.
func multilineText(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var parts []string
	if json.Unmarshal(raw, &parts) == nil {
		return strings.Join(parts, "")
	}
	return ""
}

// firstLine returns the first line of a cell that says something (skipping "%%" and blank lines).
func firstLine(src string) string {
	s := ""
	for _, l := range strings.Split(src, "\n") {
		if l = strings.TrimSpace(l); l != "" && l != "%%" {
			s = l
			break
		}
	}
	if len(s) > 60 {
		s = s[:57] + "..."
	}
	return s
}

func indent(s string) string {
	return "      " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n      ")
}

// tailLines returns the last n non-blank lines of s.
func tailLines(s string, n int) string {
	var lines []string
	for _, l := range strings.Split(s, "\n") {
		if strings.TrimSpace(l) != "" {
			lines = append(lines, strings.TrimRight(l, " \t\r"))
		}
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

var (
	styleOrScript = regexp.MustCompile(`(?is)<(style|script)\b.*?</(style|script)>`)
	htmlTag       = regexp.MustCompile(`(?s)<[^>]*>`)
)

// htmlToText keeps the text of an HTML fragment (for GoNB's error displays).
func htmlToText(h string) string {
	h = styleOrScript.ReplaceAllString(h, "")
	h = strings.NewReplacer("<br>", "\n", "<br/>", "\n", "</div>", "\n", "</pre>", "\n").Replace(h)
	return html.UnescapeString(htmlTag.ReplaceAllString(h, ""))
}

// logTail returns the last n lines of a jupyter/GoNB log, without the kernel's klog lines.
func logTail(s string, n int) string {
	klog := regexp.MustCompile(`^[IWEF]\d{4} \d\d:\d\d:\d\d`)
	var lines []string
	for _, l := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		if !klog.MatchString(l) && !strings.HasPrefix(l, "\t") {
			lines = append(lines, l)
		}
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

var (
	// externalScript matches a <script> element that loads its code from elsewhere: nbconvert's
	// templates add RequireJS and MathJax from a CDN (PyPI nbconvert) or from file:///usr/share
	// (Debian's), neither of which is needed by our outputs nor present on every machine.
	externalScript = regexp.MustCompile(`(?is)<script\b[^>]*\bsrc\s*=\s*["']?(?:https?:|file:|//)[^>]*>\s*</script>`)
	anyExternalSrc = regexp.MustCompile(`(?is)<script\b[^>]*\bsrc\s*=\s*["']?(?:https?:|file:|//)`)
	libraryStart   = regexp.MustCompile(`<script ` + regexp.QuoteMeta(plots.LibraryMarker) + `"[^"]*">`)
)

// errNoLibrary is returned when a page has charts but no inlined ECharts library.
var errNoLibrary = errors.New("the page has charts but no inlined ECharts library (was a notebook cell's library output lost?)")

// makeSelfContained removes <script src="http|file|//..."> elements, keeps only the first inlined ECharts
// library (later copies come from CLIPKIT_PLOTS_INLINE=cell or re-run cells), and checks that
// nothing external is left and that charts have their library.
func makeSelfContained(page []byte) ([]byte, error) {
	page = externalScript.ReplaceAll(page, nil)
	if loc := anyExternalSrc.FindIndex(page); loc != nil {
		end := min(len(page), loc[0]+200)
		return nil, fmt.Errorf("report still loads a script from outside the page: %s", page[loc[0]:end])
	}
	// nbconvert HTML-escapes nothing inside outputs' HTML, so the library block is byte-identical
	// to what plots wrote: from its start tag to the next </script>.
	var out bytes.Buffer
	rest := page
	seen := false
	for {
		loc := libraryStart.FindIndex(rest)
		if loc == nil {
			out.Write(rest)
			break
		}
		end := bytes.Index(rest[loc[1]:], []byte("</script>"))
		if end < 0 {
			return nil, fmt.Errorf("inlined ECharts library block is not closed")
		}
		blockEnd := loc[1] + end + len("</script>")
		if !seen {
			out.Write(rest[:blockEnd])
			seen = true
		} else {
			out.Write(rest[:loc[0]])
		}
		rest = rest[blockEnd:]
	}
	page = out.Bytes()
	if firstChart := bytes.Index(page, []byte(`class="clipkit-chart"`)); firstChart >= 0 && !seen {
		return nil, errNoLibrary
	}
	return page, nil
}

// executeLive runs the notebook in Jupyter Notebook driven by headless Chromium, with GoNB's
// nbexec, so that widget cells have a live front end. nbexec saves the notebook in place and only
// takes paths under --jupyter_dir without "..", so a copy goes beside the original (keeping
// ${GONB_DIR}/.. the repository root) and is removed afterwards; the executed copy lands at out.
func executeLive(cfg reportConfig, jupyter, nbPath, out string, log *bytes.Buffer) error {
	nbexec, err := exec.LookPath("nbexec")
	if err != nil {
		gobin := filepath.Join(os.Getenv("HOME"), "go", "bin", "nbexec")
		if p, e := exec.Command("go", "env", "GOPATH").Output(); e == nil {
			gobin = filepath.Join(strings.TrimSpace(string(p)), "bin", "nbexec")
		}
		if _, e := os.Stat(gobin); e != nil {
			return fmt.Errorf("--live needs GoNB's nbexec (not on PATH nor at %s): run scripts/setup-notebooks.sh", gobin)
		}
		nbexec = gobin
	}
	browser := cfg.chromium
	if browser == "" {
		for _, name := range []string{"chromium", "chromium-browser"} {
			if p, err := exec.LookPath(name); err == nil {
				browser = p
				break
			}
		}
	}
	if browser == "" {
		return fmt.Errorf("--live needs Chromium (apt-get install chromium, or scripts/setup-notebooks.sh --browser), or pass --chromium")
	}
	tmp, err := os.MkdirTemp("", "clipx-live-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	// nbexec starts the system browser by the name google-chrome (otherwise go-rod would try to
	// download one): give it Chromium under that name, with the flags a root, offline, headless run needs.
	wrapper := "#!/bin/sh\nexec " + shellQuote(browser) + " --no-sandbox --disable-gpu --disable-dev-shm-usage " +
		"--disable-background-networking --disable-component-update --disable-sync --no-first-run --disable-quic \"$@\"\n"
	if err := os.WriteFile(filepath.Join(tmp, "google-chrome"), []byte(wrapper), 0o755); err != nil {
		return err
	}
	// nbexec runs the first `jupyter` on PATH: make it ours.
	if err := os.Symlink(jupyter, filepath.Join(tmp, "jupyter")); err != nil {
		return err
	}

	abs, err := filepath.Abs(nbPath)
	if err != nil {
		return err
	}
	src, err := os.ReadFile(abs)
	if err != nil {
		return err
	}
	tries := max(1, cfg.liveTries)
	for try := 1; ; try++ {
		executed, err := nbexecOnce(cfg, nbexec, tmp, abs, src, log)
		if err == nil {
			if missed := unexecutedCells(executed); missed == 0 {
				return os.WriteFile(out, executed, 0o644)
			} else {
				err = fmt.Errorf("nbexec saved the notebook with %d code cell(s) not executed", missed)
			}
		}
		if try >= tries {
			return fmt.Errorf("%w (after %d attempt(s))", err, try)
		}
		logPath := filepath.Join(cfg.out, fmt.Sprintf("%s.live-attempt%d.log", strings.TrimSuffix(filepath.Base(abs), ".ipynb"), try))
		_ = os.WriteFile(logPath, log.Bytes(), 0o644)
		fmt.Fprintf(os.Stderr, "clipx report --live: %s: attempt %d of %d failed (%v; log: %s); retrying\n", nbPath, try, tries, err, logPath)
		log.Reset()
	}
}

// nbexecOnce runs nbexec on a fresh copy of the notebook (src) beside it and returns the saved copy.
func nbexecOnce(cfg reportConfig, nbexec, binDir, abs string, src []byte, log *bytes.Buffer) ([]byte, error) {
	dir := filepath.Dir(abs)
	copyPath := filepath.Join(dir, "_clipx_live_"+filepath.Base(abs))
	if err := os.WriteFile(copyPath, src, 0o644); err != nil {
		return nil, fmt.Errorf("--live: writing the working copy beside the notebook: %w", err)
	}
	defer os.Remove(copyPath)

	args := []string{"--jupyter_dir=" + dir, "-n=" + filepath.Base(copyPath)}
	if os.Geteuid() == 0 {
		args = append(args, "--jupyter_args=--allow-root")
	}
	cmd := exec.Command(nbexec, args...)
	cmd.Env = append(os.Environ(), "PATH="+binDir+string(os.PathListSeparator)+os.Getenv("PATH"))
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = newProcessGroup()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting nbexec: %w", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			return nil, fmt.Errorf("nbexec failed (%v)", err)
		}
	case <-time.After(cfg.liveTimeout):
		killProcessGroup(cmd)
		<-done
		return nil, fmt.Errorf("nbexec did not finish within --live-timeout %s", cfg.liveTimeout)
	}
	return os.ReadFile(copyPath)
}

// unexecutedCells counts non-empty code cells without an execution count.
func unexecutedCells(nb []byte) int {
	var doc struct {
		Cells []struct {
			CellType       string          `json:"cell_type"`
			ExecutionCount *int            `json:"execution_count"`
			Source         json.RawMessage `json:"source"`
		} `json:"cells"`
	}
	if json.Unmarshal(nb, &doc) != nil {
		return 1
	}
	n := 0
	for _, c := range doc.Cells {
		if c.CellType == "code" && c.ExecutionCount == nil && strings.TrimSpace(multilineText(c.Source)) != "" {
			n++
		}
	}
	return n
}

// shellQuote quotes s for /bin/sh.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
