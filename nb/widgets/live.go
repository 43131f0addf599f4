package widgets

import (
	"fmt"
	"math"
	"path/filepath"
	"strings"

	"github.com/clipkit/clipkit/nb/plots"
)

// Lines splits text into its trimmed, non-empty lines (the rule the panels' text boxes use).
func Lines(text string) []string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// show displays a panel; tests replace it to look at the panel.
var show = func(p Panel) error { return p.Show() }

// baseNames returns the file names of paths (heat map rows).
func baseNames(paths []string) []string {
	out := make([]string, len(paths))
	for i, p := range paths {
		out[i] = filepath.Base(p)
	}
	return out
}

// plural writes "1 template", "2 templates".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// heatHeight sizes a heat map for n rows.
func heatHeight(n int) string { return fmt.Sprintf("%dpx", 170+26*n) }

// probHeatMap draws probs [items][classes] as plots.HeatMap.
func probHeatMap(title, subtitle string, rows, classes []string, probs [][]float64) (*plots.Chart, error) {
	return plots.HeatMap(rows, classes, probs, plots.Options{Title: title, Subtitle: subtitle,
		ValueLabels: len(classes) <= 12 && len(rows) <= 16, Decimals: 2, Min: 0, Max: 1, Height: heatHeight(len(rows))})
}

// checkPrompts validates classes and templates before anything is sent.
func checkPrompts(what string, classes, templates []string) error {
	if len(classes) == 0 {
		return fmt.Errorf("%s: no classes given (want at least one)", what)
	}
	if len(templates) == 0 {
		return fmt.Errorf("%s: no templates given (want at least one, e.g. \"a photo of a {}.\")", what)
	}
	for _, t := range templates {
		if !strings.Contains(t, "{}") {
			return fmt.Errorf("%s: template %q has no {} (where the class name goes)", what, t)
		}
	}
	return nil
}

// jsPrompts is the request code shared by the zero-shot panels: it reads the classes and templates
// boxes (or the fixed lists in ctx.state) and checks them as checkPrompts does.
const jsPrompts = `
var cls = values.classes !== undefined ? ctx.lines(values.classes) : ctx.state.classes;
var tpl = values.templates !== undefined ? ctx.lines(values.templates) : ctx.state.templates;
if (!cls.length) { return "type at least one class (one per line)"; }
if (!tpl.length) { return "type at least one template (one per line), e.g. a photo of a {}."; }
for (var i = 0; i < tpl.length; i++) {
  if (tpl[i].indexOf("{}") < 0) { return "template \"" + tpl[i] + "\" has no {} (where the class name goes)"; }
}
`

// LiveZeroShot shows a live zero-shot panel for the images of gallery g: a box of classes (one
// per line) and, with editTemplates, a box of prompt templates; the heat map of probabilities
// ([images][classes]) is redrawn as you type. The initial state (classes, templates) is computed
// by the kernel, so reports show it.
func LiveZeroShot(srv Server, g Gallery, classes, templates []string, editTemplates bool) error {
	p, err := ZeroShotPanel(srv, g, classes, templates, editTemplates)
	if err != nil {
		return err
	}
	return show(p)
}

// ZeroShotPanel is the panel LiveZeroShot shows, with its initial state computed, for callers that
// adjust it (title, note) before calling Show.
func ZeroShotPanel(srv Server, g Gallery, classes, templates []string, editTemplates bool) (Panel, error) {
	if err := checkPrompts("widgets.LiveZeroShot", classes, templates); err != nil {
		return Panel{}, err
	}
	ep, err := endpoint(srv)
	if err != nil {
		return Panel{}, err
	}
	a, err := ZeroShot(srv, ZeroShotRequest{Gallery: g.ID, Classes: classes, Templates: templates})
	if err != nil {
		return Panel{}, err
	}
	rows := baseNames(g.Paths)
	h, err := probHeatMap("Zero-shot probabilities for your classes", plural(len(templates), "template"), rows, classes, a.Probs)
	if err != nil {
		return Panel{}, err
	}
	controls := []Control{TextArea{Name: "classes", Label: "Classes, one per line:", Value: strings.Join(classes, "\n")}}
	if editTemplates {
		controls = append(controls, TextArea{Name: "templates", Label: "Templates, one per line ({} is the class; the prompts of a class are averaged):",
			Value: strings.Join(templates, "\n")})
	}
	return Panel{
		Title:    "Live zero-shot: edit the classes",
		Controls: controls,
		Blocks:   []plots.Block{h},
		Servers:  map[string]Endpoint{"default": ep},
		Default:  "default",
		State:    map[string]any{"gallery": g.ID, "rows": rows, "classes": classes, "templates": templates},
		Request: jsPrompts + `
return {path: "v1/zeroshot", body: {gallery: ctx.state.gallery, classes: cls, templates: tpl}};`,
		Render: `
ctx.heat(0, ctx.state.rows, resp.classes || ctx.lines(values.classes), resp.probs, 2);
var n = values.templates !== undefined ? ctx.lines(values.templates).length : ctx.state.templates.length;
ctx.subtitle(0, n + " template" + (n === 1 ? "" : "s"));`,
	}, nil
}

// accuracyText describes a zero-shot answer's scores (when the gallery has labels).
func accuracyText(a ZeroShotAnswer, n int) string {
	if a.Accuracy == nil {
		return "no labels: no accuracy"
	}
	s := fmt.Sprintf("accuracy %.1f%% of %d images", 100**a.Accuracy, n)
	if len(a.PerClassRecall) > 0 {
		s += fmt.Sprintf(" · mean per-class recall %.1f%%", 100*mean(a.PerClassRecall))
	}
	if a.ECE != nil {
		s += fmt.Sprintf(" · ECE %.3f", *a.ECE)
	}
	return s
}

// jsAccuracy is accuracyText in JavaScript (resp: a zero-shot answer; n: images).
const jsAccuracy = `
function accText(resp, n) {
  if (typeof resp.accuracy !== "number") { return "no labels: no accuracy"; }
  var s = "accuracy " + (100 * resp.accuracy).toFixed(1) + "% of " + n + " images";
  if (resp.per_class_recall && resp.per_class_recall.length) {
    var m = resp.per_class_recall.reduce(function (a, b) { return a + b; }, 0) / resp.per_class_recall.length;
    s += " · mean per-class recall " + (100 * m).toFixed(1) + "%";
  }
  if (typeof resp.ece === "number") { s += " · ECE " + resp.ece.toFixed(3); }
  return s;
}
`

func mean(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := 0.0
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

// LiveTemplates shows a template editor for a labelled gallery: edit the prompt templates (one
// per line) and see the accuracy and the per-class recall (a bar per class) change. The classes
// names may be edited with editClasses, but stay as many, in label order (the labels index them).
func LiveTemplates(srv Server, g Gallery, classes, templates []string, editClasses bool) error {
	if err := checkPrompts("widgets.LiveTemplates", classes, templates); err != nil {
		return err
	}
	if len(g.Labels) != len(g.Paths) {
		return fmt.Errorf("widgets.LiveTemplates: gallery %q has no labels (register it with one label per image)", g.Name)
	}
	ep, err := endpoint(srv)
	if err != nil {
		return err
	}
	a, err := ZeroShot(srv, ZeroShotRequest{Gallery: g.ID, Classes: classes, Templates: templates})
	if err != nil {
		return err
	}
	if a.Accuracy == nil || len(a.PerClassRecall) != len(classes) {
		return fmt.Errorf("widgets.LiveTemplates: the server answered no accuracy or %d per-class recalls for %d classes", len(a.PerClassRecall), len(classes))
	}
	start := accuracyText(a, len(g.Paths))
	bar, err := plots.Bar(classes, plots.Options{Title: "Recall per class", Subtitle: start, Horizontal: true, ValueLabels: true,
		Decimals: 2, Min: 0, Max: 1, XName: "recall", Height: fmt.Sprintf("%dpx", 140+24*len(classes))},
		plots.Series{Name: "recall", Values: a.PerClassRecall})
	if err != nil {
		return err
	}
	var controls []Control
	if editClasses {
		controls = append(controls, TextArea{Name: "classes", Label: fmt.Sprintf("Class names, one per line (%d, in label order):", len(classes)),
			Value: strings.Join(classes, "\n")})
	}
	controls = append(controls, TextArea{Name: "templates", Label: "Templates, one per line ({} is the class; a class's prompts are averaged):",
		Value: strings.Join(templates, "\n")})
	return show(Panel{
		Title:    "Live template editor: accuracy on " + g.Name,
		Controls: controls,
		Blocks:   []plots.Block{Slot(plots.HTML(`<p><b>Initial templates:</b> ` + start + `</p>`)), bar},
		Servers:  map[string]Endpoint{"default": ep},
		Default:  "default",
		State:    map[string]any{"gallery": g.ID, "classes": classes, "templates": templates, "n": len(g.Paths), "start": start},
		Request: jsPrompts + `
if (cls.length !== ctx.state.classes.length) {
  return "want exactly " + ctx.state.classes.length + " class names, one per line, in label order (got " + cls.length + ")";
}
return {path: "v1/zeroshot", body: {gallery: ctx.state.gallery, classes: cls, templates: tpl}};`,
		Render: jsAccuracy + `
var t = accText(resp, ctx.state.n);
ctx.slot(0, "<p><b>" + ctx.lines(values.templates).length + " template(s):</b> " + ctx.esc(t) +
  "<br><span style='color:#666'>initial templates: " + ctx.esc(ctx.state.start) + "</span></p>");
ctx.bars(0, resp.classes || null, [resp.per_class_recall || []], 2);
ctx.subtitle(0, t);`,
	})
}

// LiveTemperature shows a temperature slider for the images of g against classes (gallery labels,
// when present, give accuracy and calibration): probabilities ([images][classes], heat map) and
// the entropy of each image's softmax (bars) are redrawn as the slider moves, with the mean
// entropy, confidence and expected calibration error. The slider is on a log scale from
// 0.001 to 1 and starts at the model's learned temperature (1/logit scale, as the server reports it).
func LiveTemperature(srv Server, g Gallery, classes, templates []string) error {
	if err := checkPrompts("widgets.LiveTemperature", classes, templates); err != nil {
		return err
	}
	ep, err := endpoint(srv)
	if err != nil {
		return err
	}
	a, err := ZeroShot(srv, ZeroShotRequest{Gallery: g.ID, Classes: classes, Templates: templates})
	if err != nil {
		return err
	}
	learned := a.Temperature
	if !(learned > 0) || math.IsInf(learned, 0) {
		return fmt.Errorf("widgets.LiveTemperature: the server reported the learned temperature %g, want a positive number", learned)
	}
	rows := baseNames(g.Paths)
	text := temperatureText(a, learned, len(rows))
	h, err := probHeatMap("Probabilities at the chosen temperature", text, rows, classes, a.Probs)
	if err != nil {
		return err
	}
	ent, err := plots.Bar(rows, plots.Options{Title: "Softmax entropy per image (nats)", Subtitle: fmt.Sprintf("uniform: ln %d = %.2f", len(classes), math.Log(float64(len(classes)))),
		Horizontal: true, ValueLabels: true, Decimals: 2, Min: 0, Max: math.Max(0.01, math.Log(float64(len(classes)))), Height: fmt.Sprintf("%dpx", 140+24*len(rows))},
		plots.Series{Name: "entropy", Values: a.Entropy})
	if err != nil {
		return err
	}
	lo, hi := -3.0, 0.0
	logT := math.Max(lo, math.Min(hi, math.Log10(learned)))
	return show(Panel{
		Title: "Live temperature",
		Controls: []Control{Slider{Name: "logT", Label: "Temperature (log scale, 0.001 to 1):", Min: lo, Max: hi, Step: 0.02, Value: logT,
			ShowValue: fmt.Sprintf("T = %.4g (learned: %.4g)", learned, learned)}},
		Shows:   map[string]string{"logT": fmt.Sprintf(`return "T = " + Math.pow(10, v.logT).toPrecision(4) + " (learned: %.4g)";`, learned)},
		Blocks:  []plots.Block{Slot(plots.HTML("<p>" + text + "</p>")), h, ent},
		Servers: map[string]Endpoint{"default": ep},
		Default: "default",
		State:   map[string]any{"gallery": g.ID, "rows": rows, "classes": classes, "templates": templates, "learned": learned},
		Request: `
return {path: "v1/zeroshot", body: {gallery: ctx.state.gallery, classes: ctx.state.classes, templates: ctx.state.templates,
  temperature: Math.pow(10, values.logT)}};`,
		Render: jsAccuracy + `
var T = Math.pow(10, values.logT), n = ctx.state.rows.length;
var ent = resp.entropy || [], me = ent.reduce(function (a, b) { return a + b; }, 0) / Math.max(1, ent.length);
var conf = (resp.probs || []).map(function (r) { return Math.max.apply(null, r); });
var mc = conf.reduce(function (a, b) { return a + b; }, 0) / Math.max(1, conf.length);
var t = "T = " + T.toPrecision(4) + " · mean entropy " + me.toFixed(2) + " nats · mean confidence " + mc.toFixed(2) + " · " + accText(resp, n);
ctx.slot(0, "<p>" + ctx.esc(t) + "</p>");
ctx.heat(0, ctx.state.rows, ctx.state.classes, resp.probs, 2);
ctx.subtitle(0, t);
ctx.bars(1, null, [ent], 2);`,
	})
}

// temperatureText is the summary line of LiveTemperature (the JavaScript writes the same).
func temperatureText(a ZeroShotAnswer, t float64, n int) string {
	mc := 0.0
	for _, r := range a.Probs {
		m := 0.0
		for _, p := range r {
			m = math.Max(m, p)
		}
		mc += m
	}
	mc /= math.Max(1, float64(len(a.Probs)))
	return fmt.Sprintf("T = %.4g · mean entropy %.2f nats · mean confidence %.2f · %s", t, finite(mean(a.Entropy)), mc, accuracyText(a, n))
}

// LiveSearch shows a text-to-image search box over gallery g: type a query and see the top k
// images (thumbnails served by the model server) and their scores; a slider sets k. The initial
// results are embedded as images by the kernel, so reports show them offline.
func LiveSearch(srv Server, g Gallery, query string, k int) error {
	p, err := SearchPanel(srv, g, query, k)
	if err != nil {
		return err
	}
	return show(p)
}

// SearchPanel is the panel LiveSearch shows, with its initial results computed, for callers that
// adjust it (title, note) before calling Show.
func SearchPanel(srv Server, g Gallery, query string, k int) (Panel, error) {
	if strings.TrimSpace(query) == "" {
		return Panel{}, fmt.Errorf("widgets.LiveSearch: empty initial query")
	}
	n := len(g.Paths)
	if n == 0 {
		return Panel{}, fmt.Errorf("widgets.LiveSearch: gallery %q is empty", g.Name)
	}
	k = max(1, min(k, n))
	ep, err := endpoint(srv)
	if err != nil {
		return Panel{}, err
	}
	hits, err := Search(srv, g.ID, query, k)
	if err != nil {
		return Panel{}, err
	}
	if len(hits) == 0 {
		return Panel{}, fmt.Errorf("widgets.LiveSearch: the server found no hit for %q in %d images", query, n)
	}
	tiles := make([]plots.Tile, len(hits))
	names := make([]string, len(hits))
	scores := make([]float64, len(hits))
	for i, h := range hits {
		if h.Index < 0 || h.Index >= n {
			return Panel{}, fmt.Errorf("widgets.LiveSearch: hit %d has index %d, want 0..%d", i, h.Index, n-1)
		}
		t, err := plots.LoadTile(g.Paths[h.Index])
		if err != nil {
			return Panel{}, err
		}
		t.Caption = fmt.Sprintf("%d. %s %.3f", i+1, filepath.Base(g.Paths[h.Index]), h.Score)
		tiles[i], names[i], scores[i] = t, fmt.Sprintf("%d. %s", i+1, filepath.Base(g.Paths[h.Index])), h.Score
	}
	grid, err := plots.ImageGrid(tiles, plots.GridOptions{TileSize: 128})
	if err != nil {
		return Panel{}, err
	}
	bar, err := plots.Bar(names, plots.Options{Title: "Cosine similarity of the top hits", Horizontal: true, ValueLabels: true, Decimals: 3,
		XName: "cosine", Height: fmt.Sprintf("%dpx", 140+24*min(n, 32))}, plots.Series{Name: "score", Values: scores})
	if err != nil {
		return Panel{}, err
	}
	return Panel{
		Title: fmt.Sprintf("Live search over %d images", n),
		Controls: []Control{TextInput{Name: "query", Label: "Query:", Value: query},
			Slider{Name: "k", Label: "Results (k):", Min: 1, Max: float64(min(n, 32)), Step: 1, Value: float64(k)}},
		Blocks:  []plots.Block{Slot(grid), bar},
		Servers: map[string]Endpoint{"default": ep},
		Default: "default",
		State:   map[string]any{"gallery": g.ID, "names": baseNames(g.Paths)},
		Request: `
var q = String(values.query || "").trim();
if (!q) { return "type a query"; }
return {path: "v1/search", body: {gallery: ctx.state.gallery, query: q, k: Math.round(values.k)}};`,
		Render: `
var hits = resp.hits || [], h = "", names = [], scores = [];
for (var i = 0; i < hits.length; i++) {
  var name = ctx.state.names[hits[i].index] || String(hits[i].index);
  names.push((i + 1) + ". " + name); scores.push(hits[i].score);
  h += '<figure style="margin:0;text-align:center"><img src="' + ctx.esc(ctx.url("v1/galleries/" + ctx.state.gallery + "/images/" + hits[i].index + "?size=128")) +
    '" alt="' + ctx.esc(name) + '" style="max-width:128px;max-height:128px;display:block;margin:0 auto">' +
    '<figcaption style="font-size:12px;word-break:break-word">' + (i + 1) + ". " + ctx.esc(name) + " " + hits[i].score.toFixed(3) + "</figcaption></figure>";
}
ctx.slot(0, '<div class="clipkit-image-grid"><div style="display:grid;grid-template-columns:repeat(auto-fill, minmax(136px, 1fr));gap:8px;align-items:start">' + h + "</div></div>");
ctx.bars(0, names, [scores], 3);`,
	}, nil
}

// PrecisionServer is one model server of LivePrecision: its label in the dropdown ("f32",
// "bf16"), the server and the gallery registered with it.
type PrecisionServer struct {
	Name    string
	Server  Server
	Gallery Gallery
}

// LivePrecision shows a dropdown that switches the same zero-shot request between model servers
// running the model at different precisions (f32, bf16, f16), plus a box of classes: the heat map
// of probabilities is redrawn from the chosen server. The first server gives the initial state.
func LivePrecision(servers []PrecisionServer, classes, templates []string) error {
	if len(servers) == 0 {
		return fmt.Errorf("widgets.LivePrecision: no servers given")
	}
	if err := checkPrompts("widgets.LivePrecision", classes, templates); err != nil {
		return err
	}
	eps := map[string]Endpoint{}
	galleries := map[string]string{}
	var names []string
	for i, s := range servers {
		if s.Name == "" || s.Server == nil {
			return fmt.Errorf("widgets.LivePrecision: server %d has no name or no server", i)
		}
		if _, dup := eps[s.Name]; dup {
			return fmt.Errorf("widgets.LivePrecision: server name %q given twice", s.Name)
		}
		ep, err := endpoint(s.Server)
		if err != nil {
			return fmt.Errorf("widgets.LivePrecision: server %q: %w", s.Name, err)
		}
		eps[s.Name] = ep
		galleries[s.Name] = s.Gallery.ID
		names = append(names, s.Name)
	}
	first := servers[0]
	a, err := ZeroShot(first.Server, ZeroShotRequest{Gallery: first.Gallery.ID, Classes: classes, Templates: templates})
	if err != nil {
		return err
	}
	rows := baseNames(first.Gallery.Paths)
	h, err := probHeatMap("Zero-shot probabilities at the chosen precision", first.Name, rows, classes, a.Probs)
	if err != nil {
		return err
	}
	return show(Panel{
		Title: "Live precision switch",
		Controls: []Control{Dropdown{Name: "precision", Label: "Precision (one model server each):", Options: names, Value: first.Name},
			TextArea{Name: "classes", Label: "Classes, one per line:", Value: strings.Join(classes, "\n")}},
		Blocks:  []plots.Block{h},
		Servers: eps,
		Default: first.Name,
		State:   map[string]any{"galleries": galleries, "rows": rows, "templates": templates},
		Request: jsPrompts + `
return {path: "v1/zeroshot", server: values.precision, body: {gallery: ctx.state.galleries[values.precision], classes: cls, templates: tpl}};`,
		Render: `
ctx.heat(0, ctx.state.rows, resp.classes || ctx.lines(values.classes), resp.probs, 2);
ctx.subtitle(0, values.precision + " · server " + (typeof resp.ms === "number" ? resp.ms.toFixed(1) + " ms" : ""));`,
	})
}
