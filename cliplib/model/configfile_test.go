package model

import (
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
