package widgets

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"time"
)

// Server is what panels need of a model server (nb/serve's *Client has these methods): its
// address and full token for the kernel's requests (the initial state, registering galleries),
// the browser token that goes into the panel's output for the browser's requests, and the path
// the browser uses relative to Jupyter's base URL ("proxy/PORT/").
type Server interface {
	URL() string
	// Token is the full token: used by the kernel only, never written into an output.
	Token() string
	// BrowserToken is the token scoped to what panels call (cliplib/serve.BrowserScope); it is
	// the only one an output shows, and saved notebooks keep it.
	BrowserToken() string
	BrowserBase() string
}

// endpoint returns how the browser reaches srv: its browser path and browser token. A server
// without a browser token (or whose browser token is its full token) is an error, so that the
// full token never reaches an output.
func endpoint(srv Server) (Endpoint, error) {
	if srv == nil {
		return Endpoint{}, fmt.Errorf("widgets: no model server (nil Server)")
	}
	bt := srv.BrowserToken()
	if bt == "" || bt == srv.Token() {
		return Endpoint{}, fmt.Errorf("widgets: the model server at %s has no browser token (an older clipx serve?): "+
			"panels show only the browser token, never the full one; stop that server and re-run the cell", srv.URL())
	}
	return Endpoint{Base: strings.TrimPrefix(srv.BrowserBase(), "/"), Token: bt}, nil
}

// httpClient bounds every kernel-side request (the server answers zero-shot and search requests
// in milliseconds; registering a large gallery encodes images, hence the generous limit).
var httpClient = &http.Client{Timeout: 10 * time.Minute}

// maxAnswer bounds the size of an answer read from the server (embeddings of a big gallery fit).
const maxAnswer = 256 << 20

// post sends req as JSON to srv's path (e.g. "v1/zeroshot") and decodes the answer into resp. A
// non-2xx answer becomes an error with the server's message.
func post(srv Server, path string, req, resp any) error {
	if srv == nil {
		return fmt.Errorf("widgets: no model server (nil Server)")
	}
	body, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("widgets: encoding the %s request: %w", path, err)
	}
	url := strings.TrimRight(srv.URL(), "/") + "/" + strings.TrimLeft(path, "/")
	r, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("widgets: %s: %w", url, err)
	}
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Authorization", "Bearer "+srv.Token())
	res, err := httpClient.Do(r)
	if err != nil {
		return fmt.Errorf("widgets: model server request %s failed (is the server still running? re-run the cell that attaches to it): %w", path, err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, maxAnswer+1))
	if err != nil {
		return fmt.Errorf("widgets: reading the answer to %s: %w", path, err)
	}
	if len(data) > maxAnswer {
		return fmt.Errorf("widgets: the answer to %s is larger than %d MiB", path, maxAnswer>>20)
	}
	if res.StatusCode/100 != 2 {
		var e struct {
			Error string `json:"error"`
		}
		msg := strings.TrimSpace(string(data))
		if json.Unmarshal(data, &e) == nil && e.Error != "" {
			msg = e.Error
		}
		if len(msg) > 500 {
			msg = msg[:500] + "..."
		}
		return fmt.Errorf("widgets: model server: %s: HTTP %d: %s", path, res.StatusCode, msg)
	}
	if err := json.Unmarshal(data, resp); err != nil {
		return fmt.Errorf("widgets: the answer to %s is not the expected JSON: %w", path, err)
	}
	return nil
}

// Gallery is a set of images registered with a model server (POST /v1/galleries): encoded once
// there, referred to by ID in later requests.
type Gallery struct {
	// ID is the server's id for the gallery ("g1").
	ID string
	// Name, Paths and Labels are what was registered; Labels[i] is the class index of Paths[i]
	// (nil when unknown).
	Name   string
	Paths  []string
	Labels []int
}

// NewGallery registers paths (and their class labels, or nil) under name with srv, which encodes
// them once (its image cache makes a repeat cheap; the same name and paths give the same ID).
func NewGallery(srv Server, name string, paths []string, labels []int) (Gallery, error) {
	if len(paths) == 0 {
		return Gallery{}, fmt.Errorf("widgets.NewGallery(%q): no image paths given", name)
	}
	if labels != nil && len(labels) != len(paths) {
		return Gallery{}, fmt.Errorf("widgets.NewGallery(%q): %d labels for %d paths (want one per path, or none)", name, len(labels), len(paths))
	}
	abs := make([]string, len(paths))
	for i, p := range paths {
		a, err := filepath.Abs(p)
		if err != nil || p == "" {
			return Gallery{}, fmt.Errorf("widgets.NewGallery(%q): path %d (%q) cannot be made absolute (the server runs elsewhere): %v", name, i, p, err)
		}
		abs[i] = a
	}
	req := map[string]any{"name": name, "paths": abs}
	if labels != nil {
		req["labels"] = labels
	}
	var resp struct {
		ID string `json:"id"`
		N  int    `json:"n"`
	}
	if err := post(srv, "v1/galleries", req, &resp); err != nil {
		return Gallery{}, err
	}
	if resp.ID == "" || resp.N != len(paths) {
		return Gallery{}, fmt.Errorf("widgets.NewGallery(%q): the server answered id %q with %d items, want an id and %d items", name, resp.ID, resp.N, len(paths))
	}
	return Gallery{ID: resp.ID, Name: name, Paths: paths, Labels: labels}, nil
}

// ZeroShotRequest is the body of POST /v1/zeroshot.
type ZeroShotRequest struct {
	Gallery     string   `json:"gallery,omitempty"`
	Paths       []string `json:"paths,omitempty"`
	Classes     []string `json:"classes"`
	Templates   []string `json:"templates"`
	Temperature float64  `json:"temperature,omitempty"`
	Labels      []int    `json:"labels,omitempty"`
}

// ZeroShotAnswer is the server's answer to a zero-shot request: Probs and Logits are
// [items][classes]; Accuracy, PerClassRecall and ECE are set when labels are known.
type ZeroShotAnswer struct {
	Classes        []string    `json:"classes"`
	Probs          [][]float64 `json:"probs"`
	Logits         [][]float64 `json:"logits"`
	Top            []int       `json:"top"`
	Entropy        []float64   `json:"entropy"`
	Accuracy       *float64    `json:"accuracy"`
	PerClassRecall []float64   `json:"per_class_recall"`
	ECE            *float64    `json:"ece"`
	// Temperature is the one used: the request's, or the model's learned 1/logit scale.
	Temperature float64 `json:"temperature"`
	MS          float64 `json:"ms"`
}

// ZeroShot asks srv for zero-shot probabilities.
func ZeroShot(srv Server, req ZeroShotRequest) (ZeroShotAnswer, error) {
	var a ZeroShotAnswer
	if err := post(srv, "v1/zeroshot", req, &a); err != nil {
		return a, err
	}
	n := len(req.Paths)
	if n == 0 && len(a.Probs) == 0 {
		return a, fmt.Errorf("widgets.ZeroShot: the server answered no probabilities")
	}
	for i, row := range a.Probs {
		if len(row) != len(req.Classes) {
			return a, fmt.Errorf("widgets.ZeroShot: answer row %d has %d probabilities, want %d (one per class)", i, len(row), len(req.Classes))
		}
	}
	return a, nil
}

// Hit is one search result: the gallery index of the image, its path and its cosine score.
type Hit struct {
	Index int     `json:"index"`
	Path  string  `json:"path"`
	Score float64 `json:"score"`
}

// Search asks srv for the k images of gallery closest to the text query.
func Search(srv Server, gallery, query string, k int) ([]Hit, error) {
	var a struct {
		Hits []Hit `json:"hits"`
	}
	if err := post(srv, "v1/search", map[string]any{"gallery": gallery, "query": query, "k": k}, &a); err != nil {
		return nil, err
	}
	return a.Hits, nil
}

// uniqueID returns 16 random hex digits (element ids).
func uniqueID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
