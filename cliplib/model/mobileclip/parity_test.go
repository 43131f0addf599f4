package mobileclip_test

import (
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/clipkit/clipkit/cliplib/checkpoint"
	"github.com/clipkit/clipkit/cliplib/encoder"
	"github.com/clipkit/clipkit/cliplib/internal/testutil"
	"github.com/clipkit/clipkit/cliplib/model"
	"github.com/clipkit/clipkit/cliplib/model/mobileclip"

	"github.com/clipkit/clipkit/internal/repo"
)

// repoRoot is the repository root (repo.Root).
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := repo.Root()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

func readSD(t *testing.T, path string) checkpoint.StateDict {
	t.Helper()
	sd, _, err := checkpoint.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sd
}

// fixture holds one model's reference inputs and outputs (tools/reference/make_mobileclip_fixtures.py).
type fixture struct {
	pixels []float32
	n      int
	ids    [][]int32
	img    [][]float32
	txt    [][]float32
	logits [][]float32
}

func rows(t *testing.T, sd checkpoint.StateDict, name string) [][]float32 {
	t.Helper()
	x, ok := sd[name]
	if !ok || len(x.Shape) != 2 {
		t.Fatalf("fixture has no 2-D tensor %q", name)
	}
	out := make([][]float32, x.Shape[0])
	for i := range out {
		out[i] = x.Data[i*x.Shape[1] : (i+1)*x.Shape[1]]
	}
	return out
}

func loadFixture(t *testing.T, dir string) fixture {
	t.Helper()
	in := readSD(t, filepath.Join(dir, "inputs.safetensors"))
	out := readSD(t, filepath.Join(dir, "outputs.safetensors"))
	f := fixture{pixels: in["pixels"].Data, n: in["pixels"].Shape[0],
		img: rows(t, out, "image_features"), txt: rows(t, out, "text_features"), logits: rows(t, out, "logits_per_image")}
	ids := in["ids"]
	for i := 0; i < ids.Shape[0]; i++ {
		row := make([]int32, ids.Shape[1])
		for j := range row {
			row[j] = int32(ids.Ints[i*ids.Shape[1]+j])
		}
		f.ids = append(f.ids, row)
	}
	return f
}

// checkParity encodes the fixture's inputs with weights and compares the L2-normalised features
// (≤ 1e-5) and the logits (≤ 1e-5 relative to the logit scale) with the reference.
func checkParity(t *testing.T, cfg *model.Config, weights checkpoint.StateDict, f fixture) {
	t.Helper()
	e, err := encoder.New(cfg, weights, encoder.Options{Backend: testutil.BackendConfig()})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	img, err := e.EncodeImages(f.pixels, f.n)
	if err != nil {
		t.Fatal(err)
	}
	txt, err := e.EncodeTokens(f.ids)
	if err != nil {
		t.Fatal(err)
	}
	dImg, dTxt := maxAbsDiff(img, f.img), maxAbsDiff(txt, f.txt)
	dLogit := 0.0
	for i := range img {
		for j := range txt {
			dot := 0.0
			for k := range img[i] {
				dot += float64(img[i][k]) * float64(txt[j][k])
			}
			dLogit = math.Max(dLogit, math.Abs(float64(e.LogitScale())*dot-float64(f.logits[i][j])))
		}
	}
	t.Logf("max |diff|: image features %.3g, text features %.3g, logits %.3g (scale %.4g)", dImg, dTxt, dLogit, e.LogitScale())
	if dImg > 1e-5 || dTxt > 1e-5 {
		t.Errorf("features differ from the reference: image %g, text %g (tolerance 1e-5)", dImg, dTxt)
	}
	if dLogit > 1e-5*float64(e.LogitScale()) {
		t.Errorf("logits differ from the reference by %g (tolerance %g)", dLogit, 1e-5*float64(e.LogitScale()))
	}
}

// parityCase is one weights file of one model.
type parityCase struct {
	model, file string
	layout      checkpoint.Layout
}

// parityCases are the committed small fixtures: every model in every layout it was saved in.
var parityCases = []parityCase{
	{"MobileCLIP-test-S0", "apple.pt", mobileclip.LayoutApple},
	{"MobileCLIP-test-S0", "folded.safetensors", mobileclip.LayoutOpenCLIP},
	{"MobileCLIP-test-S2", "openclip.safetensors", mobileclip.LayoutOpenCLIP},
	{"MobileCLIP2-test-S3", "openclip.safetensors", mobileclip.LayoutOpenCLIP},
	{"MobileCLIP-test-B", "apple.pt", mobileclip.LayoutApple},
	{"MobileCLIP2-test-B", "openclip.safetensors", mobileclip.LayoutOpenCLIP},
}

func runParity(t *testing.T, dir string, c parityCase) {
	cfg, err := model.Lookup(c.model)
	if err != nil {
		t.Fatal(err)
	}
	f := loadFixture(t, dir)
	raw := readSD(t, filepath.Join(dir, c.file))
	weights, layout, err := mobileclip.PrepareWeights(cfg, raw)
	if err != nil {
		t.Fatal(err)
	}
	if layout != c.layout {
		t.Errorf("%s detected as layout %q, want %q", c.file, layout, c.layout)
	}
	t.Run("folded", func(t *testing.T) { checkParity(t, cfg, weights, f) })
	if c.file == "folded.safetensors" || (cfg.Vision.Family != model.MCi && cfg.Text.Family != model.TextMCT) {
		return // nothing to unfold
	}
	t.Run("train-time", func(t *testing.T) {
		unf := cfg.Clone()
		unf.Unfolded = true
		weights, _, err := mobileclip.PrepareWeights(unf, raw)
		if err != nil {
			t.Fatal(err)
		}
		checkParity(t, unf, weights, f)
	})
}

// TestParityWithReference compares our towers with the PyTorch references (Apple's
// ml-mobileclip code and open_clip + timm) on randomly initialised small models that keep every
// block type, loading each weights file through the mapping and re-parameterisation the facade
// uses, and also running the train-time graph on the unfolded weights.
func TestParityWithReference(t *testing.T) {
	root := filepath.Join(repoRoot(t), "testdata", "mobileclip")
	for _, c := range parityCases {
		t.Run(c.model+"/"+c.file, func(t *testing.T) { runParity(t, filepath.Join(root, c.model), c) })
	}
}

// TestReparameterizeMatchesTimmAndApple checks Reparameterize against the reference folding:
// MobileCLIP-test-S0's Apple checkpoint, mapped and folded here, must give the tensors (names
// and values) that timm's reparameterize_model (image tower) and Apple's reparameterize_model
// (mct text tower) give, as saved in folded.safetensors.
func TestReparameterizeMatchesTimmAndApple(t *testing.T) {
	dir := filepath.Join(repoRoot(t), "testdata", "mobileclip", "MobileCLIP-test-S0")
	cfg, err := model.Lookup("MobileCLIP-test-S0")
	if err != nil {
		t.Fatal(err)
	}
	got, _, err := mobileclip.PrepareWeights(cfg, readSD(t, filepath.Join(dir, "apple.pt")))
	if err != nil {
		t.Fatal(err)
	}
	want := readSD(t, filepath.Join(dir, "folded.safetensors"))
	for name, w := range want {
		g, ok := got[name]
		if !ok {
			t.Errorf("reference tensor %q is missing from our folded weights", name)
			continue
		}
		if len(g.Data) != len(w.Data) {
			t.Errorf("%q: %d values, reference has %d", name, len(g.Data), len(w.Data))
			continue
		}
		for i := range w.Data {
			if d := math.Abs(float64(g.Data[i] - w.Data[i])); d > 1e-5*math.Max(1, math.Abs(float64(w.Data[i]))) {
				t.Errorf("%q[%d] = %g, reference %g", name, i, g.Data[i], w.Data[i])
				break
			}
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("our folded weights have %q, the reference does not", name)
		}
	}
}

// TestFullSizeParity runs the same comparison on the real MobileCLIP-S0 and -S2 architectures
// (random weights) when tools/reference/make_mobileclip_fixtures.py --full has written them to
// build/reference/mobileclip (not committed: about 1 GB).
func TestFullSizeParity(t *testing.T) {
	if testing.Short() {
		t.Skip("full-size parity is slow; run without -short")
	}
	root := filepath.Join(repoRoot(t), "build", "reference", "mobileclip")
	for _, c := range []parityCase{
		{"MobileCLIP-S0", "apple.pt", mobileclip.LayoutApple},
		{"MobileCLIP-S0", "openclip.safetensors", mobileclip.LayoutOpenCLIP},
		{"MobileCLIP-S2", "apple.pt", mobileclip.LayoutApple},
		{"MobileCLIP-S2", "openclip.safetensors", mobileclip.LayoutOpenCLIP},
	} {
		t.Run(c.model+"/"+c.file, func(t *testing.T) {
			dir := filepath.Join(root, c.model)
			if _, err := os.Stat(filepath.Join(dir, c.file)); err != nil {
				t.Skipf("%s not generated; run: PYTHONPATH=<ml-mobileclip source> /root/refenv/bin/python tools/reference/make_mobileclip_fixtures.py --full build/reference/mobileclip", filepath.Join(dir, c.file))
			}
			runParity(t, dir, c)
		})
	}
}
