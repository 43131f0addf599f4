package serve

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clipkit/clipkit/cliplib"
	"github.com/clipkit/clipkit/cliplib/cache"
)

const testToken = "0123456789abcdef0123456789abcdef"

var (
	modelOnce sync.Once
	model     *cliplib.Model
	textCache *cache.TextCache
	modelErr  error
)

// tinyModel loads the tiny random ViT once for the package, on $GOMLX_BACKEND or simplego, with
// an in-memory text cache.
func tinyModel(t *testing.T) *cliplib.Model {
	t.Helper()
	modelOnce.Do(func() {
		b := os.Getenv("GOMLX_BACKEND")
		if b == "" {
			b = "go"
		}
		model, modelErr = cliplib.Load("tiny-vit", cliplib.Options{Backend: b, RandomWeights: true, TextCache: true, MemoryOnly: true})
		if modelErr == nil {
			textCache = model.TextCache()
		}
	})
	if modelErr != nil {
		t.Fatal(modelErr)
	}
	return model
}

// writeImages writes n small PNGs of different colours and patterns and returns their paths.
func writeImages(t *testing.T, n int) []string {
	t.Helper()
	dir := t.TempDir()
	paths := make([]string, n)
	for k := range n {
		img := image.NewRGBA(image.Rect(0, 0, 40+8*k, 32))
		for y := 0; y < 32; y++ {
			for x := 0; x < 40+8*k; x++ {
				img.Set(x, y, color.RGBA{uint8(60 * k), uint8((x * 7 * (k + 1)) % 256), uint8((y * 11) % 256), 255})
			}
		}
		paths[k] = filepath.Join(dir, fmt.Sprintf("img%d.png", k))
		f, err := os.Create(paths[k])
		if err != nil {
			t.Fatal(err)
		}
		if err := png.Encode(f, img); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	return paths
}

func newServer(t *testing.T, cfg Config) (*Server, *httptest.Server) {
	t.Helper()
	cfg.Model = tinyModel(t)
	if cfg.Token == "" {
		cfg.Token = testToken
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return s, ts
}

// call sends a request with the test token and decodes a JSON answer into out (if not nil),
// returning the status and the raw body.
func call(t *testing.T, ts *httptest.Server, method, path string, body any, out any) (int, string) {
	t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	case []byte:
		r = bytes.NewReader(b)
	default:
		js, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		r = bytes.NewReader(js)
	}
	req, err := http.NewRequest(method, ts.URL+path, r)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode == 200 {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: answer %q: %v", method, path, raw, err)
		}
	}
	return resp.StatusCode, string(raw)
}

func TestAuth(t *testing.T) {
	_, ts := newServer(t, Config{})
	for _, tc := range []struct {
		name, path, header string
		want               int
	}{
		{"healthz needs no token", "/healthz", "", 200},
		{"no token", "/v1/galleries/g1/images/0", "", 401},
		{"wrong bearer", "/v1/galleries/g1/images/0", "Bearer " + strings.Repeat("0", 32), 401},
		{"token prefix", "/v1/galleries/g1/images/0", "Bearer " + testToken[:31], 401},
		{"not bearer", "/v1/galleries/g1/images/0", "Basic " + testToken, 401},
		{"wrong query token", "/v1/galleries/g1/images/0?token=abc", "", 401},
		{"right bearer", "/v1/galleries/g1/images/0", "Bearer " + testToken, 404}, // passes auth: no such gallery
		{"right query token", "/v1/galleries/g1/images/0?token=" + testToken, "", 404},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", ts.URL+tc.path, nil)
			if tc.header != "" {
				req.Header.Set("Authorization", tc.header)
			}
			resp, err := ts.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d (%s)", resp.StatusCode, tc.want, body)
			}
			var e ErrorResponse
			if tc.want != 200 && (json.Unmarshal(body, &e) != nil || e.Error == "") {
				t.Errorf("error answer %q is not a JSON error", body)
			}
		})
	}
	if _, err := New(Config{Model: tinyModel(t), Token: "short"}); err == nil {
		t.Error("New accepted a 5-character token")
	}
}

func TestEndpoints(t *testing.T) {
	s, ts := newServer(t, Config{})
	m := tinyModel(t)
	paths := writeImages(t, 4)

	var h Health
	if st, body := call(t, ts, "GET", "/healthz", nil, &h); st != 200 || !h.OK || h.EmbedDim != m.EmbedDim() || h.PID != os.Getpid() || !h.RandomWeights {
		t.Fatalf("healthz: %d %s", st, body)
	}

	var et EmbeddingsResponse
	if st, body := call(t, ts, "POST", "/v1/encode/text", EncodeTextRequest{Texts: []string{"a cat", "a dog", ""}}, &et); st != 200 {
		t.Fatalf("encode/text: %d %s", st, body)
	}
	want, _ := m.EncodeTexts([]string{"a dog"})
	if len(et.Embeddings) != 3 || len(et.Embeddings[1]) != m.EmbedDim() || cliplib.Dot(et.Embeddings[1], want[0]) < 0.9999 {
		t.Fatalf("encode/text: got %d embeddings, second differs from EncodeTexts", len(et.Embeddings))
	}

	var ei EmbeddingsResponse
	if st, body := call(t, ts, "POST", "/v1/encode/images", EncodeImagesRequest{Paths: paths}, &ei); st != 200 {
		t.Fatalf("encode/images: %d %s", st, body)
	}
	wantImg, _ := m.EncodeImageFiles(paths[2])
	if len(ei.Embeddings) != 4 || cliplib.Dot(ei.Embeddings[2], wantImg[0]) < 0.9999 {
		t.Fatalf("encode/images: %d embeddings, third differs from EncodeImageFiles", len(ei.Embeddings))
	}

	labels := []int{0, 1, 2, 0}
	var g, g2, g3 GalleryResponse
	if st, body := call(t, ts, "POST", "/v1/galleries", GalleryRequest{Name: "photos", Paths: paths, Labels: labels}, &g); st != 200 || g.N != 4 || g.ID == "" {
		t.Fatalf("galleries: %d %s", st, body)
	}
	call(t, ts, "POST", "/v1/galleries", GalleryRequest{Name: "photos", Paths: paths}, &g2)
	call(t, ts, "POST", "/v1/galleries", GalleryRequest{Name: "photos", Paths: paths[:3]}, &g3)
	if g2.ID != g.ID || g3.ID == g.ID {
		t.Fatalf("gallery ids: same request gave %q then %q; other paths gave %q", g.ID, g2.ID, g3.ID)
	}

	classes := []string{"red", "green", "blue"}
	var z ZeroShotResponse
	if st, body := call(t, ts, "POST", "/v1/zeroshot", ZeroShotRequest{Gallery: g.ID, Classes: classes, Templates: []string{"a {} photo.", "a photo of {}."}}, &z); st != 200 {
		t.Fatalf("zeroshot: %d %s", st, body)
	}
	if len(z.Probs) != 4 || len(z.Probs[0]) != 3 || len(z.Logits) != 4 || len(z.Top) != 4 || len(z.Entropy) != 4 {
		t.Fatalf("zeroshot shapes: %+v", z)
	}
	if math.Abs(z.Temperature-1/float64(m.LogitScale())) > 1e-6 {
		t.Errorf("default temperature %g, want 1/logit scale %g", z.Temperature, 1/m.LogitScale())
	}
	// The answer agrees with the library's classifier.
	clf, _ := m.ZeroShot(classes, []string{"a {} photo.", "a photo of {}."})
	libProbs := clf.Probabilities(ei.Embeddings)
	for i := range z.Probs {
		sum := float32(0)
		for j, p := range z.Probs[i] {
			sum += p
			if math.Abs(float64(p-libProbs[i][j])) > 1e-4 {
				t.Errorf("probs[%d][%d] = %g, library says %g", i, j, p, libProbs[i][j])
			}
		}
		if math.Abs(float64(sum)-1) > 1e-4 {
			t.Errorf("probs[%d] sums to %g", i, sum)
		}
	}
	if z.Accuracy == nil || z.ECE == nil || z.NLL == nil || len(z.PerClassRecall) != 3 || z.Labeled != 4 {
		t.Fatalf("zeroshot metrics missing with gallery labels: %+v", z)
	}
	correct := 0
	for i, l := range labels {
		if z.Top[i] == l {
			correct++
		}
	}
	if *z.Accuracy != float64(correct)/4 || *z.ECE < 0 || *z.ECE > 1 {
		t.Errorf("accuracy %g (want %g), ece %g", *z.Accuracy, float64(correct)/4, *z.ECE)
	}
	// Lower temperature: sharper softmax, lower entropy. Paths instead of a gallery, no labels.
	var zc, zh ZeroShotResponse
	call(t, ts, "POST", "/v1/zeroshot", ZeroShotRequest{Paths: paths, Classes: classes, Temperature: 0.001}, &zc)
	call(t, ts, "POST", "/v1/zeroshot", ZeroShotRequest{Paths: paths, Classes: classes, Temperature: 10}, &zh)
	if len(zc.Entropy) != 4 || len(zh.Entropy) != 4 || zc.Accuracy != nil {
		t.Fatalf("zeroshot with paths: %+v %+v", zc, zh)
	}
	for i := range zc.Entropy {
		if !(zc.Entropy[i] < zh.Entropy[i]) || zh.Entropy[i] > math.Log(3)+1e-9 {
			t.Errorf("item %d: entropy %g at T=0.001, %g at T=10 (max %g)", i, zc.Entropy[i], zh.Entropy[i], math.Log(3))
		}
	}
	// Request labels override the gallery's.
	var zl ZeroShotResponse
	call(t, ts, "POST", "/v1/zeroshot", ZeroShotRequest{Gallery: g.ID, Classes: classes, Labels: []int{-1, -1, z.Top[2], -1}}, &zl)
	if zl.Labeled != 1 || zl.Accuracy == nil || *zl.Accuracy != 1 {
		t.Errorf("request labels: labeled %d accuracy %v", zl.Labeled, zl.Accuracy)
	}
	// An unchanged prompt is a text-cache hit.
	before := textCache.Stats()
	call(t, ts, "POST", "/v1/zeroshot", ZeroShotRequest{Gallery: g.ID, Classes: classes, Templates: []string{"a {} photo.", "a photo of {}."}}, nil)
	after := textCache.Stats()
	if after.Hits-before.Hits != 6 || after.Misses != before.Misses {
		t.Errorf("repeated zero-shot: %d hits %d misses, want 6 hits 0 misses", after.Hits-before.Hits, after.Misses-before.Misses)
	}

	var sr SearchResponse
	if st, body := call(t, ts, "POST", "/v1/search", SearchRequest{Gallery: g.ID, ImagePath: paths[1], K: 3}, &sr); st != 200 {
		t.Fatalf("search: %d %s", st, body)
	}
	if len(sr.Hits) != 3 || sr.Hits[0].Index != 1 || sr.Hits[0].Path != paths[1] || sr.Hits[0].Score < 0.999 || sr.Hits[1].Score > sr.Hits[0].Score {
		t.Fatalf("search by the gallery's own image: %+v", sr.Hits)
	}
	call(t, ts, "POST", "/v1/search", SearchRequest{Gallery: g.ID, Query: "a red photo", K: 100}, &sr)
	if len(sr.Hits) != 4 {
		t.Fatalf("search k=100 over 4 items: %d hits", len(sr.Hits))
	}

	for _, size := range []int{16, 32} {
		req, _ := http.NewRequest("GET", fmt.Sprintf("%s/v1/galleries/%s/images/3?size=%d&token=%s", ts.URL, g.ID, size, testToken), nil)
		resp, err := ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		img, err := jpeg.Decode(resp.Body)
		resp.Body.Close()
		if err != nil || resp.Header.Get("Content-Type") != "image/jpeg" {
			t.Fatalf("thumbnail: %v (%s)", err, resp.Header.Get("Content-Type"))
		}
		// Item 3 is 64×32: scaled to fit size×size, aspect kept.
		if b := img.Bounds(); b.Dx() != size || b.Dy() != size/2 {
			t.Errorf("thumbnail size=%d is %v, want %d×%d", size, b, size, size/2)
		}
	}

	req, _ := http.NewRequest("OPTIONS", ts.URL+"/v1/zeroshot", nil)
	resp, err := ts.Client().Do(req)
	if err != nil || resp.StatusCode != 204 {
		t.Fatalf("OPTIONS: %v %v", err, resp)
	}
	resp.Body.Close()

	if st, body := call(t, ts, "POST", "/v1/shutdown", "", nil); st != 200 || !strings.Contains(body, `"ok":true`) {
		t.Fatalf("shutdown: %d %s", st, body)
	}
	select {
	case <-s.Stopped():
	case <-time.After(time.Second):
		t.Fatal("shutdown request did not close Stopped")
	}
}

func TestBadInput(t *testing.T) {
	_, ts := newServer(t, Config{MaxBodyBytes: 1 << 20})
	paths := writeImages(t, 2)
	var g GalleryResponse
	if st, body := call(t, ts, "POST", "/v1/galleries", GalleryRequest{Name: "g", Paths: paths}, &g); st != 200 {
		t.Fatalf("gallery: %d %s", st, body)
	}
	dir := t.TempDir()
	notImage := filepath.Join(dir, "notes.png")
	os.WriteFile(notImage, []byte("this is not a PNG"), 0o644)
	huge := `{"texts":["` + strings.Repeat("a", 2<<20) + `"]}`
	for _, tc := range []struct {
		name, method, path string
		body               any
		status             int
		want               string // substring of the error
	}{
		{"not JSON", "POST", "/v1/encode/text", "texts: cat", 400, "not the JSON expected"},
		{"empty body", "POST", "/v1/encode/text", "", 400, "empty request body"},
		{"wrong type", "POST", "/v1/encode/text", `{"texts":"a cat"}`, 400, "texts"},
		{"unknown field", "POST", "/v1/encode/text", `{"text":["a cat"]}`, 400, `unknown field "text"`},
		{"trailing data", "POST", "/v1/encode/text", `{"texts":["a"]} {}`, 400, "after its JSON"},
		{"huge body", "POST", "/v1/encode/text", huge, 413, "larger than the limit"},
		{"no texts", "POST", "/v1/encode/text", `{"texts":[]}`, 400, "texts: empty list"},
		{"no paths", "POST", "/v1/encode/images", `{"paths":[]}`, 400, "paths: empty list"},
		{"relative path", "POST", "/v1/encode/images", `{"paths":["cat.jpg"]}`, 400, "paths[0] = \"cat.jpg\": relative path"},
		{"missing file", "POST", "/v1/encode/images", EncodeImagesRequest{Paths: []string{paths[0], filepath.Join(dir, "nope.png")}}, 400, "paths[1]"},
		{"directory", "POST", "/v1/encode/images", EncodeImagesRequest{Paths: []string{dir}}, 400, "not a regular file"},
		{"not an image", "POST", "/v1/encode/images", EncodeImagesRequest{Paths: []string{paths[0], notImage}}, 400, "paths[1] = \"" + notImage + "\": not an image"},
		{"image-data none", "POST", "/v1/encode/image-data", `{"images":[]}`, 400, "images: empty list"},
		{"image-data not base64", "POST", "/v1/encode/image-data", `{"images":["%%%"]}`, 400, "not the JSON expected"},
		{"image-data empty item", "POST", "/v1/encode/image-data", EncodeImageDataRequest{Images: [][]byte{pngBytes(t, 8, 8), {}}}, 400, "images[1]: empty"},
		{"image-data not an image", "POST", "/v1/encode/image-data", EncodeImageDataRequest{Images: [][]byte{pngBytes(t, 8, 8), []byte("this is not a PNG")}}, 400, "images[1]: unrecognised image format"},
		{"image-data too wide", "POST", "/v1/encode/image-data", EncodeImageDataRequest{Images: [][]byte{pngBytes(t, 9000, 1)}}, 400, "images[0]: png is 9000×1"},
		{"image-data truncated", "POST", "/v1/encode/image-data", EncodeImageDataRequest{Images: [][]byte{pngBytes(t, 8, 8)[:40]}}, 400, "images[0]"},
		{"info wrong method", "POST", "/v1/info", "{}", 405, "want GET"},
		{"gallery without name", "POST", "/v1/galleries", GalleryRequest{Paths: paths}, 400, "name"},
		{"gallery labels mismatch", "POST", "/v1/galleries", GalleryRequest{Name: "x", Paths: paths, Labels: []int{1}}, 400, "1 labels for 2 paths"},
		{"gallery negative label", "POST", "/v1/galleries", GalleryRequest{Name: "x", Paths: paths, Labels: []int{1, -3}}, 400, "labels[1] = -3"},
		{"gallery not image", "POST", "/v1/galleries", GalleryRequest{Name: "x", Paths: []string{notImage}}, 400, "not an image"},
		{"unknown gallery", "POST", "/v1/zeroshot", ZeroShotRequest{Gallery: "g99", Classes: []string{"a"}}, 404, `gallery "g99"`},
		{"empty classes", "POST", "/v1/zeroshot", ZeroShotRequest{Gallery: g.ID}, 400, "classes: empty list"},
		{"blank class", "POST", "/v1/zeroshot", ZeroShotRequest{Gallery: g.ID, Classes: []string{"cat", " "}}, 400, "classes[1] is blank"},
		{"blank template", "POST", "/v1/zeroshot", ZeroShotRequest{Gallery: g.ID, Classes: []string{"cat"}, Templates: []string{""}}, 400, "templates[0] is blank"},
		{"negative temperature", "POST", "/v1/zeroshot", ZeroShotRequest{Gallery: g.ID, Classes: []string{"cat"}, Temperature: -1}, 400, "temperature -1"},
		{"no items", "POST", "/v1/zeroshot", ZeroShotRequest{Classes: []string{"cat"}}, 400, "no items"},
		{"gallery and paths", "POST", "/v1/zeroshot", ZeroShotRequest{Gallery: g.ID, Paths: paths, Classes: []string{"cat"}}, 400, "both gallery and paths"},
		{"labels out of range", "POST", "/v1/zeroshot", ZeroShotRequest{Gallery: g.ID, Classes: []string{"cat"}, Labels: []int{0, 1}}, 400, "labels[1] = 1"},
		{"labels count", "POST", "/v1/zeroshot", ZeroShotRequest{Gallery: g.ID, Classes: []string{"cat"}, Labels: []int{0}}, 400, "1 labels for 2 items"},
		{"search no gallery", "POST", "/v1/search", SearchRequest{Query: "cat"}, 400, "gallery: missing"},
		{"search unknown gallery", "POST", "/v1/search", SearchRequest{Gallery: "nope", Query: "cat"}, 404, `gallery "nope"`},
		{"search no query", "POST", "/v1/search", SearchRequest{Gallery: g.ID}, 400, "no query"},
		{"search both", "POST", "/v1/search", SearchRequest{Gallery: g.ID, Query: "cat", ImagePath: paths[0]}, 400, "both query and image_path"},
		{"search negative k", "POST", "/v1/search", SearchRequest{Gallery: g.ID, Query: "cat", K: -1}, 400, "k = -1"},
		{"search image not image", "POST", "/v1/search", SearchRequest{Gallery: g.ID, ImagePath: notImage}, 400, "not an image"},
		{"thumbnail index", "GET", "/v1/galleries/" + g.ID + "/images/2", nil, 404, "want an index in [0, 2)"},
		{"thumbnail not a number", "GET", "/v1/galleries/" + g.ID + "/images/x", nil, 404, "want an index"},
		{"thumbnail size", "GET", "/v1/galleries/" + g.ID + "/images/0?size=100000", nil, 400, "size = \"100000\""},
		{"thumbnail unknown gallery", "GET", "/v1/galleries/g77/images/0", nil, 404, `gallery "g77"`},
		{"wrong method", "GET", "/v1/zeroshot", nil, 405, "want POST"},
		{"unknown endpoint", "POST", "/v1/nothing", "{}", 404, "no endpoint"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, body := call(t, ts, tc.method, tc.path, tc.body, nil)
			var e ErrorResponse
			if err := json.Unmarshal([]byte(body), &e); err != nil {
				t.Fatalf("status %d, answer is not a JSON error: %.200q", st, body)
			}
			if st != tc.status || !strings.Contains(e.Error, tc.want) {
				t.Errorf("status %d %q; want %d and an error containing %q", st, e.Error, tc.status, tc.want)
			}
		})
	}
}

// pngBytes encodes a w×h RGBA test pattern as PNG.
func pngBytes(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{uint8(x * 13), uint8(y * 29), uint8(x ^ y), 255})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestInfoDescribesTheModel(t *testing.T) {
	_, ts := newServer(t, Config{})
	m := tinyModel(t)
	var info Info
	if st, body := call(t, ts, "GET", "/v1/info", nil, &info); st != 200 {
		t.Fatalf("info: %d %s", st, body)
	}
	if info.Model != m.Name || info.Label != m.Label() || info.EmbedDim != m.EmbedDim() || info.LogitScale != m.LogitScale() ||
		info.Params != m.Encoder().NumParams() || info.PID != os.Getpid() || info.Precision != m.Precision() || info.BackendDescription == "" {
		t.Errorf("info %+v does not describe the model %s (E %d, scale %g, %d params)", info, m.Label(), m.EmbedDim(), m.LogitScale(), m.Encoder().NumParams())
	}
	if !reflect.DeepEqual(info.Config, m.Config) {
		t.Errorf("info config %+v, model config %+v", info.Config, m.Config)
	}
	src := m.Source
	if w := info.Weights; w.Random != src.Random || w.Reason != src.Reason || w.Format != src.Format || w.Path != src.Path || w.Layout != src.Layout {
		t.Errorf("info weights %+v, model source %+v", w, src)
	}
	if _, body := call(t, ts, "GET", "/v1/info", nil, nil); strings.Contains(body, "NaN") {
		t.Errorf("info is not plain JSON: %s", body)
	}
}

func TestEncodeImageDataMatchesInProcess(t *testing.T) {
	_, ts := newServer(t, Config{EncodeChunk: 2})
	m := tinyModel(t)
	gray := image.NewGray(image.Rect(0, 0, 28, 28))
	for i := range gray.Pix {
		gray.Pix[i] = uint8(i * 7)
	}
	var gb bytes.Buffer
	png.Encode(&gb, gray)
	var jb bytes.Buffer
	jpeg.Encode(&jb, gray, nil)
	rgba, _ := png.Decode(bytes.NewReader(pngBytes(t, 32, 24)))
	jimg, _ := jpeg.Decode(bytes.NewReader(jb.Bytes()))
	for _, tc := range []struct {
		name string
		data [][]byte
		imgs []image.Image // the decoded images, encoded in process
	}{
		{"one RGBA PNG", [][]byte{pngBytes(t, 32, 24)}, []image.Image{rgba}},
		{"gray PNG", [][]byte{gb.Bytes()}, []image.Image{gray}},
		{"JPEG", [][]byte{jb.Bytes()}, []image.Image{jimg}},
		{"more than a chunk, repeated", [][]byte{gb.Bytes(), pngBytes(t, 32, 24), gb.Bytes(), jb.Bytes(), gb.Bytes()},
			[]image.Image{gray, rgba, gray, jimg, gray}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out EmbeddingsResponse
			if st, body := call(t, ts, "POST", "/v1/encode/image-data", EncodeImageDataRequest{Images: tc.data}, &out); st != 200 {
				t.Fatalf("encode/image-data: %d %s", st, body)
			}
			want, err := m.EncodeImages(tc.imgs)
			if err != nil {
				t.Fatal(err)
			}
			if len(out.Embeddings) != len(want) {
				t.Fatalf("%d embeddings for %d images", len(out.Embeddings), len(want))
			}
			for i := range want {
				for j := range want[i] {
					if d := math.Abs(float64(out.Embeddings[i][j] - want[i][j])); d > 1e-6 {
						t.Fatalf("image %d, dim %d: server %g, in process %g", i, j, out.Embeddings[i][j], want[i][j])
					}
				}
			}
		})
	}
}

func TestGalleriesAreBounded(t *testing.T) {
	s, ts := newServer(t, Config{MaxGalleries: 2})
	paths := writeImages(t, 3)
	var ids []string
	for i := range 3 {
		var g GalleryResponse
		call(t, ts, "POST", "/v1/galleries", GalleryRequest{Name: fmt.Sprint("g", i), Paths: paths[:i+1]}, &g)
		ids = append(ids, g.ID)
	}
	s.mu.Lock()
	n := len(s.galleries)
	s.mu.Unlock()
	if n != 2 {
		t.Errorf("%d galleries held, want 2", n)
	}
	if st, _ := call(t, ts, "POST", "/v1/search", SearchRequest{Gallery: ids[0], Query: "x"}, nil); st != 404 {
		t.Errorf("least recently used gallery still answers: %d", st)
	}
	if st, _ := call(t, ts, "POST", "/v1/search", SearchRequest{Gallery: ids[2], Query: "x"}, nil); st != 200 {
		t.Errorf("newest gallery: %d", st)
	}
}

func TestConcurrentRequests(t *testing.T) {
	_, ts := newServer(t, Config{})
	paths := writeImages(t, 3)
	const workers = 8
	var wg sync.WaitGroup
	ids := make([]string, workers)
	errs := make(chan string, workers*4)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var g GalleryResponse
			if st, body := call(t, ts, "POST", "/v1/galleries", GalleryRequest{Name: "shared", Paths: paths}, &g); st != 200 {
				errs <- body
				return
			}
			ids[w] = g.ID
			var z ZeroShotResponse
			classes := []string{fmt.Sprint("class a ", w), fmt.Sprint("class b ", w)}
			if st, body := call(t, ts, "POST", "/v1/zeroshot", ZeroShotRequest{Gallery: g.ID, Classes: classes}, &z); st != 200 || len(z.Probs) != 3 {
				errs <- body
			}
			var sr SearchResponse
			if st, body := call(t, ts, "POST", "/v1/search", SearchRequest{Gallery: g.ID, Query: classes[0], K: 2}, &sr); st != 200 || len(sr.Hits) != 2 {
				errs <- body
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	for _, id := range ids {
		if id != ids[0] {
			t.Fatalf("concurrent requests for one gallery gave ids %q", ids)
		}
	}
}

func TestRunStopsWhenIdle(t *testing.T) {
	s, err := New(Config{Model: tinyModel(t), Token: testToken, Idle: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	done := make(chan StopReason, 1)
	go func() {
		r, err := s.Run(context.Background(), ln)
		if err != nil {
			t.Error(err)
		}
		done <- r
	}()
	// A request resets the idle timer.
	time.Sleep(200 * time.Millisecond)
	resp, err := http.Get("http://" + ln.Addr().String() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	select {
	case r := <-done:
		if r != StoppedIdle || time.Since(start) < 450*time.Millisecond {
			t.Errorf("Run returned %q after %v, want idle after >= 500ms", r, time.Since(start))
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not stop after 300ms idle")
	}
	if _, err := http.Get("http://" + ln.Addr().String() + "/healthz"); err == nil {
		t.Error("server still answers after Run returned")
	}
}

func TestRunStopsOnContextAndShutdownRequest(t *testing.T) {
	for _, how := range []string{"context", "request"} {
		t.Run(how, func(t *testing.T) {
			s, _ := New(Config{Model: tinyModel(t), Token: testToken})
			ln, err := Listen("127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan StopReason, 1)
			go func() { r, _ := s.Run(ctx, ln); done <- r }()
			want := StoppedContext
			if how == "context" {
				cancel()
			} else {
				want = StoppedRequest
				req, _ := http.NewRequest("POST", "http://"+ln.Addr().String()+"/v1/shutdown", nil)
				req.Header.Set("Authorization", "Bearer "+testToken)
				resp, err := http.DefaultClient.Do(req)
				if err != nil || resp.StatusCode != 200 {
					t.Fatalf("shutdown: %v %v", err, resp)
				}
				resp.Body.Close()
			}
			select {
			case r := <-done:
				if r != want {
					t.Errorf("stopped for %q, want %q", r, want)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("Run did not stop")
			}
		})
	}
}

func TestListenIsLoopbackOnly(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", ":0", "192.0.2.1:0", "example.com:80", "nonsense"} {
		if ln, err := Listen(addr); err == nil {
			ln.Close()
			t.Errorf("Listen(%q) accepted a non-loopback address", addr)
		}
	}
	for _, addr := range []string{"127.0.0.1:0", "localhost:0"} {
		ln, err := Listen(addr)
		if err != nil {
			t.Errorf("Listen(%q): %v", addr, err)
			continue
		}
		ln.Close()
	}
}

func TestStateKey(t *testing.T) {
	t.Setenv("GOMLX_BACKEND", "")
	for _, tc := range []struct {
		model, backend, precision string
		random                    bool
		want                      string
	}{
		{"ViT-B/32", "xla:cpu", "f32", false, "ViT-B-32_xla-cpu_f32"},
		{"ViT-B/32", "", "", true, "ViT-B-32_auto_f32_random"},
		{"../../etc/passwd", "go", "bf16", false, "-..-etc-passwd_go_bf16"},
	} {
		if got := StateKey(tc.model, tc.backend, tc.precision, tc.random); got != tc.want {
			t.Errorf("StateKey(%q, %q, %q, %v) = %q, want %q", tc.model, tc.backend, tc.precision, tc.random, got, tc.want)
		}
	}
}
