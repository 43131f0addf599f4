package main

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clipkit/clipkit/nb/widgets"
)

// executedNotebook builds a minimal executed .ipynb with the given code cells' outputs.
func executedNotebook(t *testing.T, cells ...[]map[string]any) []byte {
	t.Helper()
	var cs []map[string]any
	cs = append(cs, map[string]any{"cell_type": "markdown", "metadata": map[string]any{}, "source": "# title"})
	for i, outs := range cells {
		cs = append(cs, map[string]any{"cell_type": "code", "metadata": map[string]any{}, "execution_count": i + 1,
			"source": []string{"%%\n", "fmt.Println(1)"}, "outputs": outs})
	}
	b, err := marshalJSON(map[string]any{"cells": cs, "metadata": map[string]any{}, "nbformat": 4, "nbformat_minor": 5}, true)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func stream(name, text string) map[string]any {
	return map[string]any{"output_type": "stream", "name": name, "text": text}
}

func htmlOut(h string) map[string]any {
	return map[string]any{"output_type": "display_data", "metadata": map[string]any{}, "data": map[string]any{"text/html": h}}
}

func TestCheckAndCleanNotebookFindsFailingCells(t *testing.T) {
	nb := executedNotebook(t,
		[]map[string]any{stream("stdout", "fine\n"), stream("stderr", "warning: slow\n")},                       // ok: stderr without exit
		[]map[string]any{stream("stderr", "panic: boom\n\ngoroutine 1\n"), stream("stderr", "exit status 2\n")}, // runtime failure
		[]map[string]any{htmlOut(`<style>.gonb-err-location{}</style><div class="gonb-err-context">./main.go:10:1: undefined: &lt;thing&gt;</div>`),
			{"output_type": "error", "ename": "ERROR", "evalue": "failed to run \x1b[1mgo build\x1b[0m", "traceback": []string{}}},
		[]map[string]any{htmlOut(""), htmlOut("<script>\"use strict\";\n/**\n * Creates a WebSocket connecting to the JupyterServer and through it to the GoNB kernel.\n</script>"), htmlOut("<p>kept</p>")},
	)
	cleaned, failures, err := checkAndCleanNotebook(nb)
	if err != nil {
		t.Fatal(err)
	}
	if len(failures) != 2 {
		t.Fatalf("failures = %q, want 2", failures)
	}
	if !strings.Contains(failures[0], `cell 3 (code cell 2, "fmt.Println(1)")`) || !strings.Contains(failures[0], "panic: boom") {
		t.Errorf("runtime failure message: %s", failures[0])
	}
	if !strings.Contains(failures[1], "cell 4 (code cell 3") || !strings.Contains(failures[1], "ERROR: failed to run go build") ||
		!strings.Contains(failures[1], "undefined: <thing>") {
		t.Errorf("compile failure message: %s", failures[1])
	}
	s := string(cleaned)
	if strings.Contains(s, "Creates a WebSocket") || !strings.Contains(s, "<p>kept</p>") || strings.Contains(s, `"text/html": ""`) {
		t.Errorf("cleaning kept the wrong outputs:\n%s", s)
	}
}

func TestCheckAndCleanNotebookFlagsUnexecutedCells(t *testing.T) {
	nb := []byte(`{"cells":[{"cell_type":"code","metadata":{},"execution_count":null,"source":"%%\nx()","outputs":[]},
		{"cell_type":"code","metadata":{},"execution_count":null,"source":"","outputs":[]}],"metadata":{},"nbformat":4,"nbformat_minor":5}`)
	_, failures, err := checkAndCleanNotebook(nb)
	if err != nil {
		t.Fatal(err)
	}
	if len(failures) != 1 || !strings.Contains(failures[0], "was not executed") {
		t.Errorf("failures = %q, want one 'was not executed' (the empty cell does not count)", failures)
	}
	if _, _, err := checkAndCleanNotebook([]byte("not json")); err == nil {
		t.Error("bad JSON: want an error")
	}
}

func TestMakeSelfContained(t *testing.T) {
	lib := `<script data-clipkit-echarts="5.4.3">
if (typeof window.echarts === 'undefined') { (function (define, exports, module) { LIB }).call(window); }
</script>`
	chart := `<div id="c1" class="clipkit-chart"></div><script>(function(){})();</script>`
	page := `<html><head><script src="https://cdnjs.cloudflare.com/ajax/libs/require.js/2.1.10/require.min.js"></script>
<script src="https://cdnjs.cloudflare.com/ajax/libs/mathjax/2.7.7/latest.js?config=TeX-AMS_CHTML-full,Safe"> </script>
<script src="file:///usr/share/javascript/requirejs/require.min.js"></script>
</head><body>` + lib + chart + lib + chart + `</body></html>`
	out, err := makeSelfContained([]byte(page))
	if err != nil {
		t.Fatal(err)
	}
	s := string(out)
	if strings.Contains(s, "cdnjs") || strings.Contains(s, "file://") {
		t.Error("CDN or local-file script tags kept")
	}
	if n := strings.Count(s, `data-clipkit-echarts=`); n != 1 {
		t.Errorf("%d library copies kept, want 1", n)
	}
	if strings.Count(s, `class="clipkit-chart"`) != 2 {
		t.Error("charts lost")
	}
	if _, err := makeSelfContained([]byte(`<body>` + chart + `</body>`)); !errors.Is(err, errNoLibrary) {
		t.Errorf("charts without library: got %v, want errNoLibrary", err)
	}
	if _, err := makeSelfContained([]byte(`<script type="module" src="//example.com/x.js" async defer data-x="1">`)); err == nil {
		t.Error("an unclosed external script must be reported")
	}
}

func TestFindNotebooks(t *testing.T) {
	root := t.TempDir()
	nbDir := filepath.Join(root, "notebooks")
	os.MkdirAll(nbDir, 0o755)
	os.WriteFile(filepath.Join(root, "go.mod"), []byte("module github.com/clipkit/clipkit\n"), 0o644)
	for _, n := range []string{"10-b.ipynb", "00-a.ipynb", "notes.md"} {
		os.WriteFile(filepath.Join(nbDir, n), []byte("{}"), 0o644)
	}
	t.Setenv("GONB_DIR", "")
	t.Chdir(root)
	all, err := findNotebooks(nil)
	if err != nil || len(all) != 2 || filepath.Base(all[0]) != "00-a.ipynb" || filepath.Base(all[1]) != "10-b.ipynb" {
		t.Fatalf("all notebooks = %q, %v", all, err)
	}
	got, err := findNotebooks([]string{"10-b", "notebooks/00-a.ipynb"})
	if err != nil || len(got) != 2 || filepath.Base(got[0]) != "10-b.ipynb" {
		t.Fatalf("named notebooks = %q, %v", got, err)
	}
	if _, err := findNotebooks([]string{"missing"}); err == nil || !strings.Contains(err.Error(), `"missing" not found`) {
		t.Errorf("missing notebook: got %v", err)
	}
}

func TestReportUsageErrors(t *testing.T) {
	if err := clipx("report"); !errors.Is(err, errUsage) {
		t.Errorf("no --out: got %v, want a usage error", err)
	}
	if err := clipx("report", "--out", t.TempDir(), "--timeout", "10ms"); !errors.Is(err, errUsage) {
		t.Errorf("tiny --timeout: got %v, want a usage error", err)
	}
}

func TestUnexecutedCells(t *testing.T) {
	nb := []byte(`{"cells":[{"cell_type":"code","execution_count":1,"source":"x"},
		{"cell_type":"code","execution_count":null,"source":["%%\n","y"]},
		{"cell_type":"code","execution_count":null,"source":"  "},
		{"cell_type":"markdown","source":"# t"}]}`)
	if n := unexecutedCells(nb); n != 1 {
		t.Errorf("unexecutedCells = %d, want 1", n)
	}
}

func TestMarkdownTitle(t *testing.T) {
	cases := []struct{ md, want string }{
		{"# 02 · Zero-shot classification\n\ntext", "02 · Zero-shot classification"},
		{"intro\n\n## *Live* [panels](http://x) ##", "Live panels"},
		{"no heading", ""},
	}
	for _, c := range cases {
		if got := markdownTitle(c.md); got != c.want {
			t.Errorf("markdownTitle(%q) = %q, want %q", c.md, got, c.want)
		}
	}
}

func TestCheckAndCleanNotebookTitlesAndSnapshotsPanels(t *testing.T) {
	panel := `<div class="clipkit-panel">` + widgets.ControlsStart + `<textarea data-clipkit-name="classes">cat</textarea>` +
		widgets.ControlsEnd + `<template class="` + widgets.SnapshotClass + `"><pre>cat</pre></template><div class="clipkit-chart"></div></div>` +
		"\n<script>\n// clipkit live panels: runtime\nfetch(x)</script>"
	cell := map[string]any{"cell_type": "code", "execution_count": 1, "source": "%%\nx", "metadata": map[string]any{},
		"outputs": []any{map[string]any{"output_type": "display_data", "metadata": map[string]any{}, "data": map[string]any{"text/html": panel}}}}
	nb, _ := json.Marshal(map[string]any{"metadata": map[string]any{"kernelspec": map[string]any{"name": "gonb"}}, "nbformat": 4, "nbformat_minor": 5,
		"cells": []any{map[string]any{"cell_type": "markdown", "source": "# 02 · Zero-shot\n", "metadata": map[string]any{}}, cell}})
	cleaned, failures, err := checkAndCleanNotebook(nb)
	if err != nil || len(failures) > 0 {
		t.Fatalf("err %v, failures %v", err, failures)
	}
	var doc struct {
		Metadata map[string]any `json:"metadata"`
		Cells    []struct {
			Outputs []struct {
				Data map[string]string `json:"data"`
			} `json:"outputs"`
		} `json:"cells"`
	}
	if err := json.Unmarshal(cleaned, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Metadata["title"] != "02 · Zero-shot" || doc.Metadata["kernelspec"] == nil {
		t.Errorf("metadata = %v, want title %q and the kernelspec kept", doc.Metadata, "02 · Zero-shot")
	}
	h := doc.Cells[1].Outputs[0].Data["text/html"]
	if strings.Contains(h, "<textarea") || strings.Contains(h, "fetch(x)") || !strings.Contains(h, `<div class="clipkit-snapshot"><pre>cat</pre></div>`) ||
		!strings.Contains(h, "clipkit-chart") {
		t.Errorf("panel not replaced by its snapshot: %s", h)
	}
	if _, err := snapshotPanels(widgets.ControlsStart + "x"); err == nil {
		t.Error("want an error for unclosed controls")
	}
}

// TestReportHoldsNoServerToken renders real live panels (nb/widgets, with a browser token as
// `clipx serve` gives one), puts them in an executed notebook as GoNB shows them, and checks
// that the report's notebook (the source of its HTML page and of --ipynb) holds the snapshot of
// each panel and no token: the panels' scripts, which carry the browser token, are dropped.
func TestReportHoldsNoServerToken(t *testing.T) {
	const browserTok = "b0b1b2b3b4b5b6b7b8b9babbbcbdbebf"
	ep := map[string]widgets.Endpoint{"f32": {Base: "proxy/4242/", Token: browserTok}, "bf16": {Base: "proxy/4343/", Token: browserTok}}
	var outs []map[string]any
	for _, p := range []widgets.Panel{
		{Title: "zero-shot", Controls: []widgets.Control{widgets.TextArea{Name: "classes", Value: "cat\ndog"}},
			Servers: ep, Default: "f32", State: map[string]any{"gallery": "g1"},
			Request: `return {path: "v1/zeroshot", body: {gallery: ctx.state.gallery, classes: ctx.lines(values.classes)}};`,
			Render:  `ctx.slot(0, ctx.esc(String(resp.probs)));`},
		{Title: "search", Controls: []widgets.Control{widgets.TextInput{Name: "query", Value: "a cat"}},
			Servers: ep, Default: "bf16", State: map[string]any{"gallery": "g2"},
			Request: `return {path: "v1/search", body: {gallery: ctx.state.gallery, query: values.query}};`,
			Render:  `ctx.slot(0, '<img src="' + ctx.esc(ctx.url("v1/galleries/g2/images/0?size=128")) + '">');`},
	} {
		h, err := p.HTML()
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(h, browserTok) {
			t.Fatalf("panel %q: its HTML lacks the browser token; the test checks nothing", p.Title)
		}
		outs = append(outs, htmlOut(h))
	}
	cleaned, failures, err := checkAndCleanNotebook(executedNotebook(t, outs))
	if err != nil || len(failures) > 0 {
		t.Fatalf("err %v, failures %v", err, failures)
	}
	if strings.Contains(string(cleaned), browserTok) || strings.Contains(string(cleaned), "proxy/4242") {
		t.Errorf("the report's notebook holds the panels' token or server address")
	}
	for _, w := range []string{"cat\\ndog", "a cat", `class=\"clipkit-snapshot\"`} {
		if !strings.Contains(string(cleaned), w) {
			t.Errorf("the report's notebook lacks %q (the panels' snapshots)", w)
		}
	}
}
