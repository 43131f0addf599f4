package mobileclip_test

import (
	"strings"
	"testing"

	"github.com/clipkit/clipkit/cliplib/encoder"
	"github.com/clipkit/clipkit/cliplib/model"
	"github.com/clipkit/clipkit/cliplib/model/mobileclip"
	"github.com/clipkit/clipkit/cliplib/model/nn"
)

// inferenceParams counts the parameters of the folded form, without BatchNorm running
// statistics (the counting rule of the published MobileCLIP sizes).
func inferenceParams(sh nn.Shapes, prefix string) int {
	n := 0
	for name, dims := range sh {
		if !strings.HasPrefix(name, prefix) || strings.HasSuffix(name, ".running_mean") || strings.HasSuffix(name, ".running_var") {
			continue
		}
		p := 1
		for _, d := range dims {
			p *= d
		}
		n += p
	}
	return n
}

// TestTowerSizesMatchPublished checks every tower's parameter count (inference form) against the
// sizes Apple publishes (README: 11.4, 21.5, 35.7, 125.1, 321.6 M for mci0..4, 86.3 M for the B
// image tower, 42.4 M for the S0 text tower, 63.4 / 123.6 M for the base text towers), to the
// counts below, truncated to thousands (which match them to the printed digits).
func TestTowerSizesMatchPublished(t *testing.T) {
	cases := []struct {
		model  string
		prefix string
		want   int // parameter count truncated to thousands
	}{
		{"MobileCLIP-S0", "visual.", 11_357_000},
		{"MobileCLIP-S1", "visual.", 21_461_000},
		{"MobileCLIP-S2", "visual.", 35_702_000},
		{"MobileCLIP2-S3", "visual.", 125_074_000},
		{"MobileCLIP2-S4", "visual.", 321_569_000},
		{"MobileCLIP-B", "visual.", 86_349_000},
		{"MobileCLIP-S0", "text.", 42_435_000},
		{"MobileCLIP-S2", "text.", 63_428_000},
		{"MobileCLIP2-S3", "text.", 123_650_000},
	}
	for _, c := range cases {
		cfg, err := model.Lookup(c.model)
		if err != nil {
			t.Fatal(err)
		}
		sh, err := encoder.ParamShapes(cfg)
		if err != nil {
			t.Fatal(err)
		}
		got := inferenceParams(sh, c.prefix)
		// The expected counts are truncated to thousands.
		if got/1000*1000 != c.want {
			t.Errorf("%s %s tower: %d parameters, published %.3f M", c.model, strings.TrimSuffix(c.prefix, "."), got, float64(c.want)/1e6)
		}
	}
}

// TestRegistryMobileCLIP checks the per-model choices the registry makes for the caller:
// preprocessing, causal masking, text layout.
func TestRegistryMobileCLIP(t *testing.T) {
	for _, name := range []string{"MobileCLIP-S0", "MobileCLIP-S1", "MobileCLIP-S2", "MobileCLIP-B", "MobileCLIP-B-LT",
		"MobileCLIP2-S0", "MobileCLIP2-S2", "MobileCLIP2-B", "MobileCLIP2-S3", "MobileCLIP2-S4"} {
		cfg, err := model.Lookup(name)
		if err != nil {
			t.Fatal(err)
		}
		isB := strings.HasSuffix(name, "-B") || strings.HasSuffix(name, "-B-LT")
		pre := cfg.PreprocessOrDefault()
		wantPre := model.MobileCLIPPreprocess
		if strings.HasSuffix(name, "S3") || strings.HasSuffix(name, "S4") {
			wantPre = model.MobileCLIP2Preprocess
		}
		if pre != wantPre || pre.Interpolation != "bilinear" {
			t.Errorf("%s: preprocessing %+v, want %+v", name, pre, wantPre)
		}
		if cfg.Text.Causal != isB {
			t.Errorf("%s: causal text %v, want %v", name, cfg.Text.Causal, isB)
		}
		if !cfg.CustomText || cfg.Text.Activation != nn.GELU || cfg.Vision.Activation != nn.GELU {
			t.Errorf("%s: want CustomText and GELU towers, got %v, %q, %q", name, cfg.CustomText, cfg.Text.Activation, cfg.Vision.Activation)
		}
		if !mobileclip.IsMobileCLIP(cfg) {
			t.Errorf("%s: IsMobileCLIP is false", name)
		}
	}
	b1, _ := model.Lookup("MobileCLIP-B")
	b2, _ := model.Lookup("MobileCLIP2-B")
	if b1.Vision.StemPadding != 1 || b1.Vision.Eps() != 1e-5 || b2.Vision.StemPadding != 0 || b2.Vision.Eps() != 1e-6 {
		t.Errorf("B stems: v1 padding %d eps %g (want 1, 1e-5), v2 padding %d eps %g (want 0, 1e-6)",
			b1.Vision.StemPadding, b1.Vision.Eps(), b2.Vision.StemPadding, b2.Vision.Eps())
	}
}

func TestErrorsAreReturnedNotPanicked(t *testing.T) {
	s0, err := model.Lookup("MobileCLIP-test-S0")
	if err != nil {
		t.Fatal(err)
	}
	t.Run("unknown MCi variant", func(t *testing.T) {
		cfg := s0.Clone()
		cfg.Vision.Variant = "mci9"
		_, err := encoder.New(cfg, nil, encoder.Options{Backend: "go"})
		if err == nil || !strings.Contains(err.Error(), `unknown MCi variant "mci9"`) {
			t.Fatalf("want an unknown-variant error, got %v", err)
		}
		if _, err := mobileclip.Reparameterize(cfg, nil); err == nil {
			t.Fatal("Reparameterize accepted an unknown variant")
		}
	})
	t.Run("missing train-time branch", func(t *testing.T) {
		sd := trainTimeWeights(t, s0, 1)
		const gone = "visual.trunk.stages.1.blocks.0.token_mixer.mixer.conv_scale.bn.running_var"
		if _, ok := sd[gone]; !ok {
			t.Fatalf("test weights have no %s", gone)
		}
		delete(sd, gone)
		_, err := mobileclip.Reparameterize(s0, sd)
		if err == nil || !strings.Contains(err.Error(), gone) {
			t.Fatalf("want an error naming %s, got %v", gone, err)
		}
	})
	t.Run("mis-shaped branch", func(t *testing.T) {
		sd := trainTimeWeights(t, s0, 1)
		const name = "visual.trunk.stem.0.conv_kxk.0.conv.weight"
		sd[name].Shape = []int{sd[name].Shape[0], 3, 9, 1}
		_, err := mobileclip.Reparameterize(s0, sd)
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Fatalf("want an error naming %s, got %v", name, err)
		}
	})
	t.Run("train-time weights on the folded graph", func(t *testing.T) {
		sd := trainTimeWeights(t, s0, 1)
		_, err := encoder.New(s0, sd, encoder.Options{Backend: "go"})
		if err == nil || !strings.Contains(err.Error(), "reparam_conv") {
			t.Fatalf("want an error listing the missing reparam_conv tensors, got %v", err)
		}
	})
	t.Run("not a MobileCLIP model", func(t *testing.T) {
		cfg, _ := model.Lookup("ViT-B/32")
		if _, _, err := mobileclip.PrepareWeights(cfg, nil); err == nil {
			t.Fatal("PrepareWeights accepted ViT-B/32")
		}
	})
	t.Run("short text on a non-causal tower", func(t *testing.T) {
		sd, err := encoder.RandomWeights(s0, 1)
		if err != nil {
			t.Fatal(err)
		}
		e, err := encoder.New(s0, sd, encoder.Options{Backend: "go"})
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close()
		if _, err := e.EncodeTokens([][]int32{{498, 5, 499}}); err == nil {
			t.Fatal("a 3-token sequence was accepted")
		}
	})
}

func TestLookupMCi(t *testing.T) {
	for _, name := range []string{"mci0", "mci1", "mci2", "mci3", "mci4", "mci-test", "mci-test5"} {
		if _, err := mobileclip.LookupMCi(name); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	c, _ := mobileclip.LookupMCi("mci0")
	c.Widths[0] = 999 // a copy: the registry must not change
	if again, _ := mobileclip.LookupMCi("mci0"); again.Widths[0] != 64 {
		t.Fatal("LookupMCi returned shared slices")
	}
	bad := []func(*mobileclip.MCiConfig){
		func(c *mobileclip.MCiConfig) { c.Widths = c.Widths[:3] },
		func(c *mobileclip.MCiConfig) { c.Widths[3] = 500 }, // attention width not a multiple of 32
		func(c *mobileclip.MCiConfig) { c.Mixers[1] = "pooling" },
		func(c *mobileclip.MCiConfig) { c.AttentionNorm = "groupnorm" },
		func(c *mobileclip.MCiConfig) { c.ConvFFNKernel = 4 },
	}
	for i, mutate := range bad {
		c, _ := mobileclip.LookupMCi("mci0")
		mutate(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("invalid layout %d accepted", i)
		}
	}
}
