package model

import (
	"fmt"
	"path/filepath"
	"reflect"
	"runtime"
	"testing"

	"github.com/clipkit/clipkit/cliplib/model/nn"
)

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

func TestReadConfigFile(t *testing.T) {
	root := repoRoot()
	for _, tc := range []struct {
		path string
		want Config
	}{
		{"testdata/clip/vit-tiny/hf/config.json", Config{EmbedDim: 16,
			Vision: VisionConfig{Family: ViT, ImageSize: 32, PatchSize: 8, Width: 32, Layers: 2, Heads: 1, Activation: nn.QuickGELU},
			Text:   TextConfig{Family: TextTransformer, ContextLength: 77, VocabSize: 1000, Width: 32, Layers: 2, Heads: 1, Causal: true, Activation: nn.QuickGELU}}},
		{"testdata/clip/vit-tiny/open_clip_config.json", Config{EmbedDim: 16,
			Vision: VisionConfig{Family: ViT, ImageSize: 32, PatchSize: 8, Width: 32, Layers: 2, Heads: 1, Activation: nn.QuickGELU},
			Text:   TextConfig{Family: TextTransformer, ContextLength: 77, VocabSize: 1000, Width: 32, Layers: 2, Heads: 1, Causal: true, Activation: nn.QuickGELU}}},
		{"testdata/clip/rn-tiny/open_clip_config.json", Config{EmbedDim: 16,
			Vision: VisionConfig{Family: ResNet, ImageSize: 64, StageBlocks: []int{1, 1, 1, 1}, Width: 4, Heads: 2, Activation: nn.ReLU},
			Text:   TextConfig{Family: TextTransformer, ContextLength: 77, VocabSize: 1000, Width: 32, Layers: 2, Heads: 1, Causal: true, Activation: nn.QuickGELU}}},
	} {
		c, err := ReadConfigFile(filepath.Join(root, tc.path))
		if err != nil {
			t.Errorf("%s: %v", tc.path, err)
			continue
		}
		c.Text.LayerNormEps = 0
		if c.EmbedDim != tc.want.EmbedDim || c.Text != tc.want.Text {
			t.Errorf("%s: got %+v / %+v, want %+v / %+v", tc.path, c.EmbedDim, c.Text, tc.want.EmbedDim, tc.want.Text)
		}
		v := c.Vision
		v.LayerNormEps = 0
		if !reflect.DeepEqual(v, tc.want.Vision) {
			t.Errorf("%s: vision %+v, want %+v", tc.path, v, tc.want.Vision)
		}
	}
}

func TestFromHFConfigErrors(t *testing.T) {
	for _, bad := range []string{`{`, `{"model_type":"siglip"}`, `{"text_config":{"hidden_act":"relu"}}`,
		`{"vision_config":{"hidden_size":64,"intermediate_size":100}}`} {
		if _, err := FromHFConfig([]byte(bad)); err == nil {
			t.Errorf("FromHFConfig(%s) accepted", bad)
		}
	}
}

func TestFromHFConfigDefaultsAreViTB32(t *testing.T) {
	c, err := FromHFConfig([]byte(`{"model_type":"clip"}`))
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := Lookup("ViT-B/32")
	c.Name = ref.Name
	c.Vision.LayerNormEps, c.Text.LayerNormEps = 0, 0
	if !reflect.DeepEqual(c.Vision, ref.Vision) || c.Text != ref.Text || c.EmbedDim != ref.EmbedDim {
		t.Errorf("defaults %+v differ from ViT-B/32 %+v", c, ref)
	}
}

func TestInferCLIPMatchesRegistry(t *testing.T) {
	for _, name := range []string{"ViT-B/32", "ViT-L/14@336px", "RN50", "RN50x64"} {
		ref, _ := Lookup(name)
		shapes := registryShapes(ref)
		got, err := InferCLIP(shapes, nn.QuickGELU)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if got.EmbedDim != ref.EmbedDim || got.Text != ref.Text || got.Vision.ImageSize != ref.Vision.ImageSize ||
			got.Vision.Width != ref.Vision.Width || got.Vision.Heads != ref.Vision.Heads || got.Vision.Layers != ref.Vision.Layers {
			t.Errorf("%s: inferred %+v, registry %+v", name, got, ref)
		}
	}
}

// registryShapes lists the tensors InferCLIP looks at, as a real checkpoint of cfg would have them.
func registryShapes(c *Config) Shapes {
	s := Shapes{
		"text_projection":        {c.Text.Width, c.EmbedDim},
		"token_embedding.weight": {c.Text.VocabSize, c.Text.Width},
		"positional_embedding":   {c.Text.ContextLength, c.Text.Width},
		"ln_final.weight":        {c.Text.Width},
	}
	for i := 0; i < c.Text.Layers; i++ {
		s["transformer.resblocks."+itoa(i)+".attn.in_proj_weight"] = []int{3 * c.Text.Width, c.Text.Width}
	}
	v := c.Vision
	if v.Family == ViT {
		g := v.ImageSize / v.PatchSize
		s["visual.proj"] = []int{v.Width, c.EmbedDim}
		s["visual.conv1.weight"] = []int{v.Width, 3, v.PatchSize, v.PatchSize}
		s["visual.positional_embedding"] = []int{g*g + 1, v.Width}
		for i := 0; i < v.Layers; i++ {
			s["visual.transformer.resblocks."+itoa(i)+".attn.in_proj_weight"] = []int{3 * v.Width, v.Width}
		}
	} else {
		g := v.ImageSize / 32
		s["visual.attnpool.positional_embedding"] = []int{g*g + 1, 32 * v.Width}
		for stage, n := range v.StageBlocks {
			for j := 0; j < n; j++ {
				s["visual.layer"+itoa(stage+1)+"."+itoa(j)+".conv1.weight"] = []int{v.Width << stage, 1, 1, 1}
			}
		}
	}
	return s
}

func itoa(i int) string { return fmt.Sprint(i) }
