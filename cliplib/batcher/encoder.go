package batcher

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/clipkit/clipkit/cliplib/encoder"
)

// Encoder batches single-image and single-text requests for the two towers of a model.
// Requests are validated before they are queued, so a malformed request fails alone and never
// the batch it would have joined. Identical token sequences that meet in one batch (many clients
// asking for the same prompt at once) are encoded once. It is safe for concurrent use.
type Encoder struct {
	enc    *encoder.Encoder
	images *Batcher[[]float32, []float32]
	texts  *Batcher[[]int32, []float32]
	dups   atomic.Int64
}

// NewEncoder starts one batcher per tower of enc (image and text, same options).
func NewEncoder(enc *encoder.Encoder, opt Options) (*Encoder, error) {
	if enc == nil {
		return nil, errors.New("batcher: nil encoder")
	}
	r := enc.Config().Vision.ImageSize
	per := 3 * r * r
	images, err := New(func(pixels [][]float32) ([][]float32, error) {
		flat := make([]float32, 0, len(pixels)*per)
		for _, p := range pixels {
			flat = append(flat, p...)
		}
		return enc.EncodeImages(flat, len(pixels))
	}, opt)
	if err != nil {
		return nil, err
	}
	e := &Encoder{enc: enc, images: images}
	e.texts, err = New(func(ids [][]int32) ([][]float32, error) { return e.encodeUnique(ids) }, opt)
	if err != nil {
		images.Close()
		return nil, err
	}
	return e, nil
}

// EncodeImage encodes one preprocessed image, a flat [3, R, R] float32 slice normalised as the
// model's preprocessing prescribes, and returns its L2-normalised embedding [E].
func (e *Encoder) EncodeImage(ctx context.Context, pixels []float32) ([]float32, error) {
	if err := e.checkPixels(pixels); err != nil {
		return nil, err
	}
	return e.images.Do(ctx, pixels)
}

// EncodeImages queues n preprocessed images (flat [n, 3, R, R]) as n requests, batched with
// concurrent requests, and returns their embeddings in order.
func (e *Encoder) EncodeImages(ctx context.Context, pixels []float32, n int) ([][]float32, error) {
	r := e.enc.Config().Vision.ImageSize
	per := 3 * r * r
	if n < 0 || len(pixels) != n*per {
		return nil, fmt.Errorf("batcher: got %d pixel values for %d images, want %d (= n·3·%d·%d)", len(pixels), n, n*per, r, r)
	}
	ins := make([][]float32, n)
	for i := range ins {
		ins[i] = pixels[i*per : (i+1)*per : (i+1)*per]
	}
	return e.images.DoAll(ctx, ins)
}

// EncodeTokens encodes one token-id sequence (ContextLength ids, as the tokenizer returns them)
// and returns its L2-normalised embedding [E].
func (e *Encoder) EncodeTokens(ctx context.Context, ids []int32) ([]float32, error) {
	if err := e.checkTokens(ids); err != nil {
		return nil, err
	}
	return e.texts.Do(ctx, ids)
}

// EncodeTokenBatch queues each sequence as its own request and returns the embeddings in order.
func (e *Encoder) EncodeTokenBatch(ctx context.Context, ids [][]int32) ([][]float32, error) {
	for i, row := range ids {
		if err := e.checkTokens(row); err != nil {
			return nil, fmt.Errorf("sequence %d: %w", i, err)
		}
	}
	return e.texts.DoAll(ctx, ids)
}

func (e *Encoder) checkPixels(pixels []float32) error {
	r := e.enc.Config().Vision.ImageSize
	if len(pixels) != 3*r*r {
		return fmt.Errorf("batcher: an image has %d pixel values, want %d (= 3·%d·%d)", len(pixels), 3*r*r, r, r)
	}
	return nil
}

func (e *Encoder) checkTokens(ids []int32) error {
	t := e.enc.Config().Text
	if len(ids) != t.ContextLength {
		return fmt.Errorf("batcher: a token sequence has %d ids, want %d", len(ids), t.ContextLength)
	}
	for _, id := range ids {
		if id < 0 || int(id) >= t.VocabSize {
			return fmt.Errorf("batcher: token id %d outside the vocabulary [0, %d)", id, t.VocabSize)
		}
	}
	return nil
}

// ImageStats returns the counters of the image batcher.
func (e *Encoder) ImageStats() Stats { return e.images.Stats() }

// TextStats returns the counters of the text batcher.
func (e *Encoder) TextStats() Stats { return e.texts.Stats() }

// Deduplicated returns the number of text requests that were served by an identical request of
// the same batch instead of being encoded again.
func (e *Encoder) Deduplicated() int64 { return e.dups.Load() }

// Close closes both batchers (finishing queued requests); the encoder itself stays open.
func (e *Encoder) Close() error {
	e.images.Close()
	e.texts.Close()
	return nil
}

// encodeUnique encodes the distinct rows of ids once each and returns one embedding per row
// (rows with the same ids share the same result slice contents, copied).
func (e *Encoder) encodeUnique(ids [][]int32) ([][]float32, error) {
	first := make(map[string]int, len(ids))
	var uniq [][]int32
	slot := make([]int, len(ids))
	for i, row := range ids {
		k := tokenKey(row)
		j, ok := first[k]
		if !ok {
			j = len(uniq)
			first[k] = j
			uniq = append(uniq, row)
		}
		slot[i] = j
	}
	if len(uniq) == len(ids) {
		return e.enc.EncodeTokens(ids)
	}
	e.dups.Add(int64(len(ids) - len(uniq)))
	embs, err := e.enc.EncodeTokens(uniq)
	if err != nil {
		return nil, err
	}
	out := make([][]float32, len(ids))
	for i, j := range slot {
		out[i] = append([]float32(nil), embs[j]...)
	}
	return out, nil
}

// tokenKey is a map key for a token sequence.
func tokenKey(ids []int32) string {
	b := make([]byte, 4*len(ids))
	for i, v := range ids {
		b[4*i], b[4*i+1], b[4*i+2], b[4*i+3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
	}
	return string(b)
}
