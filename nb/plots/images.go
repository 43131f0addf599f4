package plots

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"html"
	"image"
	"image/draw"
	"image/jpeg"
	"image/png"
	"path/filepath"
	"strings"

	xdraw "golang.org/x/image/draw"

	"github.com/clipkit/clipkit/cliplib/preprocess"
)

// Tile is one image of an ImageGrid. Set Img or Data.
type Tile struct {
	// Img is a decoded image; it is scaled down to the grid's MaxSide and encoded (JPEG when
	// opaque, PNG otherwise).
	Img image.Image
	// Data is an encoded PNG, JPEG or GIF file, embedded as is unless larger than MaxSide.
	Data []byte
	// Caption is written under the image (e.g. the file name or "cat 0.93").
	Caption string
	// Tooltip is shown when hovering the image (its title attribute).
	Tooltip string
	// Border is a CSS colour for a frame around the tile (e.g. "#2a2" for a correct retrieval);
	// empty for none.
	Border string
}

// GridOptions configure ImageGrid; the zero value gives defaults.
type GridOptions struct {
	// Title written above the grid.
	Title string
	// TileSize is the displayed width and height bound of each image in CSS pixels; default 160.
	TileSize int
	// MaxSide bounds the stored image's longer side in pixels; default 2×TileSize (sharp on
	// high-density screens). Larger images are scaled down before embedding.
	MaxSide int
	// Columns fixes the number of columns; 0 fills the width.
	Columns int
	// JPEGQuality for re-encoded opaque images; default 85.
	JPEGQuality int
}

// LoadTile reads an image file (PNG, JPEG or GIF) into a Tile captioned with its base name.
func LoadTile(path string) (Tile, error) {
	data, err := preprocess.ReadFileLimited(path, preprocess.DefaultLimits)
	if err != nil {
		return Tile{}, fmt.Errorf("plots.LoadTile: %w", err)
	}
	if _, _, err := preprocess.DecodeConfigBytes(data, path, preprocess.DefaultLimits); err != nil {
		return Tile{}, fmt.Errorf("plots.LoadTile: %w", err)
	}
	return Tile{Data: data, Caption: filepath.Base(path)}, nil
}

// ImageGrid returns an HTML grid of images with captions. The images are embedded as base64 data
// URIs, so the grid displays offline, in exported HTML, and in untrusted notebooks (no JavaScript).
func ImageGrid(tiles []Tile, o GridOptions) (HTML, error) {
	if len(tiles) == 0 {
		return "", fmt.Errorf("plots.ImageGrid: no tiles given")
	}
	size := o.TileSize
	if size <= 0 {
		size = 160
	}
	maxSide := o.MaxSide
	if maxSide <= 0 {
		maxSide = 2 * size
	}
	quality := o.JPEGQuality
	if quality <= 0 || quality > 100 {
		quality = 85
	}
	cols := fmt.Sprintf("repeat(auto-fill, minmax(%dpx, 1fr))", size+8)
	if o.Columns > 0 {
		cols = fmt.Sprintf("repeat(%d, %dpx)", o.Columns, size+8)
	}
	var b strings.Builder
	b.WriteString(`<div class="clipkit-image-grid">`)
	if o.Title != "" {
		fmt.Fprintf(&b, `<p style="font-weight:bold;margin:4px 0">%s</p>`, html.EscapeString(o.Title))
	}
	fmt.Fprintf(&b, `<div style="display:grid;grid-template-columns:%s;gap:8px;align-items:start">`, cols)
	for i, t := range tiles {
		src, err := tileSrc(t, maxSide, quality)
		if err != nil {
			return "", fmt.Errorf("plots.ImageGrid: tile %d (%q): %w", i, t.Caption, err)
		}
		frame := ""
		if t.Border != "" {
			frame = fmt.Sprintf("border:3px solid %s;", html.EscapeString(cssColor(t.Border)))
		}
		fmt.Fprintf(&b, `<figure style="margin:0;text-align:center;%s">`, frame)
		fmt.Fprintf(&b, `<img src="%s" alt="%s" title="%s" style="max-width:%dpx;max-height:%dpx;display:block;margin:0 auto">`,
			src, html.EscapeString(t.Caption), html.EscapeString(t.Tooltip), size, size)
		if t.Caption != "" {
			fmt.Fprintf(&b, `<figcaption style="font-size:12px;word-break:break-word">%s</figcaption>`, html.EscapeString(t.Caption))
		}
		b.WriteString("</figure>")
	}
	b.WriteString("</div></div>")
	return HTML(b.String()), nil
}

// cssColor keeps colour names and #hex/rgb() values; anything else becomes "gray".
func cssColor(s string) string {
	for _, r := range s {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || strings.ContainsRune("#(),. %", r)) {
			return "gray"
		}
	}
	return s
}

// tileSrc returns the data: URI of a tile, scaled down to maxSide when needed.
func tileSrc(t Tile, maxSide, quality int) (string, error) {
	img := t.Img
	switch {
	case img == nil && len(t.Data) == 0:
		return "", fmt.Errorf("neither Img nor Data set")
	case img == nil:
		// One guarded decoder for the whole project: limits are checked from the header.
		cfg, format, err := preprocess.DecodeConfigBytes(t.Data, "tile data", preprocess.DefaultLimits)
		if err != nil {
			return "", err
		}
		if cfg.Width <= maxSide && cfg.Height <= maxSide && browserFormat(format) {
			return "data:image/" + format + ";base64," + base64.StdEncoding.EncodeToString(t.Data), nil
		}
		img, _, err = preprocess.DecodeBytes(t.Data, "tile data", preprocess.DefaultLimits)
		if err != nil {
			return "", err
		}
	}
	img = Thumbnail(img, maxSide)
	var buf bytes.Buffer
	if opaque(img) {
		if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: quality}); err != nil {
			return "", fmt.Errorf("encoding JPEG: %w", err)
		}
		return "data:image/jpeg;base64," + base64.StdEncoding.EncodeToString(buf.Bytes()), nil
	}
	if err := png.Encode(&buf, img); err != nil {
		return "", fmt.Errorf("encoding PNG: %w", err)
	}
	return "data:image/png;base64," + base64.StdEncoding.EncodeToString(buf.Bytes()), nil
}

// browserFormat reports whether every browser shows format as an <img> data URI (TIFF is not).
func browserFormat(format string) bool {
	switch format {
	case "png", "jpeg", "gif", "webp", "bmp":
		return true
	}
	return false
}

// Thumbnail returns img scaled (Catmull-Rom) so that its longer side is at most maxSide pixels,
// keeping the aspect ratio; img itself when it already fits.
func Thumbnail(img image.Image, maxSide int) image.Image {
	bnd := img.Bounds()
	w, h := bnd.Dx(), bnd.Dy()
	if maxSide <= 0 || (w <= maxSide && h <= maxSide) || w == 0 || h == 0 {
		return img
	}
	nw, nh := maxSide, maxSide
	if w >= h {
		nh = max(1, h*maxSide/w)
	} else {
		nw = max(1, w*maxSide/h)
	}
	dst := image.NewRGBA(image.Rect(0, 0, nw, nh))
	xdraw.CatmullRom.Scale(dst, dst.Bounds(), img, bnd, draw.Src, nil)
	return dst
}

// opaque reports whether every pixel of img is fully opaque.
func opaque(img image.Image) bool {
	if o, ok := img.(interface{ Opaque() bool }); ok {
		return o.Opaque()
	}
	return false
}

// Table returns an HTML table with a header row; every cell is escaped text. Rows shorter than
// the header are padded; longer rows are an error.
func Table(header []string, rows [][]string) (HTML, error) {
	if len(header) == 0 {
		return "", fmt.Errorf("plots.Table: empty header")
	}
	var b strings.Builder
	b.WriteString(`<table class="clipkit-table" style="border-collapse:collapse;font-size:13px"><thead><tr>`)
	for _, h := range header {
		fmt.Fprintf(&b, `<th style="border-bottom:2px solid #888;padding:3px 8px;text-align:left">%s</th>`, html.EscapeString(h))
	}
	b.WriteString("</tr></thead><tbody>")
	for i, r := range rows {
		if len(r) > len(header) {
			return "", fmt.Errorf("plots.Table: row %d has %d cells, header has %d", i, len(r), len(header))
		}
		b.WriteString("<tr>")
		for j := range header {
			cell := ""
			if j < len(r) {
				cell = r[j]
			}
			fmt.Fprintf(&b, `<td style="border-bottom:1px solid #ddd;padding:3px 8px">%s</td>`, html.EscapeString(cell))
		}
		b.WriteString("</tr>")
	}
	b.WriteString("</tbody></table>")
	return HTML(b.String()), nil
}

func htmlEscape(s string) string { return html.EscapeString(s) }
