package batcher

import (
	"context"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clipkit/clipkit/cliplib/encoder"
	"github.com/clipkit/clipkit/cliplib/model"
)

func tinyEncoder(t testing.TB, arch string) *encoder.Encoder {
	t.Helper()
	cfg, err := model.Lookup(arch)
	if err != nil {
		t.Fatal(err)
	}
	sd, err := encoder.RandomWeights(cfg, 7)
	if err != nil {
		t.Fatal(err)
	}
	e, err := encoder.New(cfg, sd, encoder.Options{Backend: testBackend})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	return e
}

func tokens(ids ...int32) []int32 {
	row := make([]int32, model.ContextLength)
	copy(row, ids)
	return row
}

// testInputs returns n distinct images (flat [3,R,R] each) and n distinct prompts of different lengths.
func testInputs(e *encoder.Encoder, n int) ([][]float32, [][]int32) {
	r := e.Config().Vision.ImageSize
	imgs := make([][]float32, n)
	txts := make([][]int32, n)
	for i := range n {
		imgs[i] = make([]float32, 3*r*r)
		for j := range imgs[i] {
			imgs[i][j] = float32(math.Sin(float64(j)*0.013 + float64(i)))
		}
		row := []int32{49406}
		for k := 0; k <= i%11; k++ {
			row = append(row, int32(320+37*i+k))
		}
		txts[i] = tokens(append(row, 49407)...)
	}
	return imgs, txts
}

// tolerance of batched vs one-at-a-time results: simplego's ViT and text towers are
// batch-invariant (bit-identical); other kernels may reorder sums by batch size.
func maxAbsDiff(a, b []float32) float64 {
	d := 0.0
	for i := range a {
		d = math.Max(d, math.Abs(float64(a[i]-b[i])))
	}
	return d
}

func TestBatchedResultsEqualUnbatchedEncoding(t *testing.T) {
	for _, tc := range []struct {
		arch string
		tol  float64
	}{{"tiny-vit", 0}, {"tiny-rn", 1e-6}} {
		t.Run(tc.arch, func(t *testing.T) {
			e := tinyEncoder(t, tc.arch)
			n := 12
			if raceEnabled {
				n = 6
			}
			imgs, txts := testInputs(e, n)
			wantImg := make([][]float32, n)
			wantTxt := make([][]float32, n)
			for i := range n {
				wi, err := e.EncodeImages(imgs[i], 1)
				if err != nil {
					t.Fatal(err)
				}
				wt, err := e.EncodeTokens([][]int32{txts[i]})
				if err != nil {
					t.Fatal(err)
				}
				wantImg[i], wantTxt[i] = wi[0], wt[0]
			}
			b, err := NewEncoder(e, Options{MaxBatch: 4, MaxWait: 20 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			var wg sync.WaitGroup
			errs := make(chan error, 2*n)
			for i := range n {
				wg.Add(2)
				go func() {
					defer wg.Done()
					got, err := b.EncodeImage(context.Background(), imgs[i])
					if err == nil && maxAbsDiff(got, wantImg[i]) > tc.tol {
						err = fmt.Errorf("image %d differs from unbatched encoding by %g", i, maxAbsDiff(got, wantImg[i]))
					}
					if err != nil {
						errs <- err
					}
				}()
				go func() {
					defer wg.Done()
					got, err := b.EncodeTokens(context.Background(), txts[i])
					if err == nil && maxAbsDiff(got, wantTxt[i]) > tc.tol {
						err = fmt.Errorf("text %d differs from unbatched encoding by %g", i, maxAbsDiff(got, wantTxt[i]))
					}
					if err != nil {
						errs <- err
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			is, ts := b.ImageStats(), b.TextStats()
			if is.Items != int64(n) || ts.Items != int64(n) {
				t.Errorf("items %d images, %d texts, want %d each", is.Items, ts.Items, n)
			}
			if is.Batches == int64(n) && ts.Batches == int64(n) {
				t.Errorf("%d concurrent requests per tower were never grouped", n)
			}
			// The bulk helpers give the same rows.
			flat := make([]float32, 0, n*len(imgs[0]))
			for _, im := range imgs {
				flat = append(flat, im...)
			}
			gotImgs, err := b.EncodeImages(context.Background(), flat, n)
			if err != nil {
				t.Fatal(err)
			}
			gotTxts, err := b.EncodeTokenBatch(context.Background(), txts)
			if err != nil {
				t.Fatal(err)
			}
			for i := range n {
				if d := math.Max(maxAbsDiff(gotImgs[i], wantImg[i]), maxAbsDiff(gotTxts[i], wantTxt[i])); d > tc.tol {
					t.Fatalf("bulk request %d differs by %g", i, d)
				}
			}
		})
	}
}

func TestMalformedRequestFailsAloneAndEarly(t *testing.T) {
	e := tinyEncoder(t, "tiny-vit")
	b, err := NewEncoder(e, Options{MaxBatch: 4, MaxWait: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	imgs, txts := testInputs(e, 2)
	for _, tc := range []struct {
		name string
		call func() error
		want string
	}{
		{"short image", func() error { _, err := b.EncodeImage(context.Background(), imgs[0][:10]); return err }, "10 pixel values"},
		{"short sequence", func() error { _, err := b.EncodeTokens(context.Background(), txts[0][:5]); return err }, "5 ids"},
		{"bad id", func() error { _, err := b.EncodeTokens(context.Background(), tokens(49406, 99999, 49407)); return err }, "outside the vocabulary"},
		{"bad count", func() error { _, err := b.EncodeImages(context.Background(), imgs[0], 2); return err }, "for 2 images"},
		{"bad row", func() error {
			_, err := b.EncodeTokenBatch(context.Background(), [][]int32{txts[0], {1}})
			return err
		}, "sequence 1"},
	} {
		if err := tc.call(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want it to mention %q", tc.name, err, tc.want)
		}
	}
	if st := b.TextStats(); st.Requests != 0 || st.Batches != 0 {
		t.Errorf("malformed requests reached the queue: %+v", st)
	}
	if _, err := b.EncodeTokens(context.Background(), txts[1]); err != nil {
		t.Errorf("a good request after bad ones: %v", err)
	}
}

// testBackend runs simplego's ops one after another: its parallel op scheduler (GoMLX v0.26.0,
// backends/simplego/exec.go) has a benign data race of its own that -race reports in any program
// using it, which would hide races of this package.
const testBackend = "go:ops_sequential"

func TestIdenticalPromptsInOneBatchAreEncodedOnce(t *testing.T) {
	e := tinyEncoder(t, "tiny-vit")
	b, err := NewEncoder(e, Options{MaxBatch: 16, MaxWait: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	_, txts := testInputs(e, 3)
	ids := [][]int32{txts[0], txts[1], txts[0], txts[2], txts[0], txts[1]}
	want, err := e.EncodeTokens(ids)
	if err != nil {
		t.Fatal(err)
	}
	got, err := b.EncodeTokenBatch(context.Background(), ids)
	if err != nil {
		t.Fatal(err)
	}
	for i := range ids {
		if d := maxAbsDiff(got[i], want[i]); d != 0 {
			t.Errorf("row %d differs by %g", i, d)
		}
	}
	got[0][0] = 42 // rows are independent copies
	if got[2][0] == 42 {
		t.Error("duplicate rows share memory")
	}
	if n := b.Deduplicated(); n != 3 {
		t.Errorf("Deduplicated = %d, want 3 (six requests, three distinct prompts, one batch)", n)
	}
}
