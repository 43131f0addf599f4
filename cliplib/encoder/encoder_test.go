package encoder

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/clipkit/clipkit/cliplib/internal/testutil"

	"github.com/clipkit/clipkit/cliplib/checkpoint"
	"github.com/clipkit/clipkit/cliplib/model"
	"github.com/clipkit/clipkit/cliplib/model/nn"
)

func tinyEncoder(t *testing.T, opt Options) *Encoder {
	t.Helper()
	cfg, err := model.Lookup("tiny-vit")
	if err != nil {
		t.Fatal(err)
	}
	sd, err := RandomWeights(cfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	if opt.Backend == "" {
		opt.Backend = testutil.BackendConfig()
	}
	e, err := New(cfg, sd, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	return e
}

func norm(v []float32) float64 {
	s := 0.0
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	return math.Sqrt(s)
}

func TestEncodeImagesIsNormalisedAndBatchInvariant(t *testing.T) {
	e := tinyEncoder(t, Options{})
	r := e.Config().Vision.ImageSize
	n := 3
	pixels := make([]float32, n*3*r*r)
	for i := range pixels {
		pixels[i] = float32(math.Sin(float64(i) * 0.37))
	}
	all, err := e.EncodeImages(pixels, n)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != n || len(all[0]) != e.Config().EmbedDim {
		t.Fatalf("got %d×%d embeddings, want %d×%d", len(all), len(all[0]), n, e.Config().EmbedDim)
	}
	for i := 0; i < n; i++ {
		if d := math.Abs(norm(all[i]) - 1); d > 1e-5 {
			t.Errorf("image %d embedding norm differs from 1 by %g", i, d)
		}
		one, err := e.EncodeImages(pixels[i*3*r*r:(i+1)*3*r*r], 1)
		if err != nil {
			t.Fatal(err)
		}
		for j := range one[0] {
			if d := math.Abs(float64(one[0][j] - all[i][j])); d > 1e-5 {
				t.Fatalf("image %d dim %d: batch of 1 gives %g, batch of %d gives %g", i, j, one[0][j], n, all[i][j])
			}
		}
	}
}

func TestEncodeImagesRejectsWrongSize(t *testing.T) {
	e := tinyEncoder(t, Options{})
	_, err := e.EncodeImages(make([]float32, 10), 1)
	if err == nil || !strings.Contains(err.Error(), "pixel values") {
		t.Fatalf("want an error about pixel values, got %v", err)
	}
}

func tokens(ids ...int32) []int32 {
	row := make([]int32, model.ContextLength)
	copy(row, ids)
	return row
}

func TestTextLengthBucketingIsExact(t *testing.T) {
	cut := tinyEncoder(t, Options{})
	full := tinyEncoder(t, Options{FullTextLength: true})
	batch := [][]int32{
		tokens(49406, 320, 1125, 539, 320, 2368, 49407),
		tokens(49406, 320, 1929, 49407),
		tokens(49406, 3306, 1002, 256, 320, 1125, 539, 320, 2368, 320, 1125, 539, 49407),
	}
	if got := cut.TextLength(batch); got != 16 {
		t.Errorf("TextLength = %d, want the 16 bucket for a last EOT at position 12", got)
	}
	a, err := cut.EncodeTokens(batch)
	if err != nil {
		t.Fatal(err)
	}
	b, err := full.EncodeTokens(batch)
	if err != nil {
		t.Fatal(err)
	}
	for i := range a {
		for j := range a[i] {
			if d := math.Abs(float64(a[i][j] - b[i][j])); d > 1e-6 {
				t.Fatalf("text %d dim %d: cut %g vs full %g", i, j, a[i][j], b[i][j])
			}
		}
	}
}

func TestEncodeTokensValidatesIDs(t *testing.T) {
	e := tinyEncoder(t, Options{})
	if _, err := e.EncodeTokens([][]int32{{1, 2}}); err == nil {
		t.Error("short sequence accepted")
	}
	if _, err := e.EncodeTokens([][]int32{tokens(49406, 60000, 49407)}); err == nil {
		t.Error("out-of-vocabulary id accepted")
	}
}

func TestCheckWeightsReportsEveryProblem(t *testing.T) {
	cfg, _ := model.Lookup("tiny-vit")
	sd, err := RandomWeights(cfg, 2)
	if err != nil {
		t.Fatal(err)
	}
	delete(sd, "visual.ln_pre.bias")
	sd["visual.extra"] = &checkpoint.Tensor{Shape: []int{1}, DType: checkpoint.F32, Data: []float32{0}}
	sd["visual.proj"].Shape = []int{3, 4}
	_, err = New(cfg, sd, Options{Backend: "go"})
	if err == nil {
		t.Fatal("New accepted a broken state dict")
	}
	for _, want := range []string{"1 missing (visual.ln_pre.bias)", "1 unexpected (visual.extra)", "visual.proj has shape [3 4]"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestF16IsRefusedOnSimpleGo(t *testing.T) {
	cfg, _ := model.Lookup("tiny-vit")
	sd, _ := RandomWeights(cfg, 3)
	_, err := New(cfg, sd, Options{Backend: "go", Precision: F16}) // simplego specifically
	if err == nil || !strings.Contains(err.Error(), "f16") {
		t.Fatalf("want a clear f16 refusal, got %v", err)
	}
}

func TestBF16CloseToF32(t *testing.T) {
	f32 := tinyEncoder(t, Options{})
	bf16 := tinyEncoder(t, Options{Precision: BF16})
	batch := [][]int32{tokens(49406, 320, 1125, 539, 320, 2368, 49407)}
	a, _ := f32.EncodeTokens(batch)
	b, err := bf16.EncodeTokens(batch)
	if err != nil {
		t.Fatal(err)
	}
	cos := 0.0
	for j := range a[0] {
		cos += float64(a[0][j]) * float64(b[0][j])
	}
	if cos < 0.99 {
		t.Errorf("bf16 vs f32 cosine = %.4f, want ≥ 0.99", cos)
	}
}

// TestLinearLayoutsGiveTheSameEmbeddings proves that holding Linear weights transposed
// (nn.LayoutInOut, the default on xla:cpu) changes nothing but speed: every test configuration of
// every tower family (ViT, ResNet, MobileCLIP's MCi and MCt, the timm ViT) gives the same image and
// text embeddings in both layouts, on the test backend.
func TestLinearLayoutsGiveTheSameEmbeddings(t *testing.T) {
	checkLayoutsAgree(t, Options{LinearLayout: nn.LayoutOutIn}, Options{LinearLayout: nn.LayoutInOut})
}

// TestConvLayoutsGiveTheSameEmbeddings proves that holding convolution kernels as HWIO
// (nn.LayoutHWIO, the default on xla:cpu for towers that allow it: ResNet) changes nothing but
// speed, on every test configuration of every tower family (those without ConvKernel keep OIHW
// kernels and must not change either), on the test backend with both convolution algorithms
// (the backend's native one and the matrix products), and that WriteWeights still writes the
// checkpoint's layout.
func TestConvLayoutsGiveTheSameEmbeddings(t *testing.T) {
	a, b := Options{ConvLayout: nn.LayoutOIHW}, Options{ConvLayout: nn.LayoutHWIO}
	checkLayoutsAgree(t, a, b)
}

// checkLayoutsAgree encodes images and texts with every test configuration under options a and
// b (which differ only in how weights are held) and fails if the embeddings differ by more than
// 1e-6 or the weights WriteWeights writes differ at all.
func checkLayoutsAgree(t *testing.T, a, b Options) {
	var names []string
	for _, name := range model.Names() {
		if model.IsTestConfig(name) {
			names = append(names, name)
		}
	}
	if len(names) < 3 {
		t.Fatalf("only %d test configurations registered: %v", len(names), names)
	}
	heldAs := 0 // configurations whose weights a and b hold differently
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			cfg, err := model.Lookup(name)
			if err != nil {
				t.Fatal(err)
			}
			sd, err := RandomWeights(cfg, 7)
			if err != nil {
				t.Fatal(err)
			}
			// RandomWeights leaves biases at 0 and scales at 1; make them matter too.
			for name, w := range sd {
				if strings.HasSuffix(name, "bias") || strings.Contains(name, "gamma") {
					for i := range w.Data {
						w.Data[i] = float32(math.Sin(float64(i)*1.3+float64(len(name)))) * 0.5
					}
				}
			}
			r := cfg.Vision.ImageSize
			pixels := make([]float32, 2*3*r*r)
			for i := range pixels {
				pixels[i] = float32(math.Sin(float64(i) * 0.37))
			}
			ids := make([][]int32, 2)
			for i := range ids {
				ids[i] = make([]int32, cfg.Text.ContextLength)
				for j := 0; j < 5; j++ {
					ids[i][j] = int32((i*7 + j*3) % (cfg.Text.VocabSize - 1))
				}
				ids[i][5] = int32(cfg.Text.VocabSize - 1) // end of text: the largest id
			}
			var imgs, txts [2][][]float32
			var written [2]bytes.Buffer
			var perms [2][]string
			for k, opt := range []Options{a, b} {
				opt.Backend, opt.BatchBuckets = testutil.BackendConfig(), []int{2}
				e, err := New(cfg, sd, opt)
				if err != nil {
					t.Fatal(err)
				}
				if opt.LinearLayout != "" && e.LinearLayout() != opt.LinearLayout {
					t.Fatalf("LinearLayout() = %q, want %q", e.LinearLayout(), opt.LinearLayout)
				}
				if opt.ConvLayout != "" && e.ConvLayout() != opt.ConvLayout {
					t.Fatalf("ConvLayout() = %q, want %q", e.ConvLayout(), opt.ConvLayout)
				}
				for _, p := range e.params {
					perms[k] = append(perms[k], fmt.Sprint(p.perm))
				}
				if imgs[k], err = e.EncodeImages(pixels, 2); err != nil {
					t.Fatal(err)
				}
				if txts[k], err = e.EncodeTokens(ids); err != nil {
					t.Fatal(err)
				}
				if err := e.WriteWeights(&written[k]); err != nil {
					t.Fatal(err)
				}
				e.Close()
			}
			if !slices.Equal(perms[0], perms[1]) {
				heldAs++
			}
			for what, pair := range map[string][2][][]float32{"image": imgs, "text": txts} {
				worst := 0.0
				for i := range pair[0] {
					for j := range pair[0][i] {
						worst = math.Max(worst, math.Abs(float64(pair[0][i][j]-pair[1][i][j])))
					}
				}
				if worst > 1e-6 {
					t.Errorf("%s embeddings differ between layouts by %.3g (limit 1e-6)", what, worst)
				}
			}
			if !bytes.Equal(written[0].Bytes(), written[1].Bytes()) {
				t.Errorf("WriteWeights differs between layouts")
			}
		})
	}
	if heldAs == 0 {
		t.Errorf("no test configuration holds its weights differently under the two options: the test proves nothing")
	}
}

func TestUnknownLinearLayoutIsRefused(t *testing.T) {
	cfg, err := model.Lookup("tiny-vit")
	if err != nil {
		t.Fatal(err)
	}
	sd, err := RandomWeights(cfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	_, err = New(cfg, sd, Options{Backend: testutil.BackendConfig(), LinearLayout: "columns"})
	if err == nil || !strings.Contains(err.Error(), `"columns"`) {
		t.Fatalf("got %v, want an error naming the layout", err)
	}
}

func TestUnknownConvLayoutIsRefused(t *testing.T) {
	cfg, err := model.Lookup("tiny-rn")
	if err != nil {
		t.Fatal(err)
	}
	sd, err := RandomWeights(cfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	_, err = New(cfg, sd, Options{Backend: testutil.BackendConfig(), ConvLayout: "nchw"})
	if err == nil || !strings.Contains(err.Error(), `"nchw"`) {
		t.Fatalf("got %v, want an error naming the layout", err)
	}
}

// TestPermuteMatchesIndexing checks the load-time axis permutation against direct indexing, for
// the permutations the encoder uses (2-D transposition, OIHW → HWIO) and their inverses.
func TestPermuteMatchesIndexing(t *testing.T) {
	for _, tc := range []struct {
		dims, perm []int
	}{
		{[]int{3, 5}, []int{1, 0}},
		{[]int{4, 3, 2, 5}, nn.OIHWToHWIO},
		{[]int{2, 5, 4, 3}, inverse(nn.OIHWToHWIO)},
		{[]int{1, 3, 1, 1}, nn.OIHWToHWIO},
		{[]int{2, 3, 4}, []int{0, 1, 2}},
	} {
		n := 1
		for _, d := range tc.dims {
			n *= d
		}
		src := make([]float32, n)
		for i := range src {
			src[i] = float32(i)
		}
		got := permute(src, tc.dims, tc.perm)
		odims := permuted(tc.dims, tc.perm)
		// Walk every source index, compute its destination offset directly.
		idx := make([]int, len(tc.dims))
		for off := 0; off < n; off++ {
			rem := off
			for a := len(tc.dims) - 1; a >= 0; a-- {
				idx[a] = rem % tc.dims[a]
				rem /= tc.dims[a]
			}
			dst := 0
			for a := range odims {
				dst = dst*odims[a] + idx[tc.perm[a]]
			}
			if got[dst] != src[off] {
				t.Fatalf("dims %v perm %v: element %d landed wrong (dst %d holds %v)", tc.dims, tc.perm, off, dst, got[dst])
			}
		}
		if back := permute(got, odims, inverse(tc.perm)); !slices.Equal(back, src) {
			t.Errorf("dims %v perm %v: the inverse permutation does not restore the source", tc.dims, tc.perm)
		}
	}
}

// TestEachTowerIsPlacedOnItsFirstRun checks that New converts no weight, that a prompt converts
// and places the text tower's weights alone, and that embeddings and WriteWeights are exactly those
// of an encoder that placed every weight first, also when the first calls of both towers and
// WriteWeights come at once (run with -race on an XLA backend, it checks that they do not race).
func TestEachTowerIsPlacedOnItsFirstRun(t *testing.T) {
	opt := Options{BatchBuckets: []int{1}}
	countVars := func(e *Encoder) (n int) {
		for range e.ctx.IterVariables() {
			n++
		}
		return n
	}

	// Reference: every weight placed (by WriteWeights) before anything runs. tinyEncoder draws
	// the same random weights every time.
	ref := tinyEncoder(t, opt)
	r := ref.Config().Vision.ImageSize
	pixels := make([]float32, 3*r*r)
	for i := range pixels {
		pixels[i] = float32(math.Cos(float64(i) * 0.11))
	}
	ids := [][]int32{tokens(5, 9, 2)}
	var refWeights bytes.Buffer
	if err := ref.WriteWeights(&refWeights); err != nil {
		t.Fatal(err)
	}
	refTxt, err := ref.EncodeTokens(ids)
	if err != nil {
		t.Fatal(err)
	}
	refImg, err := ref.EncodeImages(pixels, 1)
	if err != nil {
		t.Fatal(err)
	}

	// A prompt first: the text tower's weights alone are placed.
	e := tinyEncoder(t, opt)
	if d, n := e.WeightConversionTime(), countVars(e); d != 0 || n != 0 {
		t.Fatalf("after New: conversion time %v and %d variables, want 0 and 0", d, n)
	}
	txt, err := e.EncodeTokens(ids)
	if err != nil {
		t.Fatal(err)
	}
	if n, want := countVars(e), len(e.text.params); n != want || e.image.placed || e.WeightConversionTime() <= 0 {
		t.Errorf("after a prompt: %d variables (image placed: %v), want the text tower's %d alone", n, e.image.placed, want)
	}
	img, err := e.EncodeImages(pixels, 1)
	if err != nil {
		t.Fatal(err)
	}
	if n := countVars(e); n != len(e.params) {
		t.Errorf("after an image: %d variables, want %d", n, len(e.params))
	}
	if !slices.Equal(txt[0], refTxt[0]) || !slices.Equal(img[0], refImg[0]) {
		t.Errorf("embeddings of towers placed on first run differ from those of an encoder placed at once")
	}

	// The first calls of both towers and WriteWeights at once.
	e = tinyEncoder(t, opt)
	var errs [3]error
	var written bytes.Buffer
	var wg sync.WaitGroup
	wg.Go(func() { img, errs[0] = e.EncodeImages(pixels, 1) })
	wg.Go(func() { txt, errs[1] = e.EncodeTokens(ids) })
	wg.Go(func() { errs[2] = e.WriteWeights(&written) })
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if !slices.Equal(txt[0], refTxt[0]) || !slices.Equal(img[0], refImg[0]) || !bytes.Equal(written.Bytes(), refWeights.Bytes()) {
		t.Errorf("concurrent first calls differ from those of an encoder placed at once")
	}
}

// TestCloseBeforeFirstRun closes an encoder whose weights were never placed: later calls report
// the encoder closed.
func TestCloseBeforeFirstRun(t *testing.T) {
	e := tinyEncoder(t, Options{})
	e.Close()
	if _, err := e.EncodeTokens([][]int32{tokens(5, 9, 2)}); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("EncodeTokens after Close: %v, want an error saying the encoder is closed", err)
	}
	if err := e.WriteWeights(io.Discard); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("WriteWeights after Close: %v, want an error saying the encoder is closed", err)
	}
	if err := e.PreCompileText(1, 8); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("PreCompileText after Close: %v, want an error saying the encoder is closed", err)
	}
}
