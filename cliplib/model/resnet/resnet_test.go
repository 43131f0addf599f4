package resnet_test

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/clipkit/clipkit/cliplib/encoder"
	"github.com/clipkit/clipkit/cliplib/model"
	"github.com/clipkit/clipkit/cliplib/model/resnet"
)

// TestFoldedBatchNormMatchesUnfolded proves that folding every conv+BatchNorm pair into one
// convolution (the default at load time) leaves the normalised image features unchanged (≤ 1e-5),
// with non-trivial BatchNorm statistics.
func TestFoldedBatchNormMatchesUnfolded(t *testing.T) {
	cfg, err := model.Lookup("tiny-rn")
	if err != nil {
		t.Fatal(err)
	}
	sd, err := encoder.RandomWeights(cfg, 7)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for name, tensor := range sd {
		switch {
		case strings.HasSuffix(name, ".running_mean"):
			for i := range tensor.Data {
				tensor.Data[i] = float32(rng.NormFloat64() * 0.3)
			}
		case strings.HasSuffix(name, ".running_var"):
			for i := range tensor.Data {
				tensor.Data[i] = float32(0.5 + rng.Float64())
			}
		case strings.Contains(name, "bn") || strings.Contains(name, "downsample.1"):
			for i := range tensor.Data { // BN gains and offsets
				tensor.Data[i] += float32(rng.NormFloat64() * 0.2)
			}
		}
	}
	folded, err := resnet.FoldBatchNorm(sd)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := folded["visual.bn1.running_mean"]; ok {
		t.Fatal("BatchNorm parameters left after folding")
	}
	unfoldedEnc, err := encoder.New(cfg, sd, encoder.Options{Backend: "go"})
	if err != nil {
		t.Fatal(err)
	}
	defer unfoldedEnc.Close()
	foldedCfg := cfg.Clone()
	foldedCfg.Vision.BatchNormFolded = true
	foldedEnc, err := encoder.New(foldedCfg, folded, encoder.Options{Backend: "go"})
	if err != nil {
		t.Fatal(err)
	}
	defer foldedEnc.Close()

	r := cfg.Vision.ImageSize
	n := 2
	pixels := make([]float32, n*3*r*r)
	for i := range pixels {
		pixels[i] = float32(rng.NormFloat64())
	}
	a, err := unfoldedEnc.EncodeImages(pixels, n)
	if err != nil {
		t.Fatal(err)
	}
	b, err := foldedEnc.EncodeImages(pixels, n)
	if err != nil {
		t.Fatal(err)
	}
	worst := 0.0
	for i := range a {
		for j := range a[i] {
			worst = max(worst, math.Abs(float64(a[i][j]-b[i][j])))
		}
	}
	t.Logf("max |folded - unfolded| = %.3g", worst)
	if worst > 1e-5 {
		t.Errorf("folded and unfolded features differ by %g > 1e-5", worst)
	}
}

func TestFoldBatchNormRejectsOrphanBN(t *testing.T) {
	cfg, _ := model.Lookup("tiny-rn")
	sd, _ := encoder.RandomWeights(cfg, 1)
	delete(sd, "visual.conv1.weight")
	if _, err := resnet.FoldBatchNorm(sd); err == nil || !strings.Contains(err.Error(), "visual.bn1") {
		t.Fatalf("want an error naming visual.bn1, got %v", err)
	}
}
