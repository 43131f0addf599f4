// Command browsercheck opens an HTML page (a `clipx report` export) in headless Chromium with no
// network access beyond the page's own file, and checks that what a person would see is there: at
// least one chart drew (a non-blank <canvas> or an <svg> with shapes inside a clipkit chart) and at
// least one <img> loaded (naturalWidth > 0). It prints what it found and optionally saves a
// screenshot.
//
//	go run ./tools/ci/browsercheck --screenshot out.png reports/00-platform-check.html
//
// It drives Debian's Chromium through the DevTools protocol with go-rod (already in our module
// graph through GoNB's nbexec), started with background networking off as this machine's closed
// network requires. It never downloads a browser: without Chromium it fails and says so.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/go-rod/rod"
	"github.com/go-rod/rod/lib/launcher"
	"github.com/go-rod/rod/lib/proto"
)

// Result is what the page showed.
type Result struct {
	Charts      int `json:"charts"`      // clipkit chart containers on the page
	DrawnCharts int `json:"drawnCharts"` // charts whose canvas has non-background pixels or whose SVG has shapes
	Images      int `json:"images"`      // <img> elements
	LoadedImgs  int `json:"loadedImgs"`  // <img> with naturalWidth > 0
	// Errors are messages charts wrote in place of themselves (e.g. missing library).
	Errors []string `json:"errors"`
}

// OK reports whether at least one chart drew and one image loaded, with no chart error.
func (r Result) OK() bool { return r.DrawnCharts > 0 && r.LoadedImgs > 0 && len(r.Errors) == 0 }

func (r Result) String() string {
	return fmt.Sprintf("charts drawn: %d of %d; images loaded: %d of %d; chart errors: %d %q",
		r.DrawnCharts, r.Charts, r.LoadedImgs, r.Images, len(r.Errors), r.Errors)
}

// Options configure Check.
type Options struct {
	Chromium   string        // browser executable; default: chromium or chromium-browser on PATH
	Screenshot string        // PNG path for a full-page screenshot; empty for none
	Wait       time.Duration // time allowed for charts to draw; default 15s
	Width      int           // viewport width; default 1100
}

// probeJS counts charts, drawn charts, images and loaded images. A canvas counts as drawn when any
// sampled pixel differs from the first (ECharts paints a white or transparent background).
const probeJS = `() => {
  const charts = Array.from(document.querySelectorAll(".clipkit-chart"));
  let drawn = 0;
  const errors = [];
  for (const c of charts) {
    const err = c.querySelector("p[style*='#a00']");
    if (err) { errors.push(err.textContent.slice(0, 200)); continue; }
    let ok = false;
    for (const cv of c.querySelectorAll("canvas")) {
      if (!cv.width || !cv.height) continue;
      const ctx = cv.getContext("2d");
      const d = ctx.getImageData(0, 0, cv.width, cv.height).data;
      const step = 4 * 97;
      for (let i = step; i < d.length; i += step) {
        if (d[i] !== d[0] || d[i+1] !== d[1] || d[i+2] !== d[2] || d[i+3] !== d[3]) { ok = true; break; }
      }
      if (ok) break;
    }
    if (!ok && c.querySelector("svg path, svg rect, svg text")) ok = true;
    if (ok) drawn++;
  }
  const imgs = Array.from(document.images);
  return {charts: charts.length, drawnCharts: drawn, images: imgs.length,
          loadedImgs: imgs.filter(i => i.complete && i.naturalWidth > 0).length, errors: errors};
}`

// Check opens url (file:// or http://127.0.0.1) and probes it, polling until every chart drew or
// Wait passed.
func Check(url string, o Options) (Result, error) {
	var res Result
	bin := o.Chromium
	if bin == "" {
		for _, name := range []string{"chromium", "chromium-browser"} {
			if p, err := exec.LookPath(name); err == nil {
				bin = p
				break
			}
		}
	}
	if bin == "" {
		return res, fmt.Errorf("browsercheck: Chromium not found (apt-get install chromium, or --chromium PATH)")
	}
	if o.Wait <= 0 {
		o.Wait = 15 * time.Second
	}
	if o.Width <= 0 {
		o.Width = 1100
	}
	userData, err := os.MkdirTemp("", "browsercheck-profile-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(userData)
	l := launcher.New().Bin(bin).Headless(true).NoSandbox(true).Leakless(false).UserDataDir(userData).
		Set("disable-gpu").Set("disable-dev-shm-usage").Set("disable-background-networking").
		Set("disable-component-update").Set("disable-sync").Set("no-first-run").Set("disable-quic")
	defer l.Cleanup()
	controlURL, err := l.Launch()
	if err != nil {
		return res, fmt.Errorf("browsercheck: starting %s: %w", bin, err)
	}
	defer l.Kill()
	browser := rod.New().ControlURL(controlURL)
	if err := browser.Connect(); err != nil {
		return res, fmt.Errorf("browsercheck: connecting to %s: %w", bin, err)
	}
	defer browser.Close()
	page, err := browser.Page(proto.TargetCreateTarget{URL: "about:blank"})
	if err != nil {
		return res, err
	}
	if err := (proto.EmulationSetDeviceMetricsOverride{Width: o.Width, Height: 900, DeviceScaleFactor: 1}).Call(page); err != nil {
		return res, err
	}
	if err := page.Timeout(60 * time.Second).Navigate(url); err != nil {
		return res, fmt.Errorf("browsercheck: opening %s: %w", url, err)
	}
	if err := page.Timeout(60 * time.Second).WaitLoad(); err != nil {
		return res, fmt.Errorf("browsercheck: loading %s: %w", url, err)
	}
	deadline := time.Now().Add(o.Wait)
	for {
		obj, err := page.Eval(probeJS)
		if err != nil {
			return res, fmt.Errorf("browsercheck: probing the page: %w", err)
		}
		if err := obj.Value.Unmarshal(&res); err != nil {
			return res, fmt.Errorf("browsercheck: probe result: %w", err)
		}
		if (res.Charts > 0 && res.DrawnCharts+len(res.Errors) == res.Charts) || time.Now().After(deadline) {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	if o.Screenshot != "" {
		png, err := page.Screenshot(true, &proto.PageCaptureScreenshot{Format: proto.PageCaptureScreenshotFormatPng})
		if err != nil {
			return res, fmt.Errorf("browsercheck: screenshot: %w", err)
		}
		if err := os.WriteFile(o.Screenshot, png, 0o644); err != nil {
			return res, err
		}
	}
	return res, nil
}

func main() {
	var o Options
	flag.StringVar(&o.Chromium, "chromium", "", "Chromium executable (default: chromium or chromium-browser on PATH)")
	flag.StringVar(&o.Screenshot, "screenshot", "", "write a full-page PNG screenshot here")
	flag.DurationVar(&o.Wait, "wait", 15*time.Second, "time allowed for the charts to draw")
	flag.Usage = func() {
		fmt.Fprintln(flag.CommandLine.Output(), "usage: browsercheck [flags] PAGE.html")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	abs, err := filepath.Abs(flag.Arg(0))
	if err == nil {
		_, err = os.Stat(abs)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "browsercheck:", err)
		os.Exit(2)
	}
	res, err := Check("file://"+abs, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("browsercheck %s: %s\n", flag.Arg(0), res)
	if !res.OK() {
		fmt.Fprintln(os.Stderr, "browsercheck: FAILED: want at least one drawn chart, one loaded image and no chart errors")
		os.Exit(1)
	}
}
