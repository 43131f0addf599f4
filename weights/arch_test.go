package weights_test

import (
	"net/url"
	"path"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/clipkit/clipkit/cliplib/model"
	_ "github.com/clipkit/clipkit/cliplib/model/families"
	"github.com/clipkit/clipkit/weights"
)

// The architectures are registered by their tower families, which import this package: tests
// that look them up are in package weights_test and link every family in.

func TestRegistryEntriesAgreeWithArchitecturesAndSources(t *testing.T) {
	listed := regexp.MustCompile(`^[0-9]+(\.[0-9]+)? (kB|MB|GB)$`)
	archs := model.Names()
	for _, e := range weights.List() {
		t.Run(e.Name, func(t *testing.T) {
			if err := weights.ValidateEntry(&e); err != nil {
				t.Fatal(err)
			}
			if e.ListedSize != "" && !listed.MatchString(e.ListedSize) {
				t.Errorf("listed_size %q is not like \"605 MB\"", e.ListedSize)
			}
			if slices.Contains(archs, e.Arch) {
				cfg, err := model.Lookup(e.Arch)
				if err != nil {
					t.Fatal(err)
				}
				if cfg.Vision.ImageSize != e.ImageSize {
					t.Errorf("image_size %d, but architecture %s takes %d", e.ImageSize, e.Arch, cfg.Vision.ImageSize)
				}
			} else if strings.HasPrefix(e.Name, "MobileCLIP") {
				if e.Arch != e.Name {
					t.Errorf("MobileCLIP arch %q should be the entry name", e.Arch)
				}
			} else {
				t.Errorf("arch %q is neither a registered architecture nor a MobileCLIP entry", e.Arch)
			}
			openAIWeights := e.Format == weights.FormatTorchScript || strings.HasSuffix(e.Name, "/openai") || strings.HasSuffix(e.Name, "-hf")
			if openAIWeights && e.Activation != weights.ActivationQuickGELU {
				t.Errorf("OpenAI weights need quick_gelu, have %q", e.Activation)
			}
			if strings.HasPrefix(e.Name, "MobileCLIP") && e.Activation != weights.ActivationGELU {
				t.Errorf("MobileCLIP uses GELU, have %q", e.Activation)
			}
			switch e.Format {
			case weights.FormatTorchScript:
				u, _ := url.Parse(e.Source.URL)
				if u.Host != "openaipublic.azureedge.net" || e.Source.SHA256 == "" || e.Preprocess != weights.PreprocessOpenAI {
					t.Errorf("OpenAI original with host %q, sha256 %q, preprocess %q", u.Host, e.Source.SHA256, e.Preprocess)
				}
				if want := strings.NewReplacer("/", "-", "@", "-").Replace(e.Name) + ".pt"; path.Base(u.Path) != want {
					t.Errorf("file %q, want %q (clip.py's naming)", path.Base(u.Path), want)
				}
			case weights.FormatSafetensorsHF:
				if !strings.HasPrefix(e.Source.HFRepo, "openai/clip-vit-") || e.Weights != "model.safetensors" || e.Config != "config.json" {
					t.Errorf("HF transformers entry with repo %q, weights %q, config %q", e.Source.HFRepo, e.Weights, e.Config)
				}
			case weights.FormatSafetensorsOpenCLIP:
				if e.Weights != "open_clip_model.safetensors" || e.Config != "open_clip_config.json" {
					t.Errorf("open_clip entry with weights %q, config %q", e.Weights, e.Config)
				}
			case weights.FormatTorchZipMobileCLIP:
				if !strings.HasPrefix(e.Source.HFRepo, "apple/MobileCLIP-") || !strings.HasSuffix(e.Weights, ".pt") {
					t.Errorf("MobileCLIP original with repo %q, weights %q", e.Source.HFRepo, e.Weights)
				}
			}
			// MobileCLIP preprocessing: 224 for the ViT-B image towers, 256 for the MCi towers.
			if strings.HasPrefix(e.Name, "MobileCLIP") && e.Name != "MobileCLIP2-L-14" {
				want := 256
				if strings.Contains(e.Name, "-B") {
					want = 224
				}
				if e.ImageSize != want {
					t.Errorf("image_size %d, want %d", e.ImageSize, want)
				}
			}
		})
	}
}
