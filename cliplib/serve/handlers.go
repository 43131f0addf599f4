package serve

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/image/draw"

	"github.com/clipkit/clipkit/cliplib"
	"github.com/clipkit/clipkit/cliplib/preprocess"
	"github.com/clipkit/clipkit/cliplib/search"
)

// gallery is a named list of images encoded once, with an exact search index over them.
type gallery struct {
	id, name, key string
	paths         []string
	ready         chan struct{} // closed when embs/index/err are set
	err           error
	embs          [][]float32 // [N][E]
	index         *search.Exact
	labels        []int // guarded by Server.mu
	used          int64 // guarded by Server.mu
}

// checkTexts validates a list of texts.
func (s *Server) checkTexts(field string, texts []string) error {
	if len(texts) == 0 {
		return badRequest("%s: empty list, want at least one text", field)
	}
	if len(texts) > s.cfg.MaxItems {
		return badRequest("%s: %d texts, more than the limit of %d per request", field, len(texts), s.cfg.MaxItems)
	}
	for i, t := range texts {
		if !utf8.ValidString(t) {
			return badRequest("%s[%d] (%.40q) is not valid UTF-8", field, i, t)
		}
	}
	return nil
}

// checkPaths validates image paths: a non-empty list of absolute paths of regular files.
func (s *Server) checkPaths(field string, paths []string) error {
	if len(paths) == 0 {
		return badRequest("%s: empty list, want at least one absolute image path", field)
	}
	if len(paths) > s.cfg.MaxItems {
		return badRequest("%s: %d paths, more than the limit of %d per request", field, len(paths), s.cfg.MaxItems)
	}
	for i, p := range paths {
		if err := checkPath(p); err != nil {
			return badRequest("%s[%d] = %q: %v", field, i, p, err)
		}
	}
	return nil
}

func checkPath(p string) error {
	switch {
	case p == "":
		return fmt.Errorf("empty path, want an absolute path of an image file")
	case strings.IndexByte(p, 0) >= 0 || !utf8.ValidString(p):
		return fmt.Errorf("path has a NUL byte or is not UTF-8")
	case !filepath.IsAbs(p):
		return fmt.Errorf("relative path, want an absolute path (the server's working directory is not the caller's)")
	}
	st, err := os.Stat(p)
	if err != nil {
		if os.IsNotExist(err) {
			return fmt.Errorf("no such file")
		}
		return err
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("not a regular file (a %s), want an image file", st.Mode().Type())
	}
	return nil
}

// encodeImages encodes image files (already checked) in chunks through the model's image cache.
// A file that cannot be decoded is named in a 400 error.
func (s *Server) encodeImages(field string, paths []string) ([][]float32, error) {
	out := make([][]float32, 0, len(paths))
	for lo := 0; lo < len(paths); lo += s.cfg.EncodeChunk {
		hi := min(lo+s.cfg.EncodeChunk, len(paths))
		embs, err := s.m.EncodeImageFiles(paths[lo:hi]...)
		if err != nil {
			for i := lo; i < hi; i++ {
				if _, _, derr := preprocess.DecodeFile(paths[i]); derr != nil {
					return nil, badRequest("%s[%d] = %q: not an image the server can decode (PNG, JPEG, GIF, WebP, BMP, TIFF within the size limits): %v", field, i, paths[i], derr)
				}
			}
			return nil, fmt.Errorf("encoding %s[%d:%d]: %w", field, lo, hi, err)
		}
		out = append(out, embs...)
	}
	return out, nil
}

func (s *Server) handleEncodeText(w http.ResponseWriter, r *http.Request) {
	var req EncodeTextRequest
	if err := s.decode(w, r, &req); err != nil {
		fail(w, err)
		return
	}
	start := time.Now()
	if err := s.checkTexts("texts", req.Texts); err != nil {
		fail(w, err)
		return
	}
	embs, err := s.m.EncodeTexts(req.Texts)
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, EmbeddingsResponse{Embeddings: embs, Ms: msSince(start)})
}

func (s *Server) handleEncodeImages(w http.ResponseWriter, r *http.Request) {
	var req EncodeImagesRequest
	if err := s.decode(w, r, &req); err != nil {
		fail(w, err)
		return
	}
	start := time.Now()
	if err := s.checkPaths("paths", req.Paths); err != nil {
		fail(w, err)
		return
	}
	embs, err := s.encodeImages("paths", req.Paths)
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, EmbeddingsResponse{Embeddings: embs, Ms: msSince(start)})
}

func (s *Server) handleEncodeImageData(w http.ResponseWriter, r *http.Request) {
	var req EncodeImageDataRequest
	if err := s.decode(w, r, &req); err != nil {
		fail(w, err)
		return
	}
	start := time.Now()
	embs, err := s.encodeImageData("images", req.Images)
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, EmbeddingsResponse{Embeddings: embs, Ms: msSince(start)})
}

// encodeImageData checks every image's header against the limits first (a bad item fails the
// request before anything is encoded), then decodes and encodes EncodeChunk images at a time
// through the model's pixel-keyed image cache.
func (s *Server) encodeImageData(field string, images [][]byte) ([][]float32, error) {
	if len(images) == 0 {
		return nil, badRequest("%s: empty list, want at least one encoded image (PNG, JPEG, GIF, WebP, BMP or TIFF, base64 in JSON)", field)
	}
	if len(images) > s.cfg.MaxItems {
		return nil, badRequest("%s: %d images, more than the limit of %d per request", field, len(images), s.cfg.MaxItems)
	}
	for i, b := range images {
		name := fmt.Sprintf("%s[%d]", field, i)
		if len(b) == 0 {
			return nil, badRequest("%s: empty, want an encoded image", name)
		}
		if _, _, err := preprocess.DecodeConfigBytes(b, name, s.cfg.ImageLimits); err != nil {
			return nil, badRequest("%v", err)
		}
	}
	out := make([][]float32, 0, len(images))
	for lo := 0; lo < len(images); lo += s.cfg.EncodeChunk {
		hi := min(lo+s.cfg.EncodeChunk, len(images))
		imgs := make([]image.Image, 0, hi-lo)
		for i := lo; i < hi; i++ {
			img, _, err := preprocess.DecodeBytes(images[i], fmt.Sprintf("%s[%d]", field, i), s.cfg.ImageLimits)
			if err != nil {
				return nil, badRequest("%v", err)
			}
			imgs = append(imgs, img)
		}
		embs, err := s.m.EncodeImagesCached(imgs)
		if err != nil {
			return nil, fmt.Errorf("encoding %s[%d:%d]: %w", field, lo, hi, err)
		}
		out = append(out, embs...)
	}
	return out, nil
}

func (s *Server) handleGallery(w http.ResponseWriter, r *http.Request) {
	var req GalleryRequest
	if err := s.decode(w, r, &req); err != nil {
		fail(w, err)
		return
	}
	start := time.Now()
	g, err := s.gallery(req)
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, GalleryResponse{ID: g.id, N: len(g.paths), Ms: msSince(start)})
}

// gallery returns the gallery of req's name and paths, encoding it if this server does not hold
// it yet. Concurrent requests for the same gallery encode it once.
func (s *Server) gallery(req GalleryRequest) (*gallery, error) {
	name := strings.TrimSpace(req.Name)
	if name == "" || len(name) > 200 || !utf8.ValidString(name) {
		return nil, badRequest("name: %.40q, want a non-empty UTF-8 name of at most 200 bytes", req.Name)
	}
	if err := s.checkPaths("paths", req.Paths); err != nil {
		return nil, err
	}
	if req.Labels != nil {
		if len(req.Labels) != len(req.Paths) {
			return nil, badRequest("labels: %d labels for %d paths, want one class index per path (-1: unknown)", len(req.Labels), len(req.Paths))
		}
		for i, l := range req.Labels {
			if l < -1 {
				return nil, badRequest("labels[%d] = %d: want a class index >= 0, or -1 for unknown", i, l)
			}
		}
	}
	key := name + "\x00" + strings.Join(req.Paths, "\x00")
	s.mu.Lock()
	s.clock++
	if g, ok := s.byKey[key]; ok {
		g.used = s.clock
		if req.Labels != nil {
			g.labels = append([]int(nil), req.Labels...)
		}
		s.mu.Unlock()
		<-g.ready
		return g, g.err
	}
	s.nextID++
	g := &gallery{id: "g" + strconv.Itoa(s.nextID), name: name, key: key, paths: append([]string(nil), req.Paths...),
		ready: make(chan struct{}), labels: append([]int(nil), req.Labels...), used: s.clock}
	s.galleries[g.id] = g
	s.byKey[key] = g
	s.evictLocked(g)
	s.mu.Unlock()

	g.err = func() error {
		embs, err := s.encodeImages("paths", g.paths)
		if err != nil {
			return err
		}
		idx, err := search.NewExact(s.m.EmbedDim())
		if err != nil {
			return err
		}
		idx.Reserve(len(embs))
		items := make([]search.Item, len(embs))
		for i, e := range embs {
			items[i] = search.Item{ID: uint64(i), Vector: e}
		}
		if err := idx.Add(items...); err != nil {
			return err
		}
		g.embs, g.index = embs, idx
		return nil
	}()
	if g.err != nil {
		s.mu.Lock()
		s.dropLocked(g)
		s.mu.Unlock()
	}
	close(g.ready)
	return g, g.err
}

// evictLocked drops least recently used galleries (never keep) beyond the limits.
func (s *Server) evictLocked(keep *gallery) {
	for {
		total := 0
		var lru *gallery
		for _, g := range s.galleries {
			total += len(g.paths)
			if g != keep && (lru == nil || g.used < lru.used) {
				lru = g
			}
		}
		if lru == nil || (len(s.galleries) <= s.cfg.MaxGalleries && total <= s.cfg.MaxGalleryItems) {
			return
		}
		s.cfg.Log.Printf("dropping gallery %s (%q, %d items): least recently used beyond %d galleries / %d items",
			lru.id, lru.name, len(lru.paths), s.cfg.MaxGalleries, s.cfg.MaxGalleryItems)
		s.dropLocked(lru)
	}
}

func (s *Server) dropLocked(g *gallery) {
	if s.galleries[g.id] == g {
		delete(s.galleries, g.id)
	}
	if s.byKey[g.key] == g {
		delete(s.byKey, g.key)
	}
}

// lookup returns a held, encoded gallery by id, and its labels.
func (s *Server) lookup(id string) (*gallery, []int, error) {
	s.mu.Lock()
	g, ok := s.galleries[id]
	if ok {
		s.clock++
		g.used = s.clock
	}
	s.mu.Unlock()
	if !ok {
		return nil, nil, notFound("gallery %q: this server holds no such gallery (unknown id, the server restarted, or it was dropped as least recently used beyond %d galleries / %d items): create it with POST /v1/galleries",
			id, s.cfg.MaxGalleries, s.cfg.MaxGalleryItems)
	}
	<-g.ready
	if g.err != nil {
		return nil, nil, g.err
	}
	s.mu.Lock()
	labels := g.labels
	s.mu.Unlock()
	return g, labels, nil
}

func (s *Server) handleZeroShot(w http.ResponseWriter, r *http.Request) {
	var req ZeroShotRequest
	if err := s.decode(w, r, &req); err != nil {
		fail(w, err)
		return
	}
	if accessOf(r) == accessBrowser && req.Paths != nil {
		forbidden(w, "POST /v1/zeroshot with \"paths\"")
		return
	}
	start := time.Now()
	resp, err := s.zeroShot(req)
	if err != nil {
		fail(w, err)
		return
	}
	resp.Ms = msSince(start)
	writeJSON(w, resp)
}

func (s *Server) zeroShot(req ZeroShotRequest) (*ZeroShotResponse, error) {
	if len(req.Classes) == 0 {
		return nil, badRequest("classes: empty list, want at least one class name")
	}
	if err := s.checkTexts("classes", req.Classes); err != nil {
		return nil, err
	}
	for i, c := range req.Classes {
		if strings.TrimSpace(c) == "" {
			return nil, badRequest("classes[%d] is blank, want a class name", i)
		}
	}
	if len(req.Templates) > 0 {
		if err := s.checkTexts("templates", req.Templates); err != nil {
			return nil, err
		}
		for i, t := range req.Templates {
			if strings.TrimSpace(t) == "" {
				return nil, badRequest("templates[%d] is blank, want a prompt such as \"a photo of a {}.\"", i)
			}
		}
		if n := len(req.Classes) * len(req.Templates); n > s.cfg.MaxItems {
			return nil, badRequest("classes × templates = %d prompts, more than the limit of %d", n, s.cfg.MaxItems)
		}
	}
	if math.IsNaN(req.Temperature) || math.IsInf(req.Temperature, 0) || req.Temperature < 0 {
		return nil, badRequest("temperature %g: want a finite value > 0 (or 0/absent for the model's, 1/logit_scale)", req.Temperature)
	}
	var items [][]float32
	var labels []int
	labelsGiven := req.Labels != nil
	switch {
	case req.Gallery != "" && len(req.Paths) > 0:
		return nil, badRequest("both gallery and paths given: want one of them")
	case req.Gallery != "":
		g, gl, err := s.lookup(req.Gallery)
		if err != nil {
			return nil, err
		}
		items, labels = g.embs, gl
	case len(req.Paths) > 0:
		if err := s.checkPaths("paths", req.Paths); err != nil {
			return nil, err
		}
		var err error
		if items, err = s.encodeImages("paths", req.Paths); err != nil {
			return nil, err
		}
	default:
		return nil, badRequest("no items: want \"gallery\" (an id from POST /v1/galleries) or \"paths\" (absolute image paths)")
	}
	if labelsGiven {
		if len(req.Labels) != len(items) {
			return nil, badRequest("labels: %d labels for %d items, want one class index per item (-1: unknown)", len(req.Labels), len(items))
		}
		for i, l := range req.Labels {
			if l < -1 || l >= len(req.Classes) {
				return nil, badRequest("labels[%d] = %d: want a class index in [0, %d), or -1 for unknown", i, l, len(req.Classes))
			}
		}
		labels = req.Labels
	}
	z, err := s.m.ZeroShot(req.Classes, req.Templates) // input checked above: an error here is the model's
	if err != nil {
		return nil, err
	}
	t := req.Temperature
	if t == 0 {
		t = 1 / float64(s.m.LogitScale())
	}
	return zeroShotResult(req.Classes, cliplib.Similarity(items, z.Weights), labels, t), nil
}

// zeroShotResult turns cosine similarities sims [N][K] into probabilities at temperature t, with
// the metrics of the items whose label is a class index (others are left out).
func zeroShotResult(classes []string, sims [][]float32, labels []int, t float64) *ZeroShotResponse {
	k := len(classes)
	res := &ZeroShotResponse{Classes: classes, Probs: make([][]float32, len(sims)), Logits: make([][]float32, len(sims)),
		Top: make([]int, len(sims)), Entropy: make([]float64, len(sims)), Temperature: t}
	classN, classHit := make([]int, k), make([]int, k)
	var cal cliplib.Calibration
	for i, row := range sims {
		p64 := cliplib.SoftmaxAt(row, t)
		logits, probs := make([]float32, k), make([]float32, k)
		for j, v := range row {
			logits[j], probs[j] = float32(float64(v)/t), float32(p64[j])
		}
		best := cliplib.Argmax(p64)
		res.Logits[i], res.Probs[i], res.Top[i], res.Entropy[i] = logits, probs, best, cliplib.Entropy64(p64)
		if i >= len(labels) || labels[i] < 0 || labels[i] >= k {
			continue
		}
		y := labels[i]
		classN[y]++
		if best == y {
			classHit[y]++
		}
		cal.Add(p64, y)
	}
	res.Labeled = cal.N()
	if res.Labeled > 0 {
		acc, ece, nll := cal.Accuracy(), cal.ECE(), cal.NLL()
		res.Accuracy, res.ECE, res.NLL = &acc, &ece, &nll
		res.PerClassRecall = make([]*float64, k)
		for c := range k {
			if classN[c] > 0 {
				r := float64(classHit[c]) / float64(classN[c])
				res.PerClassRecall[c] = &r
			}
		}
	}
	return res
}

func (s *Server) handleSearch(w http.ResponseWriter, r *http.Request) {
	var req SearchRequest
	if err := s.decode(w, r, &req); err != nil {
		fail(w, err)
		return
	}
	if accessOf(r) == accessBrowser && req.ImagePath != "" {
		forbidden(w, "POST /v1/search with \"image_path\"")
		return
	}
	start := time.Now()
	hits, err := s.search(req)
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, SearchResponse{Hits: hits, Ms: msSince(start)})
}

func (s *Server) search(req SearchRequest) ([]Hit, error) {
	if req.Gallery == "" {
		return nil, badRequest("gallery: missing, want an id from POST /v1/galleries")
	}
	if req.K < 0 {
		return nil, badRequest("k = %d: want a number of hits >= 1 (default 8)", req.K)
	}
	k := req.K
	if k == 0 {
		k = 8
	}
	switch {
	case req.Query != "" && req.ImagePath != "":
		return nil, badRequest("both query and image_path given: want one of them")
	case req.Query != "":
		if err := s.checkTexts("query", []string{req.Query}); err != nil {
			return nil, err
		}
	case req.ImagePath != "":
		if err := checkPath(req.ImagePath); err != nil {
			return nil, badRequest("image_path = %q: %v", req.ImagePath, err)
		}
	default:
		return nil, badRequest("no query: want \"query\" (a text) or \"image_path\" (an absolute image path)")
	}
	g, _, err := s.lookup(req.Gallery)
	if err != nil {
		return nil, err
	}
	var embs [][]float32
	if req.Query != "" {
		embs, err = s.m.EncodeTexts([]string{req.Query})
	} else {
		embs, err = s.encodeImages("image_path", []string{req.ImagePath})
	}
	if err != nil {
		return nil, err
	}
	res, err := g.index.Search(embs[0], min(k, len(g.paths)))
	if err != nil {
		return nil, err
	}
	hits := make([]Hit, len(res))
	for i, h := range res {
		hits[i] = Hit{Index: int(h.ID), Path: g.paths[h.ID], Score: h.Score}
	}
	return hits, nil
}

// handleThumbnail answers GET /v1/galleries/{id}/images/{i}?size=S with a JPEG of item i scaled
// to fit S×S (default 128, 16 to 1024), aspect ratio kept.
func (s *Server) handleThumbnail(w http.ResponseWriter, r *http.Request) {
	g, _, err := s.lookup(r.PathValue("id"))
	if err != nil {
		fail(w, err)
		return
	}
	i, err := strconv.Atoi(r.PathValue("i"))
	if err != nil || i < 0 || i >= len(g.paths) {
		fail(w, notFound("item %q of gallery %s: want an index in [0, %d)", r.PathValue("i"), g.id, len(g.paths)))
		return
	}
	size := 128
	if v := r.URL.Query().Get("size"); v != "" {
		if size, err = strconv.Atoi(v); err != nil || size < 16 || size > 1024 {
			fail(w, badRequest("size = %q: want a number of pixels in [16, 1024]", v))
			return
		}
	}
	img, _, err := preprocess.DecodeFile(g.paths[i])
	if err != nil {
		fail(w, fmt.Errorf("item %d of gallery %s (%s): %w", i, g.id, g.paths[i], err))
		return
	}
	b := img.Bounds()
	tw, th := b.Dx(), b.Dy()
	if tw > size || th > size {
		if tw >= th {
			tw, th = size, max(1, th*size/tw)
		} else {
			tw, th = max(1, tw*size/th), size
		}
	}
	dst := image.NewRGBA(image.Rect(0, 0, tw, th))
	draw.Draw(dst, dst.Bounds(), image.White, image.Point{}, draw.Src) // transparent pixels on white
	draw.CatmullRom.Scale(dst, dst.Bounds(), img, b, draw.Over, nil)
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, dst, &jpeg.Options{Quality: 85}); err != nil {
		fail(w, err)
		return
	}
	w.Header().Set("Content-Type", "image/jpeg")
	w.Header().Set("Cache-Control", "private, max-age=3600")
	_, _ = w.Write(buf.Bytes())
}
