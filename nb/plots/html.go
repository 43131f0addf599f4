package plots

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"strings"
)

// ChartWaitSeconds is how long a chart's script waits for the ECharts library to appear on the
// page (it may be defined by an output further down) before it writes an explanation instead.
const ChartWaitSeconds = 10

// Block is anything this package can put on a page: a *Chart or an HTML fragment (ImageGrid,
// Table, Text).
type Block interface {
	// fragment returns the block's HTML; withLibrary asks a chart to inline ECharts before itself.
	fragment(withLibrary bool) (string, error)
	isChart() bool
}

// HTML is a static HTML fragment (no JavaScript needed), as returned by ImageGrid and Table.
type HTML string

func (h HTML) fragment(bool) (string, error) { return string(h), nil }
func (h HTML) isChart() bool                 { return false }

// Text returns an HTML paragraph with s escaped.
func Text(s string) HTML { return HTML("<p>" + html.EscapeString(s) + "</p>") }

func (c *Chart) isChart() bool { return true }

func (c *Chart) fragment(withLibrary bool) (string, error) {
	var b strings.Builder
	if withLibrary {
		lib, err := libraryScript()
		if err != nil {
			return "", err
		}
		b.WriteString(lib)
	}
	frag, err := c.Fragment()
	if err != nil {
		return "", err
	}
	b.WriteString(frag)
	return b.String(), nil
}

// Fragment returns the chart's <div> and <script>, without the ECharts library: the page must
// define window.echarts (see Page, Display), before or within ChartWaitSeconds after this runs.
//
// The script is an IIFE (no globals, so re-running a cell or repeating a chart is harmless). Until
// the script runs, the <div> holds a line saying that the chart needs JavaScript, which is what an
// untrusted notebook shows.
func (c *Chart) Fragment() (string, error) {
	if c == nil || c.Option == nil {
		return "", fmt.Errorf("plots: nil chart or chart without option")
	}
	option, err := c.optionJSON()
	if err != nil {
		return "", err
	}
	renderer := "canvas"
	if c.Renderer == "svg" {
		renderer = "svg"
	}
	id := html.EscapeString(c.ID)
	title := ""
	if t, ok := c.Option["title"].(map[string]any); ok {
		title, _ = t["text"].(string)
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<div id="%s" class="clipkit-chart" style="width:%s;height:%s;">`,
		id, html.EscapeString(cssSize(c.Width, "100%")), html.EscapeString(cssSize(c.Height, "400px")))
	fmt.Fprintf(&b, `<p class="clipkit-chart-nojs" style="color:#888;font-style:italic">Chart &#8220;%s&#8221;: it is drawn by JavaScript, which has not run here. `+
		`In JupyterLab, trust the notebook (command palette, Ctrl+Shift+C: &#8220;Trust Notebook&#8221;; or jupyter trust FILE.ipynb) or re-run the cell.</p></div>`+"\n", html.EscapeString(title))
	fmt.Fprintf(&b, `<script>
(function () {
  var el = document.getElementById(%s);
  if (!el || el.getAttribute("data-clipkit-drawn")) { return; }
  var option = %s;
  var waited = 0;
  function draw() {
    if (typeof window.echarts === "undefined") {
      if (waited < %d) { waited += 100; setTimeout(draw, 100); return; }
      el.innerHTML = '<p style="color:#a00">This chart needs the ECharts library, which no output on this page defines. ' +
        'Re-run this cell (every chart cell carries the library unless CLIPKIT_PLOTS_INLINE=session), or call plots.EmbedLibrary() first; clipx report pages always include it.</p>';
      return;
    }
    el.innerHTML = "";
    var chart = window.echarts.init(el, null, {renderer: "%s"});
    chart.setOption(option);
    el.setAttribute("data-clipkit-drawn", "1");
    if (typeof ResizeObserver !== "undefined") { new ResizeObserver(function () { chart.resize(); }).observe(el); }
  }
  draw();
})();
</script>
`, jsString(c.ID), option, ChartWaitSeconds*1000, renderer)
	return b.String(), nil
}

// cssSize returns s if it is a plain CSS length (digits, '.', '%', letters), else def.
func cssSize(s, def string) string {
	if s == "" || len(s) > 20 {
		return def
	}
	for _, r := range s {
		if !(r >= '0' && r <= '9' || r == '.' || r == '%' || r >= 'a' && r <= 'z') {
			return def
		}
	}
	return s
}

// Page returns a complete, self-contained HTML page with the blocks in order: the ECharts library
// is inlined once in <head> when any block is a chart. Nothing is loaded from the network.
func Page(title string, blocks ...Block) (string, error) {
	var buf bytes.Buffer
	if err := Render(&buf, title, blocks...); err != nil {
		return "", err
	}
	return buf.String(), nil
}

// Render writes Page(title, blocks...) to w: the standalone HTML the CLI writes.
func Render(w io.Writer, title string, blocks ...Block) error {
	needLib := false
	for _, bl := range blocks {
		if bl == nil {
			return fmt.Errorf("plots.Render: nil block")
		}
		needLib = needLib || bl.isChart()
	}
	var b strings.Builder
	b.WriteString("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n")
	fmt.Fprintf(&b, "<title>%s</title>\n", html.EscapeString(title))
	b.WriteString(`<style>body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;padding:0 1em}</style>` + "\n")
	if needLib {
		lib, err := libraryScript()
		if err != nil {
			return err
		}
		b.WriteString(lib)
	}
	b.WriteString("</head>\n<body>\n")
	if title != "" {
		fmt.Fprintf(&b, "<h1>%s</h1>\n", html.EscapeString(title))
	}
	for _, bl := range blocks {
		frag, err := bl.fragment(false)
		if err != nil {
			return err
		}
		b.WriteString(frag)
		b.WriteString("\n")
	}
	b.WriteString("</body>\n</html>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// jsString returns s as a JavaScript string literal that is also safe inside a <script> element.
func jsString(s string) string {
	b, _ := json.Marshal(s) // a string always encodes; < > & become \u003c etc.
	return string(b)
}

// uniqueID returns 16 random hex digits.
func uniqueID() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // never fails on supported platforms (crypto/rand panics instead)
	return hex.EncodeToString(b[:])
}
