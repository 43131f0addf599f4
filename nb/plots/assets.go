package plots

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// EChartsVersion is the ECharts release the charts are written for: the one go-echarts v2.6.7
// targets, installed from npm by scripts/setup-notebooks.sh (package.json pins it).
const EChartsVersion = "5.4.3"

// Environment variables that locate the ECharts library.
const (
	// EnvEChartsJS names an echarts.min.js file to use instead of searching for one.
	EnvEChartsJS = "CLIPKIT_ECHARTS_JS"
	// EnvCache is clipkit's download cache; <cache>/echarts/echarts.min.js is searched last.
	EnvCache = "CLIPKIT_CACHE"
)

// setupHint is appended to every "library not found" error.
const setupHint = "run scripts/setup-notebooks.sh from the clipkit repository (it installs echarts@" +
	EChartsVersion + " from npm into node_modules/), or set " + EnvEChartsJS + " to an echarts.min.js file"

var (
	libMu     sync.Mutex
	libCached []byte
	libPath   string
)

// LibraryPath returns the echarts.min.js file that charts inline, searched in this order:
//  1. $CLIPKIT_ECHARTS_JS;
//  2. node_modules/echarts/dist/echarts.min.js in the working directory or any directory above it
//     (where the set-up script's `npm ci` puts it: the repository root);
//  3. $CLIPKIT_CACHE/echarts/echarts.min.js.
//
// It never falls back to a network location: if none exists it returns an error that says how to
// install the library.
func LibraryPath() (string, error) {
	if p := os.Getenv(EnvEChartsJS); p != "" {
		if st, err := os.Stat(p); err != nil || st.IsDir() {
			return "", fmt.Errorf("plots: %s=%q is not a readable file: %s", EnvEChartsJS, p, setupHint)
		}
		return p, nil
	}
	var tried []string
	if wd, err := os.Getwd(); err == nil {
		for dir := wd; ; dir = filepath.Dir(dir) {
			p := filepath.Join(dir, "node_modules", "echarts", "dist", "echarts.min.js")
			if st, err := os.Stat(p); err == nil && !st.IsDir() {
				return p, nil
			}
			if parent := filepath.Dir(dir); parent == dir {
				break
			}
		}
		tried = append(tried, "node_modules/echarts/dist/echarts.min.js above "+wd)
	}
	if c := os.Getenv(EnvCache); c != "" {
		p := filepath.Join(c, "echarts", "echarts.min.js")
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
		tried = append(tried, p)
	}
	return "", fmt.Errorf("plots: ECharts library (echarts.min.js) not found (looked for %s): %s",
		strings.Join(tried, ", "), setupHint)
}

// library returns the ECharts source, read once per process and checked to be a UMD bundle of
// the expected shape.
func library() ([]byte, error) {
	libMu.Lock()
	defer libMu.Unlock()
	if libCached != nil {
		return libCached, nil
	}
	p, err := LibraryPath()
	if err != nil {
		return nil, err
	}
	src, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("plots: reading ECharts library: %w (%s)", err, setupHint)
	}
	if !bytes.Contains(src, []byte("echarts")) || len(src) < 100_000 {
		return nil, fmt.Errorf("plots: %s does not look like echarts.min.js (%d bytes): %s", p, len(src), setupHint)
	}
	// The library goes inside an HTML <script> element, which the sequence "</script" would end.
	// echarts.min.js 5.4.3 has none; if another build does, escape it the standard way (inside JS
	// strings and regexps "<\/" means "</").
	src = bytes.ReplaceAll(src, []byte("</script"), []byte(`<\/script`))
	libCached, libPath = src, p
	return src, nil
}

// libraryScript returns the <script> element that defines window.echarts from the inlined library
// unless the page already has it. The UMD bundle is evaluated inside a function whose parameters
// shadow define/exports/module, so a RequireJS (nbconvert's HTML template loads one) or CommonJS
// environment cannot capture it and it always sets the global. The data attribute lets tools
// (clipx report) find and deduplicate the element.
func libraryScript() (string, error) {
	src, err := library()
	if err != nil {
		return "", err
	}
	var b strings.Builder
	b.Grow(len(src) + 300)
	b.WriteString(`<script data-clipkit-echarts="` + EChartsVersion + `">` + "\n")
	b.WriteString("if (typeof window.echarts === 'undefined') { (function (define, exports, module) {\n")
	b.Write(src)
	b.WriteString("\n}).call(window, undefined, undefined, undefined); }\n</script>\n")
	return b.String(), nil
}

// LibraryMarker is the attribute that marks the <script> element carrying the inlined ECharts
// library, as written by this package: `<script data-clipkit-echarts="5.4.3">`.
const LibraryMarker = `data-clipkit-echarts=`
