package mobileclip_test

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/clipkit/clipkit/cliplib/checkpoint"
	"github.com/clipkit/clipkit/cliplib/encoder"
	"github.com/clipkit/clipkit/cliplib/model"
	"github.com/clipkit/clipkit/cliplib/model/mobileclip"
)

// trainTimeWeights returns random train-time (unfolded) weights for cfg with non-trivial
// BatchNorm statistics and layer scales, so that every branch of every re-parameterisable block
// contributes to the output.
func trainTimeWeights(t *testing.T, cfg *model.Config, seed uint64) checkpoint.StateDict {
	t.Helper()
	c := cfg.Clone()
	c.Unfolded = true
	sd, err := encoder.RandomWeights(c, seed)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(seed, 7))
	uniform := func(lo, hi float64) float32 { return float32(lo + (hi-lo)*rng.Float64()) }
	for name, tensor := range sd {
		leaf := name[strings.LastIndexByte(name, '.')+1:]
		isBN := strings.HasSuffix(name, ".bn."+leaf) || strings.Contains(name, ".identity.") ||
			strings.HasSuffix(name, ".norm."+leaf) && sd[strings.TrimSuffix(name, leaf)+"running_var"] != nil
		for i := range tensor.Data {
			switch {
			case leaf == "running_mean":
				tensor.Data[i] = float32(rng.NormFloat64() * 0.5)
			case leaf == "running_var":
				tensor.Data[i] = uniform(0.5, 2)
			case isBN && leaf == "weight":
				tensor.Data[i] = uniform(0.5, 1.5)
			case isBN && leaf == "bias":
				tensor.Data[i] = float32(rng.NormFloat64() * 0.2)
			case leaf == "gamma":
				tensor.Data[i] = uniform(0.2, 0.8)
			}
		}
	}
	return sd
}

func testPixels(n, r int) []float32 {
	px := make([]float32, n*3*r*r)
	for i := range px {
		px[i] = float32(0.5 + 0.5*math.Sin(float64(i)*0.61+float64(i/(r*r))))
	}
	return px
}

func testTokens(vocab, n int) [][]int32 {
	rows := make([][]int32, n)
	for i := range rows {
		row := make([]int32, model.ContextLength)
		length := 4 + 9*i
		row[0] = int32(vocab - 2)
		for j := 1; j < length-1; j++ {
			row[j] = int32((37*j + 11*i) % (vocab - 2))
		}
		row[length-1] = int32(vocab - 1)
		rows[i] = row
	}
	return rows
}

func maxAbsDiff(a, b [][]float32) float64 {
	d := 0.0
	for i := range a {
		for j := range a[i] {
			d = math.Max(d, math.Abs(float64(a[i][j]-b[i][j])))
		}
	}
	return d
}

func encodeBoth(t *testing.T, cfg *model.Config, sd checkpoint.StateDict, pixels []float32, n int, ids [][]int32) (img, txt [][]float32) {
	t.Helper()
	e, err := encoder.New(cfg, sd, encoder.Options{Backend: "go"})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if img, err = e.EncodeImages(pixels, n); err != nil {
		t.Fatal(err)
	}
	if txt, err = e.EncodeTokens(ids); err != nil {
		t.Fatal(err)
	}
	return img, txt
}

// TestReparameterizeMatchesTrainTimeGraph checks that the folded graph on Reparameterize's
// weights computes what the train-time, branch-by-branch graph computes on the original weights,
// for every re-parameterisable block type (MobileOne with and without scale branch, RepMixer 3×3
// and 1×11, RepCPE, large-kernel downsampling with and without SE, the grouped final conv).
func TestReparameterizeMatchesTrainTimeGraph(t *testing.T) {
	for _, name := range []string{"MobileCLIP-test-S0", "MobileCLIP2-test-S3"} {
		t.Run(name, func(t *testing.T) {
			cfg, err := model.Lookup(name)
			if err != nil {
				t.Fatal(err)
			}
			train := trainTimeWeights(t, cfg, 3)
			folded, err := mobileclip.Reparameterize(cfg, train)
			if err != nil {
				t.Fatal(err)
			}
			if len(folded) >= len(train) {
				t.Fatalf("folding kept %d of %d tensors: nothing was folded", len(folded), len(train))
			}
			unf := cfg.Clone()
			unf.Unfolded = true
			const n = 2
			r := cfg.Vision.ImageSize
			px, ids := testPixels(n, r), testTokens(cfg.Text.VocabSize, 3)
			imgTrain, txtTrain := encodeBoth(t, unf, train, px, n, ids)
			imgFolded, txtFolded := encodeBoth(t, cfg, folded, px, n, ids)
			if d := maxAbsDiff(imgTrain, imgFolded); d > 1e-5 {
				t.Errorf("image features: max |folded - train-time| = %g > 1e-5", d)
			}
			if d := maxAbsDiff(txtTrain, txtFolded); d > 1e-5 {
				t.Errorf("text features: max |folded - train-time| = %g > 1e-5", d)
			}
		})
	}
}
