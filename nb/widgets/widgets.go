// Package widgets is clipkit's notebook widget kit: controls (multi-line text, slider, dropdown,
// checkbox, button) and live panels that bind them to the model server (`clipx serve`, reached
// with nb/serve) and redraw charts in place.
//
// # How a live panel works
//
// A notebook cell computes the panel's initial state in the kernel (one request to the model
// server), shows the controls and the charts for that state (nb/plots: go-echarts options, so an
// exported report shows a static snapshot), and returns at once: the kernel stays free for other
// cells. Edits are handled by JavaScript in the cell's output, which sends the request straight
// to the model server from the browser, through Jupyter's own server (jupyter-server-proxy:
// <Jupyter base URL>proxy/PORT/...), with the server's browser token, and redraws the charts on the same
// ECharts instances. No kernel round trip per edit, and it works with a remote JupyterLab.
//
// GoNB's gonbui/widgets are not used: they talk to the cell's program through the kernel, so a
// cell using them must keep running (and the kernel busy) for as long as the widget is live.
//
// Keys typed into a control never reach JupyterLab's shortcuts (Enter inserts a newline in a
// text box). Requests are debounced and coalesced (at most one in flight; the latest state is
// sent when it returns); a status line shows the last request's time and errors show in place.
//
// Panels need a trusted notebook (JavaScript) and jupyter-server-proxy (scripts/setup-notebooks.sh
// installs it). `clipx report` replaces the controls by a static snapshot of their state.
package widgets

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"html"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/clipkit/clipkit/nb/plots"
	"github.com/janpfeifer/gonb/gonbui"
)

//go:embed runtime.js
var runtimeJS string

// Markers around a panel's controls and its static snapshot, for `clipx report`: it replaces the
// text between ControlsStart and ControlsEnd by the content of the <template> marked SnapshotClass.
const (
	ControlsStart = "<!--clipkit-controls-->"
	ControlsEnd   = "<!--/clipkit-controls-->"
	SnapshotClass = "clipkit-snapshot"
	// PanelClass marks a live panel's outer <div>.
	PanelClass = "clipkit-panel"
)

// Control is one input of a panel. Its Name is the key of its value in the JavaScript values
// object (string for text and dropdown, number for slider, bool for checkbox, click count for
// button).
type Control interface {
	// html returns the control's markup.
	html() string
	// snapshot returns a static description of the control's state, for reports.
	snapshot() string
}

// TextArea is a multi-line text box (Enter inserts a newline).
type TextArea struct {
	Name, Label, Value string
	// Rows is the height in lines; default: lines of Value + 1, at least 2.
	Rows int
}

// TextInput is a one-line text box.
type TextInput struct {
	Name, Label, Value string
}

// Slider is a range input. Show, when set, is a JavaScript expression over `v` (the values object)
// whose result is shown beside the slider as it moves, e.g. "'T = ' + Math.pow(10, v.logT).toFixed(4)";
// ShowValue is the same text for the initial value (the kernel cannot run JavaScript).
type Slider struct {
	Name, Label           string
	Min, Max, Step, Value float64
	Show, ShowValue       string
}

// Dropdown is a select box over Options.
type Dropdown struct {
	Name, Label string
	Options     []string
	Value       string
}

// Checkbox is a boolean toggle.
type Checkbox struct {
	Name, Label string
	Value       bool
}

// Button counts clicks; each click sends the panel's request.
type Button struct {
	Name, Label string
}

func attr(s string) string { return html.EscapeString(s) }

// keep is the attribute that tells JupyterLab (Lumino) not to run shortcuts for keys typed here.
const keep = ` data-lm-suppress-shortcuts="true"`

func label(l string) string {
	if l == "" {
		return ""
	}
	return `<div class="clipkit-label" style="font-weight:bold;margin:4px 0 2px">` + attr(l) + `</div>`
}

func (c TextArea) html() string {
	rows := c.Rows
	if rows <= 0 {
		rows = max(2, strings.Count(c.Value, "\n")+2)
	}
	return label(c.Label) + fmt.Sprintf(`<textarea data-clipkit-name="%s" rows="%d" cols="70" spellcheck="false"%s style="font-family:monospace;width:95%%;max-width:48em">%s</textarea>`,
		attr(c.Name), rows, keep, html.EscapeString(c.Value))
}

func (c TextArea) snapshot() string {
	return label(c.Label) + `<pre style="background:#f6f6f6;padding:4px;max-width:48em">` + html.EscapeString(c.Value) + `</pre>`
}

func (c TextInput) html() string {
	return label(c.Label) + fmt.Sprintf(`<input type="text" data-clipkit-name="%s" value="%s" size="60" spellcheck="false"%s style="font-family:monospace">`,
		attr(c.Name), attr(c.Value), keep)
}

func (c TextInput) snapshot() string {
	return label(c.Label) + `<code>` + html.EscapeString(c.Value) + `</code>`
}

func num(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

func (c Slider) html() string {
	step := c.Step
	if step <= 0 {
		step = (c.Max - c.Min) / 100
	}
	return label(c.Label) + fmt.Sprintf(`<input type="range" data-clipkit-name="%s" min="%s" max="%s" step="%s" value="%s"%s style="width:24em;vertical-align:middle"> <span data-clipkit-show="%s" style="font-family:monospace">%s</span>`,
		attr(c.Name), num(c.Min), num(c.Max), num(step), num(c.Value), keep, attr(c.Name), html.EscapeString(c.shown()))
}

func (c Slider) shown() string {
	if c.ShowValue != "" {
		return c.ShowValue
	}
	return num(c.Value)
}

func (c Slider) snapshot() string {
	return label(c.Label) + `<code>` + html.EscapeString(c.shown()) + `</code>`
}

func (c Dropdown) html() string {
	var b strings.Builder
	b.WriteString(label(c.Label))
	fmt.Fprintf(&b, `<select data-clipkit-name="%s"%s>`, attr(c.Name), keep)
	for _, o := range c.Options {
		sel := ""
		if o == c.Value {
			sel = " selected"
		}
		fmt.Fprintf(&b, `<option value="%s"%s>%s</option>`, attr(o), sel, html.EscapeString(o))
	}
	b.WriteString(`</select>`)
	return b.String()
}

func (c Dropdown) snapshot() string {
	return label(c.Label) + `<code>` + html.EscapeString(c.Value) + `</code>`
}

func (c Checkbox) html() string {
	chk := ""
	if c.Value {
		chk = " checked"
	}
	return fmt.Sprintf(`<label style="display:block;margin:4px 0"><input type="checkbox" data-clipkit-name="%s"%s%s> %s</label>`,
		attr(c.Name), chk, keep, html.EscapeString(c.Label))
}

func (c Checkbox) snapshot() string {
	return fmt.Sprintf(`<div>%s: <code>%v</code></div>`, html.EscapeString(c.Label), c.Value)
}

func (c Button) html() string {
	return fmt.Sprintf(`<button type="button" data-clipkit-name="%s"%s>%s</button>`, attr(c.Name), keep, html.EscapeString(c.Label))
}

func (c Button) snapshot() string { return "" }

// Endpoint is one model server as the browser reaches it.
type Endpoint struct {
	// Base is the server's path relative to Jupyter's base URL, "proxy/PORT/" (nb/serve's
	// Client.BrowserBase).
	Base string `json:"base"`
	// Token is the server's browser token (nb/serve's Client.BrowserToken), scoped to what
	// panels call: the output that shows the panel, hence a saved notebook, holds it. Never the
	// server's full token.
	Token string `json:"token"`
}

// Panel is a live panel: controls, the blocks (charts, HTML slots) they redraw, and the
// JavaScript that turns control values into a server request and an answer into redrawn charts.
type Panel struct {
	// Title is shown above the controls.
	Title string
	// Controls, in display order.
	Controls []Control
	// Blocks are shown under the controls with their initial state: charts (redrawn in place by
	// Render through ctx.chart(i), i counting charts only) and HTML slots (replaced through
	// ctx.slot(i, html), i counting Slot blocks only).
	Blocks []plots.Block
	// Servers the panel's requests go to, by name; Default names the one used when a request names
	// none.
	Servers map[string]Endpoint
	Default string
	// Request is the body of a JavaScript function (values, ctx) returning the request to send:
	// {path: "v1/zeroshot", body: {...}, server: "name"?}, or a string (an error message to show,
	// e.g. "type at least one class"), or null to send nothing; {local: {...}} without a path
	// renders that object without a request.
	Request string
	// Render is the body of a JavaScript function (resp, values, ctx) that redraws the blocks.
	Render string
	// Shows maps a control name to the body of a JavaScript function (values) returning the text
	// shown beside that control as it changes (see Slider).
	Shows map[string]string
	// State is passed to the JavaScript as ctx.state (JSON), e.g. row labels or ground truth.
	State any
	// Debounce delays a request after an edit, grouping keystrokes; default 30 ms. At most one
	// request is in flight: edits made meanwhile are sent together when it returns.
	Debounce time.Duration
	// Note is shown (small, grey) under the controls.
	Note string
}

// Slot is an HTML block that a panel's Render can replace (ctx.slot(i, html)).
func Slot(initial plots.HTML) plots.HTML {
	return plots.HTML(`<div class="clipkit-slot">` + string(initial) + `</div>`)
}

// HTML returns the panel's markup: one self-contained output (controls, status line, blocks with
// the ECharts library when a chart needs it, and the script). The page needs trust (JavaScript)
// for the panel to be live; untrusted or exported, it shows the initial state.
func (p Panel) HTML() (string, error) {
	if p.Request == "" || p.Render == "" {
		return "", fmt.Errorf("widgets.Panel %q: Request and Render (JavaScript function bodies) are required", p.Title)
	}
	if len(p.Servers) > 0 {
		if _, ok := p.Servers[p.Default]; !ok {
			return "", fmt.Errorf("widgets.Panel %q: Default %q names none of its %d server(s)", p.Title, p.Default, len(p.Servers))
		}
	}
	frags, err := plots.Fragments(p.Blocks...)
	if err != nil {
		return "", fmt.Errorf("widgets.Panel %q: %w", p.Title, err)
	}
	id := "clipkit-panel-" + uniqueID()
	var b strings.Builder
	fmt.Fprintf(&b, `<div id="%s" class="%s" style="border-left:3px solid #6baed6;padding-left:8px;margin:6px 0">`, id, PanelClass)
	if p.Title != "" {
		fmt.Fprintf(&b, `<div style="font-size:1.1em;font-weight:bold">%s</div>`, html.EscapeString(p.Title))
	}
	b.WriteString(ControlsStart)
	b.WriteString(`<div class="clipkit-controls">`)
	for _, c := range p.Controls {
		b.WriteString(`<div style="margin:4px 0">` + c.html() + `</div>`)
	}
	b.WriteString(`<div class="clipkit-status" style="color:#666;font-size:0.9em">Live controls need JavaScript: trust the notebook ` +
		`(command palette, Ctrl+Shift+C: &#8220;Trust Notebook&#8221;) and re-run the cell. Shown: the state computed by the kernel.</div>`)
	b.WriteString(`<div class="clipkit-error" style="display:none;color:#a00;white-space:pre-wrap"></div>`)
	b.WriteString(`</div>`)
	b.WriteString(ControlsEnd)
	var snap strings.Builder
	for _, c := range p.Controls {
		if s := c.snapshot(); s != "" {
			snap.WriteString(`<div style="margin:4px 0">` + s + `</div>`)
		}
	}
	snap.WriteString(`<div style="color:#666;font-size:0.9em;font-style:italic">Snapshot of the live controls as the kernel computed them.</div>`)
	fmt.Fprintf(&b, `<template class="%s">%s</template>`, SnapshotClass, snap.String())
	if p.Note != "" {
		fmt.Fprintf(&b, `<div style="color:#666;font-size:0.85em">%s</div>`, html.EscapeString(p.Note))
	}
	for _, f := range frags {
		b.WriteString(f)
	}
	b.WriteString(`</div>`)

	state, err := json.Marshal(p.State)
	if err != nil {
		return "", fmt.Errorf("widgets.Panel %q: encoding State: %w", p.Title, err)
	}
	servers := p.Servers
	if servers == nil {
		servers = map[string]Endpoint{}
	}
	srv, err := json.Marshal(servers)
	if err != nil {
		return "", err
	}
	var shows strings.Builder
	shows.WriteString("{")
	first := true
	for name, body := range p.Shows {
		if !first {
			shows.WriteString(",")
		}
		first = false
		fmt.Fprintf(&shows, "%s: function (v) { %s }", jsString(name), body)
	}
	shows.WriteString("}")
	debounce := p.Debounce
	if debounce <= 0 {
		debounce = 30 * time.Millisecond
	}
	b.WriteString("\n<script>\n")
	b.WriteString(runtimeJS)
	fmt.Fprintf(&b, `
window.clipkitWidgets.panel({
  id: %s, servers: %s, defaultServer: %s, state: %s, debounce: %d, shows: %s,
  request: function (values, ctx) { %s },
  render: function (resp, values, ctx) { %s }
});
</script>
`, jsString(id), srv, jsString(p.Default), state, debounce.Milliseconds(), shows.String(), p.Request, p.Render)
	return b.String(), nil
}

// Show displays the panel as one cell output and returns: the panel stays live in the browser
// while the kernel is free. Outside a notebook it only checks that the panel renders.
func (p Panel) Show() error {
	h, err := p.HTML()
	if err != nil {
		return err
	}
	if !gonbui.IsNotebook {
		return nil
	}
	gonbui.DisplayHTML(h)
	gonbui.Sync()
	return gonbui.Error()
}

// jsString returns s as a JavaScript string literal that is safe inside a <script> element.
func jsString(s string) string {
	b, _ := json.Marshal(s) // < > & become \u003c etc.
	return string(b)
}

// finite returns v, or 0 for NaN/Inf (JSON has no NaN).
func finite(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	return v
}
