// Package serve is the notebooks' side of clipkit's model server (`clipx serve`, package
// cliplib/serve): Attach starts the server for a model, or attaches to the one already running,
// and Client calls its HTTP API. The server outlives the GoNB cell that started it (its own
// process group), so later cells that call it and browser widgets pay no model load or compile; it exits
// after its idle timeout. A server that died is reported with the end of its log.
//
//	c, err := serve.Attach(serve.Options{Model: "ViT-B/32"})
//	g, err := c.Gallery("photos", paths, nil)
//	z, err := c.ZeroShot(serve.ZeroShotRequest{Gallery: g.ID, Classes: []string{"cat", "dog"}})
//
// Notebook cells and widgets attach with AttachNotebook (the notebooks' options: $CLIP_PRECISION,
// $GOMLX_BACKEND, random weights in smoke mode or, remembered for a while, when the trained ones
// cannot be loaded); nb/explore.Open wraps it in a Session.
//
// Browsers reach the server through Jupyter's own server (jupyter-server-proxy):
// <Jupyter base URL> + c.BrowserBase() + "v1/zeroshot", with c.BrowserToken(), which allows only
// what live panels call; c.Token(), which allows everything, stays in the kernel and must never
// be written into a cell's output (docs/serve.md, security model).
package serve

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/png"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	api "github.com/clipkit/clipkit/cliplib/serve"
)

// The API's types, re-exported so that notebooks need only this package.
type (
	// State is what a running server wrote to its state file.
	State = api.State
	// Health is the answer of GET /healthz.
	Health = api.Health
	// GalleryResponse is the id and size of a gallery.
	GalleryResponse = api.GalleryResponse
	// ZeroShotRequest asks for zero-shot probabilities over a gallery or image paths.
	ZeroShotRequest = api.ZeroShotRequest
	// ZeroShotResponse holds probabilities [items][classes] and metrics.
	ZeroShotResponse = api.ZeroShotResponse
	// SearchRequest asks for the top-k items of a gallery for a text or an image.
	SearchRequest = api.SearchRequest
	// SearchResponse holds the hits, best first.
	SearchResponse = api.SearchResponse
	// Hit is one search result.
	Hit = api.Hit
	// Info is the answer of GET /v1/info: the served model's name, config, logit scale, weights.
	Info = api.Info
)

// ErrServerDied is wrapped by the errors of calls to a server whose process is gone.
var ErrServerDied = errors.New("the model server is not running any more")

// Client calls one running model server. It is safe for concurrent use.
type Client struct {
	st   api.State
	hc   *http.Client
	logf string
	// PreviousCrash, when not empty, says that Attach found the server it would have attached to
	// dead (crashed or killed) and started a new one; it holds the end of the dead server's log.
	PreviousCrash string
}

func newClient(st api.State) *Client {
	return &Client{st: st, logf: st.Log, hc: &http.Client{Transport: &http.Transport{
		MaxIdleConnsPerHost: 8, IdleConnTimeout: 90 * time.Second, DisableCompression: true}}}
}

// URL is the server's base URL on loopback, e.g. http://127.0.0.1:PORT.
func (c *Client) URL() string { return c.st.URL }

// Token is the server's full token: it allows every request (naming files the server reads,
// stopping it). The client's own requests carry it; it must not be written into cell outputs.
func (c *Client) Token() string { return c.st.Token }

// BrowserToken is the server's browser token, scoped to what live panels call (zero-shot and
// search over galleries already registered, thumbnails, /v1/info; cliplib/serve.BrowserScope):
// the only token that may appear in a cell's output, which saved notebooks keep.
func (c *Client) BrowserToken() string { return c.st.BrowserToken }

// Port is the server's TCP port on loopback.
func (c *Client) Port() int { return c.st.Port }

// PID is the server's process id.
func (c *Client) PID() int { return c.st.PID }

// State is the server's state file content.
func (c *Client) State() State { return c.st }

// LogPath is the server's log file.
func (c *Client) LogPath() string { return c.logf }

// BrowserBase is the path browsers use for the server, relative to Jupyter's base URL:
// "proxy/PORT/" (jupyter-server-proxy). JavaScript joins it with PageConfig's baseUrl.
func (c *Client) BrowserBase() string { return fmt.Sprintf("proxy/%d/", c.st.Port) }

// ThumbnailPath is the browser path (relative to Jupyter's base URL, browser token included, for
// <img src>) of a JPEG thumbnail of item i of a gallery, scaled to fit size×size.
func (c *Client) ThumbnailPath(gallery string, i, size int) string {
	return fmt.Sprintf("%sv1/galleries/%s/images/%d?size=%d&token=%s", c.BrowserBase(), url.PathEscape(gallery), i, size, url.QueryEscape(c.st.BrowserToken))
}

// Health calls GET /healthz.
func (c *Client) Health() (*Health, error) {
	var h Health
	return &h, c.do("GET", "/healthz", nil, &h)
}

// Info calls GET /v1/info.
func (c *Client) Info() (*Info, error) {
	var in Info
	return &in, c.do("GET", "/v1/info", nil, &in)
}

// EncodeImageData returns one L2-normalised embedding [E] per decoded image, for images that
// have no file (dataset items): each is sent as lossless PNG (so the embeddings are those of the
// image itself) and cached on the server by its pixels.
func (c *Client) EncodeImageData(imgs []image.Image) ([][]float32, error) {
	data := make([][]byte, len(imgs))
	enc := png.Encoder{CompressionLevel: png.BestSpeed}
	for i, img := range imgs {
		if img == nil {
			return nil, fmt.Errorf("serve: EncodeImageData: image %d is nil", i)
		}
		var b bytes.Buffer
		if err := enc.Encode(&b, img); err != nil {
			return nil, fmt.Errorf("serve: EncodeImageData: image %d as PNG: %w", i, err)
		}
		data[i] = b.Bytes()
	}
	var out api.EmbeddingsResponse
	err := c.do("POST", "/v1/encode/image-data", api.EncodeImageDataRequest{Images: data}, &out)
	return out.Embeddings, err
}

// EncodeTexts returns one L2-normalised embedding [E] per text (through the server's text cache).
func (c *Client) EncodeTexts(texts []string) ([][]float32, error) {
	var out api.EmbeddingsResponse
	err := c.do("POST", "/v1/encode/text", api.EncodeTextRequest{Texts: texts}, &out)
	return out.Embeddings, err
}

// EncodeImages returns one L2-normalised embedding [E] per image file (through the server's
// image cache). Relative paths are made absolute here.
func (c *Client) EncodeImages(paths []string) ([][]float32, error) {
	abs, err := absPaths(paths)
	if err != nil {
		return nil, err
	}
	var out api.EmbeddingsResponse
	err = c.do("POST", "/v1/encode/images", api.EncodeImagesRequest{Paths: abs}, &out)
	return out.Embeddings, err
}

// Gallery makes the server encode a named list of images once and keep it; the same name and
// paths give the same id. Labels (a class index per path, -1 unknown) are optional.
func (c *Client) Gallery(name string, paths []string, labels []int) (*GalleryResponse, error) {
	abs, err := absPaths(paths)
	if err != nil {
		return nil, err
	}
	var out GalleryResponse
	return &out, c.do("POST", "/v1/galleries", api.GalleryRequest{Name: name, Paths: abs, Labels: labels}, &out)
}

// ZeroShot classifies a gallery's items (or image paths) into classes.
func (c *Client) ZeroShot(req ZeroShotRequest) (*ZeroShotResponse, error) {
	var err error
	if req.Paths, err = absPaths(req.Paths); err != nil {
		return nil, err
	}
	var out ZeroShotResponse
	return &out, c.do("POST", "/v1/zeroshot", req, &out)
}

// Search returns a gallery's top-k items for a text query or an image.
func (c *Client) Search(req SearchRequest) (*SearchResponse, error) {
	if req.ImagePath != "" {
		p, err := filepath.Abs(req.ImagePath)
		if err != nil {
			return nil, err
		}
		req.ImagePath = p
	}
	var out SearchResponse
	return &out, c.do("POST", "/v1/search", req, &out)
}

// Shutdown asks the server to exit (it removes its state file).
func (c *Client) Shutdown() error {
	return c.do("POST", "/v1/shutdown", struct{}{}, nil)
}

func absPaths(paths []string) ([]string, error) {
	if paths == nil {
		return nil, nil
	}
	out := make([]string, len(paths))
	for i, p := range paths {
		if p == "" {
			out[i] = p // the server names the empty path
			continue
		}
		a, err := filepath.Abs(p)
		if err != nil {
			return nil, fmt.Errorf("paths[%d] = %q: %w", i, p, err)
		}
		out[i] = a
	}
	return out, nil
}

// do sends one request; a server error comes back as its message, a server that is gone as
// ErrServerDied with the end of its log.
func (c *Client) do(method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("serve: %s: %w", path, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.st.URL+path, body)
	if err != nil {
		return fmt.Errorf("serve: %s: %w", path, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.st.Token)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		if !pidAlive(c.st.PID) {
			return c.died()
		}
		return fmt.Errorf("serve: %s %s%s: %w (the server, pid %d, is running; its log: %s)", method, c.st.URL, path, err, c.st.PID, c.logf)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<30))
	if err != nil {
		return fmt.Errorf("serve: %s %s: reading the answer: %w", method, path, err)
	}
	if resp.StatusCode != http.StatusOK {
		var e api.ErrorResponse
		if json.Unmarshal(raw, &e) == nil && e.Error != "" {
			return fmt.Errorf("serve: %s %s: %s (HTTP %d)", method, path, e.Error, resp.StatusCode)
		}
		return fmt.Errorf("serve: %s %s: HTTP %d: %.300s", method, path, resp.StatusCode, raw)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("serve: %s %s: answer is not the JSON expected: %w", method, path, err)
	}
	return nil
}

// died is the error of a call to a server whose process is gone: an exit it logged (idle timeout,
// shutdown request, signal) is named, anything else is a crash or a kill.
func (c *Client) died() error {
	how := "died without saying why (crashed or killed)"
	if b, err := os.ReadFile(c.logf); err == nil {
		if i := strings.LastIndex(string(b), "stopping: "); i >= 0 {
			reason, _, _ := strings.Cut(string(b[i+len("stopping: "):]), "\n")
			how = "exited (" + reason + ")"
		}
	}
	return fmt.Errorf("%w: %s (pid %d, %s) %s; call serve.Attach to start a new one. %s",
		ErrServerDied, c.st.Model, c.st.PID, c.st.URL, how, logTail(c.logf))
}
