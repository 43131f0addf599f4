package main

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clipkit/clipkit/nb/plots"
)

// These tests open pages in Debian's Chromium; they run only with CLIPKIT_BROWSER_TEST=1
// (tools/ci/notebooks.sh sets it) and need the ECharts library from scripts/setup-notebooks.sh.
func needBrowser(t *testing.T) {
	t.Helper()
	if os.Getenv("CLIPKIT_BROWSER_TEST") != "1" {
		t.Skip("set CLIPKIT_BROWSER_TEST=1 to run the headless Chromium checks")
	}
	if _, err := plots.LibraryPath(); err != nil {
		t.Fatal(err)
	}
}

func testTile(t *testing.T) plots.Tile {
	img := image.NewRGBA(image.Rect(0, 0, 40, 30))
	for y := range 30 {
		for x := range 40 {
			img.Set(x, y, color.RGBA{uint8(6 * x), uint8(8 * y), 90, 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return plots.Tile{Data: buf.Bytes(), Caption: "gradient"}
}

func writePage(t *testing.T, page string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "page.html")
	if err := os.WriteFile(p, []byte(page), 0o644); err != nil {
		t.Fatal(err)
	}
	return "file://" + p
}

func TestEveryChartTypeDrawsOffline(t *testing.T) {
	needBrowser(t)
	bar, err := plots.Bar([]string{"a", "b"}, plots.Options{Title: "bar"}, plots.Series{Name: "s", Values: []float64{1, 2}})
	if err != nil {
		t.Fatal(err)
	}
	line, _ := plots.Line([]string{"1", "2", "3"}, plots.Options{Title: "line"}, plots.Series{Name: "l", Values: []float64{1, 3, 2}})
	scatter, _ := plots.Scatter([]plots.Point{{X: 1, Y: 2, Label: "p"}, {X: 2, Y: 1, Label: "q"}}, plots.Options{Title: "scatter", SVG: true})
	heat, _ := plots.HeatMap([]string{"r"}, []string{"c1", "c2"}, [][]float64{{0.1, 0.9}}, plots.Options{Title: "heat", ValueLabels: true})
	grid, err := plots.ImageGrid([]plots.Tile{testTile(t)}, plots.GridOptions{})
	if err != nil {
		t.Fatal(err)
	}
	page, err := plots.Page("all charts", bar, line, scatter, heat, grid)
	if err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(t.TempDir(), "shot.png")
	res, err := Check(writePage(t, page), Options{Screenshot: shot})
	if err != nil {
		t.Fatal(err)
	}
	if res.Charts != 4 || res.DrawnCharts != 4 || res.LoadedImgs != 1 || len(res.Errors) != 0 {
		t.Fatalf("got %s; want 4 of 4 charts drawn (canvas and SVG) and the image loaded", res)
	}
	if st, err := os.Stat(shot); err != nil || st.Size() < 10_000 {
		t.Errorf("screenshot missing or tiny: %v", err)
	}
}

// The check must be able to fail: a chart whose page lacks the library, and a broken image.
func TestCheckFailsWithoutLibraryOrImage(t *testing.T) {
	needBrowser(t)
	bar, _ := plots.Bar([]string{"a"}, plots.Options{}, plots.Series{Values: []float64{1}})
	frag, err := bar.Fragment() // no library on this page
	if err != nil {
		t.Fatal(err)
	}
	page := `<!DOCTYPE html><html><body>` + frag + `<img src="data:image/png;base64,AAAA"></body></html>`
	res, err := Check(writePage(t, page), Options{Wait: time.Duration(2*plots.ChartWaitSeconds) * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if res.OK() || res.DrawnCharts != 0 || res.LoadedImgs != 0 || len(res.Errors) != 1 ||
		!strings.Contains(res.Errors[0], "needs the ECharts library") {
		t.Fatalf("got %s; want no chart drawn, its error shown, and no image loaded", res)
	}
}
