package cliplib

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"image"
	"image/draw"

	"github.com/clipkit/clipkit/cliplib/preprocess"
	"github.com/clipkit/clipkit/internal/parallel"
)

// EncodeTexts tokenizes and encodes texts, returning one L2-normalised embedding [E] per text, in
// order. Texts longer than the context are truncated (the end token kept), as open_clip does.
// See EncodeTextsContext.
func (m *Model) EncodeTexts(texts []string) ([][]float32, error) {
	return m.EncodeTextsContext(context.Background(), texts)
}

// EncodeText encodes one text into its embedding [E]; with Options.Batching, concurrent calls
// are batched together.
func (m *Model) EncodeText(ctx context.Context, text string) ([]float32, error) {
	out, err := m.EncodeTextsContext(ctx, []string{text})
	if err != nil {
		return nil, err
	}
	return out[0], nil
}

// EncodeTextsContext tokenizes texts, serves the cached ones from the text cache (when on), and
// encodes the others once each (through the batcher when on, so that concurrent callers share
// batches; ctx cancels the wait for a batch), caching them.
func (m *Model) EncodeTextsContext(ctx context.Context, texts []string) ([][]float32, error) {
	if err := m.check(); err != nil {
		return nil, err
	}
	return m.encodeTokens(ctx, m.tok.TokenizeBatch(texts))
}

// EncodeTokens encodes token-id sequences (each ContextLength long, as the tokenizer returns
// them) into L2-normalised embeddings [E], going through the text cache and batcher when on.
func (m *Model) EncodeTokens(ids [][]int32) ([][]float32, error) {
	if err := m.check(); err != nil {
		return nil, err
	}
	return m.encodeTokens(context.Background(), ids)
}

// encodeTokens is the one text path: cache lookups, then the misses encoded in one call.
func (m *Model) encodeTokens(ctx context.Context, ids [][]int32) ([][]float32, error) {
	if m.text == nil && m.batch == nil {
		return m.enc.EncodeTokens(ids)
	}
	out := make([][]float32, len(ids))
	var missIdx []int
	for i, row := range ids {
		if m.text != nil {
			if v, ok := m.text.Get(row); ok {
				out[i] = v
				continue
			}
		}
		missIdx = append(missIdx, i)
	}
	if len(missIdx) == 0 {
		return out, nil
	}
	miss := make([][]int32, len(missIdx))
	for j, i := range missIdx {
		miss[j] = ids[i]
	}
	var embs [][]float32
	var err error
	if m.batch != nil {
		embs, err = m.batch.EncodeTokenBatch(ctx, miss)
	} else {
		embs, err = m.enc.EncodeTokens(miss)
	}
	if err != nil {
		return nil, err
	}
	for j, i := range missIdx {
		out[i] = embs[j]
		if m.text != nil {
			m.text.Put(ids[i], embs[j])
			m.textDirty.Store(true)
		}
	}
	return out, nil
}

// PreprocessImages turns images into the model's input tensor: a flat [N, 3, R, R] float32
// slice, decoded colour handled as PIL's convert("RGB") does, resized, centre-cropped and
// normalised exactly as the reference pipeline of the model's weights.
func (m *Model) PreprocessImages(imgs []image.Image) ([]float32, error) {
	return preprocess.Batch(imgs, m.Preprocess)
}

// EncodeImages preprocesses and encodes images, returning one L2-normalised embedding [E] per
// image, in order. It does not use the image cache (see EncodeImagesCached).
func (m *Model) EncodeImages(imgs []image.Image) ([][]float32, error) {
	return m.EncodeImagesContext(context.Background(), imgs)
}

// EncodeImage encodes one image into its embedding [E]; with Options.Batching, concurrent calls
// are batched together.
func (m *Model) EncodeImage(ctx context.Context, img image.Image) ([]float32, error) {
	out, err := m.EncodeImagesContext(ctx, []image.Image{img})
	if err != nil {
		return nil, err
	}
	return out[0], nil
}

// EncodeImagesContext is EncodeImages with a context (cancellation while queued for a batch).
func (m *Model) EncodeImagesContext(ctx context.Context, imgs []image.Image) ([][]float32, error) {
	if err := m.check(); err != nil {
		return nil, err
	}
	if len(imgs) == 0 {
		return nil, nil
	}
	pixels, err := m.PreprocessImages(imgs)
	if err != nil {
		return nil, err
	}
	return m.encodePixels(ctx, pixels, len(imgs))
}

// encodePixels encodes n preprocessed images (flat [n, 3, R, R]), through the batcher when on.
func (m *Model) encodePixels(ctx context.Context, pixels []float32, n int) ([][]float32, error) {
	if m.batch != nil {
		return m.batch.EncodeImages(ctx, pixels, n)
	}
	return m.enc.EncodeImages(pixels, n)
}

// EncodeImagesCached is EncodeImages through the image cache, keyed by each image's pixels
// (PixelKey): decoded images encoded before by this model (in this process or, with a persistent
// cache, an earlier one) are not encoded again. Dataset items, which have no file, use it.
// Without an image cache it is EncodeImages.
func (m *Model) EncodeImagesCached(imgs []image.Image) ([][]float32, error) {
	if m.image == nil {
		return m.EncodeImages(imgs)
	}
	if err := m.check(); err != nil {
		return nil, err
	}
	out := make([][]float32, len(imgs))
	keys := make([]string, len(imgs))
	var todo []image.Image
	var todoIdx []int
	for i, img := range imgs {
		keys[i] = PixelKey(img)
		if v, ok := m.image.GetKey(keys[i]); ok {
			out[i] = v
			continue
		}
		todo, todoIdx = append(todo, img), append(todoIdx, i)
	}
	if len(todo) == 0 {
		return out, nil
	}
	embs, err := m.EncodeImages(todo)
	if err != nil {
		return nil, err
	}
	for j, i := range todoIdx {
		out[i] = embs[j]
		m.image.PutKey(keys[i], embs[j])
		m.imageDirty.Store(true)
	}
	return out, nil
}

// PixelKey is the image-cache key of a decoded image: "pixels:" and the SHA-256 of its size and
// RGBA pixels (so that it cannot collide with the file-content keys of EncodeImageFiles).
func PixelKey(img image.Image) string {
	b := img.Bounds()
	rgba, ok := img.(*image.RGBA)
	if !ok || rgba.Rect.Min != (image.Point{}) || rgba.Stride != 4*b.Dx() {
		rgba = image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
		draw.Draw(rgba, rgba.Rect, img, b.Min, draw.Src)
	}
	h := sha256.New()
	fmt.Fprintf(h, "%dx%d:", b.Dx(), b.Dy())
	h.Write(rgba.Pix[:4*b.Dx()*b.Dy()]) // a sub-image's Pix runs on past its last pixel
	return "pixels:" + string(h.Sum(nil))
}

// EncodeImageFiles decodes (PNG, JPEG, GIF, WebP, BMP, TIFF) and encodes image files, returning
// one embedding [E] per file, in order. With the image cache on, files whose content was encoded
// before by this model (in this process or, with a persistent cache, an earlier one) are neither
// decoded nor encoded again.
func (m *Model) EncodeImageFiles(paths ...string) ([][]float32, error) {
	return m.EncodeImageFilesContext(context.Background(), paths...)
}

// EncodeImageFilesContext is EncodeImageFiles with a context.
func (m *Model) EncodeImageFilesContext(ctx context.Context, paths ...string) ([][]float32, error) {
	if err := m.check(); err != nil {
		return nil, err
	}
	out := make([][]float32, len(paths))
	keys := make([]string, len(paths))
	var todo []int
	for i, p := range paths {
		if m.image != nil {
			data, err := preprocess.ReadFileLimited(p, preprocess.DefaultLimits) // regular files, bounded
			if err != nil {
				return nil, err
			}
			sum := sha256.Sum256(data)
			keys[i] = string(sum[:])
			if v, ok := m.image.GetKey(keys[i]); ok {
				out[i] = v
				continue
			}
		}
		todo = append(todo, i)
	}
	if len(todo) == 0 {
		return out, nil
	}
	// Decode and preprocess in parallel (decoding a photo costs about as much as preprocessing it).
	per := 3 * m.Preprocess.Size * m.Preprocess.Size
	pixels := make([]float32, len(todo)*per)
	errs := make([]error, len(todo))
	parallel.For(len(todo), func(j int) {
		img, _, err := preprocess.DecodeFile(paths[todo[j]]) // its errors name the file
		if err != nil {
			errs[j] = err
			return
		}
		if err := preprocess.ApplyInto(pixels[j*per:(j+1)*per], img, m.Preprocess); err != nil {
			errs[j] = fmt.Errorf("%s: %w", paths[todo[j]], err)
		}
	})
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	embs, err := m.encodePixels(ctx, pixels, len(todo))
	if err != nil {
		return nil, err
	}
	for j, i := range todo {
		out[i] = embs[j]
		if m.image != nil {
			m.image.PutKey(keys[i], embs[j])
			m.imageDirty.Store(true)
		}
	}
	return out, nil
}
