// Package plots draws the charts and image grids of clipkit's notebooks and reports, offline.
//
// Charts (Bar, Line, Scatter, HeatMap) are built with go-echarts (github.com/go-echarts/go-echarts/v2),
// but only their option object is used: this package writes its own <div> and <script>, and the
// ECharts library itself (echarts.min.js, installed from npm by scripts/setup-notebooks.sh) is
// inlined into the output. Nothing is ever loaded from a CDN, so charts draw in JupyterLab, in
// exported HTML opened with no network, and in `clipx report` pages. Image grids are plain HTML
// with base64 <img> tiles and need no JavaScript.
//
// # Where the 1 MB library goes
//
// echarts.min.js is about 1 MB. It is inlined at most once per page or cell output group:
//
//   - Page/Render (standalone HTML for the CLI) put it once in the page's <head>.
//   - Display (in a GoNB notebook) inlines it in the first chart output of every cell (each GoNB
//     cell runs as a new process). The script defines window.echarts only when the page lacks it,
//     so the cost is the bytes, not the parsing. This is what makes charts survive a page reload
//     with the kernel still running: re-running any chart cell brings the library back. Every
//     chart script also waits (up to ChartWaitSeconds) for window.echarts, so a chart draws when
//     the library arrives later on the page. `clipx report` keeps only the first copy in the HTML
//     it writes, so exported reports carry it once and open offline.
//
// CLIPKIT_PLOTS_INLINE=session restores the old economy (the first chart output of the kernel
// session only, remembered in a marker file in $GONB_TMP_DIR); a reloaded page then shows a
// message asking to re-run the cell that carried the library (or call EmbedLibrary).
//
// Charts need JavaScript: an untrusted notebook in JupyterLab (opened from git, not yet trusted
// with the command palette's "Trust Notebook" or `jupyter trust`) shows, in place of each chart, a line saying so.
package plots

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"

	"github.com/go-echarts/go-echarts/v2/charts"
	"github.com/go-echarts/go-echarts/v2/opts"
)

// Series is one named list of values: one bar per category in Bar, one line in Line.
type Series struct {
	// Name is shown in the legend and tooltip.
	Name string
	// Values has one entry per category/x value. NaN values are drawn as gaps.
	Values []float64
}

// Point is one labelled point of a Scatter chart.
type Point struct {
	X, Y float64
	// Label is written next to the point (e.g. an image or class name); may be empty.
	Label string
	// Group selects the series (colour and legend entry); points with the same Group share one.
	Group string
}

// Options are the settings shared by all charts; the zero value gives defaults.
type Options struct {
	// Title drawn above the chart.
	Title string
	// Subtitle drawn under the title.
	Subtitle string
	// XName and YName label the axes.
	XName, YName string
	// Width and Height are CSS sizes of the chart's <div>; defaults "100%" and "400px".
	Width, Height string
	// SVG selects ECharts' SVG renderer instead of canvas (crisper when printed, slower for big data).
	SVG bool
	// Horizontal draws Bar charts with horizontal bars (categories on the y axis, first at the top).
	Horizontal bool
	// ValueLabels writes each value on its bar/cell (Bar, HeatMap).
	ValueLabels bool
	// Decimals is the number of decimals kept in the data (and so shown in labels and tooltips);
	// 0 means the default, 3; use NoDecimals for whole numbers.
	Decimals int
	// Colors sets the series palette (CSS colours, used in order); default: ECharts' palette.
	Colors []string
	// Min and Max fix the value range (HeatMap colour scale, Bar/Line value axis) when Min < Max.
	Min, Max float64
}

// Chart is a chart ready to display or write into a page. Build one with Bar, Line, Scatter,
// HeatMap or FromECharts.
type Chart struct {
	// ID is the HTML id of the chart's <div>, unique within a process (and, being random, across
	// the cells of a notebook).
	ID string
	// Width and Height are CSS sizes of the chart's <div>.
	Width, Height string
	// Renderer is "canvas" or "svg".
	Renderer string
	// Option is the ECharts option object (https://echarts.apache.org/en/option.html) that
	// go-echarts built. It is written into the page as JSON; edit it before rendering to tweak
	// anything this package does not expose.
	Option map[string]any
}

// EChartsBuilder is what the go-echarts charts (*charts.Bar, *charts.Line, ...) implement; see
// FromECharts.
type EChartsBuilder interface {
	Validate()
	JSON() map[string]any
}

// FromECharts wraps a chart configured directly with go-echarts. Only its option object is used:
// its AssetsHost, JS assets, event listeners and JS functions are ignored (nothing is loaded from a
// CDN), and string formatters must be ECharts template strings, not JavaScript functions.
func FromECharts(c EChartsBuilder, width, height string, svg bool) (*Chart, error) {
	opt, err := genericOption("FromECharts", c)
	if err != nil {
		return nil, err
	}
	return newChart(opt, Options{Width: width, Height: height, SVG: svg}), nil
}

func newChart(option map[string]any, o Options) *Chart {
	if len(o.Colors) > 0 {
		option["color"] = o.Colors
	}
	if _, ok := option["grid"]; !ok {
		// Keep long axis labels (class names, prompts) inside the chart, with room below for the
		// x axis name and the legend.
		option["grid"] = map[string]any{"containLabel": true, "left": "2%", "right": "4%", "top": "60px", "bottom": "60px"}
	}
	// Put x axis names under the middle of the axis: at the end (ECharts' default) they get cut.
	if axes, ok := option["xAxis"].([]any); ok {
		for _, a := range axes {
			if m, ok := a.(map[string]any); ok && m["name"] != nil && m["name"] != "" {
				m["nameLocation"], m["nameGap"] = "middle", 28
			}
		}
	}
	ch := &Chart{ID: "clipkit-chart-" + uniqueID(), Width: o.Width, Height: o.Height, Renderer: "canvas", Option: option}
	if ch.Width == "" {
		ch.Width = "100%"
	}
	if ch.Height == "" {
		ch.Height = "400px"
	}
	if o.SVG {
		ch.Renderer = "svg"
	}
	return ch
}

// NoDecimals as Options.Decimals rounds values to whole numbers.
const NoDecimals = -1

func (o Options) decimals() int {
	switch {
	case o.Decimals < 0:
		return 0
	case o.Decimals == 0:
		return 3
	}
	return o.Decimals
}

func (o Options) hasRange() bool { return o.Min < o.Max }

// globals returns the options common to every chart built here.
func (o Options) globals() []charts.GlobalOpts {
	return []charts.GlobalOpts{
		charts.WithTitleOpts(opts.Title{Title: o.Title, Subtitle: o.Subtitle}),
		charts.WithAnimation(false), // exported pages and screenshots show the final state at once
		charts.WithTooltipOpts(opts.Tooltip{Show: opts.Bool(true)}),
	}
}

// value converts a float to what ECharts expects: a number rounded to the decimals shown in labels
// and tooltips (ECharts' template strings cannot round), or "-" (a gap) for NaN/Inf.
func value(v float64, decimals int) any {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "-"
	}
	p := math.Pow(10, float64(decimals))
	return math.Round(v*p) / p
}

func checkSeries(kind string, n int, series []Series) error {
	if len(series) == 0 {
		return fmt.Errorf("plots.%s: no series given", kind)
	}
	for i, s := range series {
		if len(s.Values) != n {
			return fmt.Errorf("plots.%s: series %d (%q) has %d values, want %d (one per category)",
				kind, i, s.Name, len(s.Values), n)
		}
	}
	return nil
}

// Bar draws one bar per category for each series (grouped when there are several), e.g. zero-shot
// probabilities per class. Categories label the category axis; each series needs one value per
// category.
func Bar(categories []string, o Options, series ...Series) (*Chart, error) {
	if len(categories) == 0 {
		return nil, fmt.Errorf("plots.Bar: no categories given")
	}
	if err := checkSeries("Bar", len(categories), series); err != nil {
		return nil, err
	}
	c := charts.NewBar()
	c.SetGlobalOptions(o.globals()...)
	c.SetGlobalOptions(charts.WithLegendOpts(opts.Legend{Show: opts.Bool(len(series) > 1), Top: "bottom"}))
	valueAxis := opts.YAxis{Name: o.YName, Type: "value"}
	if o.hasRange() {
		valueAxis.Min, valueAxis.Max = o.Min, o.Max
	}
	c.SetGlobalOptions(charts.WithXAxisOpts(opts.XAxis{Name: o.XName}), charts.WithYAxisOpts(valueAxis))
	c.SetXAxis(categories)
	for _, s := range series {
		data := make([]opts.BarData, len(s.Values))
		for i, v := range s.Values {
			data[i] = opts.BarData{Value: value(v, o.decimals())}
		}
		var so []charts.SeriesOpts
		if o.ValueLabels {
			pos := "top"
			if o.Horizontal {
				pos = "right"
			}
			so = append(so, charts.WithLabelOpts(opts.Label{Show: opts.Bool(true), Position: pos, Formatter: "{c}"}))
		}
		c.AddSeries(s.Name, data, so...)
	}
	opt, err := genericOption("Bar", c)
	if err != nil {
		return nil, err
	}
	if o.Horizontal {
		// Swap the axes: categories on y (first category at the top), values on x.
		opt["xAxis"], opt["yAxis"] = opt["yAxis"], opt["xAxis"]
		if axes, ok := opt["yAxis"].([]any); ok && len(axes) > 0 {
			if a, ok := axes[0].(map[string]any); ok {
				a["inverse"] = true
			}
		}
	}
	return newChart(opt, o), nil
}

// Line draws one line per series over shared x values (category labels such as batch sizes or
// epochs), e.g. throughput per backend. Each series needs one value per x value.
func Line(x []string, o Options, series ...Series) (*Chart, error) {
	if len(x) == 0 {
		return nil, fmt.Errorf("plots.Line: no x values given")
	}
	if err := checkSeries("Line", len(x), series); err != nil {
		return nil, err
	}
	c := charts.NewLine()
	c.SetGlobalOptions(o.globals()...)
	c.SetGlobalOptions(charts.WithLegendOpts(opts.Legend{Show: opts.Bool(len(series) > 1), Top: "bottom"}))
	yAxis := opts.YAxis{Name: o.YName, Type: "value"}
	if o.hasRange() {
		yAxis.Min, yAxis.Max = o.Min, o.Max
	}
	c.SetGlobalOptions(charts.WithXAxisOpts(opts.XAxis{Name: o.XName}), charts.WithYAxisOpts(yAxis),
		charts.WithTooltipOpts(opts.Tooltip{Show: opts.Bool(true), Trigger: "axis"}))
	c.SetXAxis(x)
	for _, s := range series {
		data := make([]opts.LineData, len(s.Values))
		for i, v := range s.Values {
			data[i] = opts.LineData{Value: value(v, o.decimals())}
		}
		c.AddSeries(s.Name, data, charts.WithLineChartOpts(opts.LineChart{ShowSymbol: opts.Bool(true)}))
	}
	opt, err := genericOption("Line", c)
	if err != nil {
		return nil, err
	}
	return newChart(opt, o), nil
}

// Scatter draws labelled points, e.g. a 2-D projection of image and text embeddings. Points are
// grouped into series by Point.Group (first-seen order); each point's Label is written beside it,
// except where it would overlap another label (hovering shows every point's label).
func Scatter(points []Point, o Options) (*Chart, error) {
	if len(points) == 0 {
		return nil, fmt.Errorf("plots.Scatter: no points given")
	}
	var groups []string
	byGroup := map[string][]opts.ScatterData{}
	for i, p := range points {
		if math.IsNaN(p.X) || math.IsNaN(p.Y) || math.IsInf(p.X, 0) || math.IsInf(p.Y, 0) {
			return nil, fmt.Errorf("plots.Scatter: point %d (%q) has a non-finite coordinate (%g, %g)", i, p.Label, p.X, p.Y)
		}
		if _, ok := byGroup[p.Group]; !ok {
			groups = append(groups, p.Group)
		}
		byGroup[p.Group] = append(byGroup[p.Group], opts.ScatterData{
			Name: p.Label, Value: []any{value(p.X, o.decimals()), value(p.Y, o.decimals())}, SymbolSize: 10})
	}
	xlo, xhi, ylo, yhi := points[0].X, points[0].X, points[0].Y, points[0].Y
	for _, p := range points {
		xlo, xhi, ylo, yhi = math.Min(xlo, p.X), math.Max(xhi, p.X), math.Min(ylo, p.Y), math.Max(yhi, p.Y)
	}
	xlo, xhi = niceBounds(xlo, xhi)
	ylo, yhi = niceBounds(ylo, yhi)
	c := charts.NewScatter()
	c.SetGlobalOptions(o.globals()...)
	c.SetGlobalOptions(
		charts.WithLegendOpts(opts.Legend{Show: opts.Bool(len(groups) > 1), Top: "bottom"}),
		charts.WithXAxisOpts(opts.XAxis{Name: o.XName, Type: "value", Min: xlo, Max: xhi}),
		charts.WithYAxisOpts(opts.YAxis{Name: o.YName, Type: "value", Min: ylo, Max: yhi}))
	for _, g := range groups {
		c.AddSeries(g, byGroup[g], charts.WithLabelOpts(opts.Label{
			Show: opts.Bool(true), Position: "right", Formatter: "{b}"}),
			// Crowded points: hide the labels that would overlap (the tooltip still names each point).
			charts.WithLabelLayoutOpts(opts.LabelLayout{HideOverlap: opts.Bool(true)}))
	}
	opt, err := genericOption("Scatter", c)
	if err != nil {
		return nil, err
	}
	return newChart(opt, o), nil
}

// HeatMap draws a matrix (e.g. image×text cosine similarities) with row and column labels, a
// colour scale, and, with Options.ValueLabels, each value written in its cell. values[i][j] is the
// cell of row i and column j; rows are drawn top to bottom in order.
func HeatMap(rows, cols []string, values [][]float64, o Options) (*Chart, error) {
	if len(rows) == 0 || len(cols) == 0 {
		return nil, fmt.Errorf("plots.HeatMap: need at least one row and one column label, got %d rows, %d columns", len(rows), len(cols))
	}
	if len(values) != len(rows) {
		return nil, fmt.Errorf("plots.HeatMap: values has %d rows, want %d (one per row label)", len(values), len(rows))
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	data := make([]opts.HeatMapData, 0, len(rows)*len(cols))
	for i, r := range values {
		if len(r) != len(cols) {
			return nil, fmt.Errorf("plots.HeatMap: row %d (%q) has %d values, want %d (one per column label)", i, rows[i], len(r), len(cols))
		}
		for j, v := range r {
			if !math.IsNaN(v) && !math.IsInf(v, 0) {
				lo, hi = math.Min(lo, v), math.Max(hi, v)
			}
			data = append(data, opts.HeatMapData{Value: []any{j, i, value(v, o.decimals())}})
		}
	}
	if o.hasRange() {
		lo, hi = o.Min, o.Max
	} else if math.IsInf(lo, 1) { // all values missing
		lo, hi = 0, 1
	} else if lo == hi {
		lo, hi = lo-0.5, hi+0.5
	}
	c := charts.NewHeatMap()
	c.SetGlobalOptions(o.globals()...)
	c.SetGlobalOptions(
		charts.WithLegendOpts(opts.Legend{Show: opts.Bool(false)}),
		charts.WithXAxisOpts(opts.XAxis{Name: o.XName, Type: "category", Data: cols,
			SplitArea: &opts.SplitArea{Show: opts.Bool(true)}}),
		charts.WithYAxisOpts(opts.YAxis{Name: o.YName, Type: "category", Data: rows, Inverse: opts.Bool(true),
			SplitArea: &opts.SplitArea{Show: opts.Bool(true)}}),
		charts.WithVisualMapOpts(opts.VisualMap{Calculable: opts.Bool(true), Orient: "vertical", Right: "0", Top: "center",
			InRange: &opts.VisualMapInRange{Color: []string{"#f7fbff", "#6baed6", "#08306b"}}}),
	)
	var so []charts.SeriesOpts
	if o.ValueLabels {
		so = append(so, charts.WithLabelOpts(opts.Label{Show: opts.Bool(true), Formatter: "{@[2]}"}))
	}
	c.AddSeries("value", data, so...)
	opt, err := genericOption("HeatMap", c)
	if err != nil {
		return nil, err
	}
	// go-echarts' VisualMap bounds are float32 with omitempty (a 0 bound would vanish): set them here.
	if vms, ok := opt["visualMap"].([]any); ok && len(vms) == 1 {
		if vm, ok := vms[0].(map[string]any); ok {
			vm["min"], vm["max"], vm["precision"] = lo, hi, o.decimals()
		}
	}
	// Label every row and column (ECharts otherwise skips labels that would crowd: a heat map
	// with unlabelled columns is unreadable); slant column labels when there are many.
	rotate := 0
	if len(cols) > 6 {
		rotate = 30
	}
	for axis, extra := range map[string]map[string]any{"xAxis": {"rotate": rotate}, "yAxis": {}} {
		if axes, ok := opt[axis].([]any); ok && len(axes) > 0 {
			if a, ok := axes[0].(map[string]any); ok {
				label := map[string]any{"interval": 0}
				for k, v := range extra {
					label[k] = v
				}
				a["axisLabel"] = label
			}
		}
	}
	// Leave room for the colour scale on the right.
	opt["grid"] = map[string]any{"containLabel": true, "left": "2%", "right": "80px", "top": "60px", "bottom": "4%"}
	return newChart(opt, o), nil
}

// niceBounds widens [lo, hi] by 5% on each side and rounds outwards to a tenth of the power of ten
// below the widened span, so that no point sits on the chart's edge and the bounds stay short
// numbers (0.9–2.1 for data in 1–2).
func niceBounds(lo, hi float64) (float64, float64) {
	span := hi - lo
	if span <= 0 {
		span = math.Max(math.Abs(lo), 1)
	}
	lo, hi = lo-0.05*span, hi+0.05*span
	unit := math.Pow(10, math.Floor(math.Log10(hi-lo))) / 10
	return roundSig(math.Floor(lo/unit) * unit), roundSig(math.Ceil(hi/unit) * unit)
}

// roundSig drops floating-point noise (5.300000000000001 → 5.3).
func roundSig(v float64) float64 {
	r, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'g', 12, 64), 64)
	return r
}

// genericOption validates a go-echarts chart and returns its option object as plain JSON values
// (maps, slices, numbers, strings), which this package can adjust and later encode safely.
func genericOption(kind string, c EChartsBuilder) (map[string]any, error) {
	c.Validate()
	b, err := json.Marshal(c.JSON())
	if err != nil {
		return nil, fmt.Errorf("plots.%s: encoding the go-echarts option: %w", kind, err)
	}
	opt := map[string]any{}
	if err := json.Unmarshal(b, &opt); err != nil {
		return nil, fmt.Errorf("plots.%s: decoding the go-echarts option: %w", kind, err)
	}
	return opt, nil
}

// optionJSON encodes the option object for a <script>: HTML-escaped (<, >, & as \u003c...), so no
// label can end the script element.
func (c *Chart) optionJSON() (string, error) {
	b, err := json.Marshal(c.Option)
	if err != nil {
		return "", fmt.Errorf("plots: chart %s: encoding the ECharts option: %w", c.ID, err)
	}
	return string(b), nil
}
