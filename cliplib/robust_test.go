package cliplib

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clipkit/clipkit/cliplib/checkpoint"
	"github.com/clipkit/clipkit/cliplib/internal/testutil"
)

// modelDir copies a tiny model directory (weights file and config) into a temporary folder,
// with the config replaced by edit's result.
func modelDir(t *testing.T, weightsFile, configFile string, edit func(cfg map[string]any) any) string {
	t.Helper()
	src := filepath.Join("..", "testdata", "clip", "vit-tiny")
	dir := t.TempDir()
	w, err := os.ReadFile(filepath.Join(src, weightsFile))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, filepath.Base(weightsFile)), w, 0o644)
	raw, err := os.ReadFile(filepath.Join(src, configFile))
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := json.Unmarshal(raw, &cfg); err != nil {
		t.Fatal(err)
	}
	out, _ := json.Marshal(edit(cfg))
	os.WriteFile(filepath.Join(dir, filepath.Base(configFile)), out, 0o644)
	return dir
}

func sub(m map[string]any, keys ...string) map[string]any {
	for _, k := range keys {
		m = m[k].(map[string]any)
	}
	return m
}

// TestLoadRefusesConfigsThatDisagreeWithTheCheckpoint: every size a config file states is
// bounded and compared with the checkpoint's tensors before anything is built, and malformed
// values are refused naming the file (before, num_hidden_layers 1000000 ran for about a minute
// and gigabytes before failing, wrong-length mean/std fell back to the defaults, a negative
// layer_norm_eps was accepted and a null config took the default shapes).
func TestLoadRefusesConfigsThatDisagreeWithTheCheckpoint(t *testing.T) {
	hf := func(edit func(m map[string]any)) func(map[string]any) any {
		return func(m map[string]any) any { edit(m); return m }
	}
	for _, tc := range []struct {
		name, weights, config string
		edit                  func(map[string]any) any
		want                  []string
	}{
		{"hf text layers 1e6", "hf/model.safetensors", "hf/config.json",
			hf(func(m map[string]any) { sub(m, "text_config")["num_hidden_layers"] = 1000000 }), []string{"config.json", "text layers is 1000000"}},
		{"hf vision layers 3 of 2", "hf/model.safetensors", "hf/config.json",
			hf(func(m map[string]any) { sub(m, "vision_config")["num_hidden_layers"] = 3 }), []string{"vision layers is 3", "have 2"}},
		{"hf projection dim", "hf/model.safetensors", "hf/config.json",
			hf(func(m map[string]any) { m["projection_dim"] = 4096 }), []string{"embed dim is 4096", "text_projection"}},
		{"hf vocab", "hf/model.safetensors", "hf/config.json",
			hf(func(m map[string]any) { sub(m, "text_config")["vocab_size"] = 2000000 }), []string{"text vocab size is 2000000"}},
		{"hf negative eps", "hf/model.safetensors", "hf/config.json",
			hf(func(m map[string]any) { sub(m, "vision_config")["layer_norm_eps"] = -1 }), []string{"layer_norm_eps is -1"}},
		{"hf null", "hf/model.safetensors", "hf/config.json",
			func(map[string]any) any { return nil }, []string{"config.json", "want a JSON object"}},
		{"hf array", "hf/model.safetensors", "hf/config.json",
			func(map[string]any) any { return []int{1} }, []string{"config.json"}},
		{"open_clip mean of 2", "open_clip_model.safetensors", "open_clip_config.json",
			hf(func(m map[string]any) { sub(m, "preprocess_cfg")["mean"] = []float64{0.5, 0.5} }), []string{"open_clip_config.json", "mean", "3 values"}},
		{"open_clip std of 4", "open_clip_model.safetensors", "open_clip_config.json",
			hf(func(m map[string]any) { sub(m, "preprocess_cfg")["std"] = []float64{1, 1, 1, 1} }), []string{"std", "3 values"}},
		{"open_clip zero std", "open_clip_model.safetensors", "open_clip_config.json",
			hf(func(m map[string]any) { sub(m, "preprocess_cfg")["std"] = []float64{1, 0, 1} }), []string{"positive finite stds"}},
		{"open_clip interpolation", "open_clip_model.safetensors", "open_clip_config.json",
			hf(func(m map[string]any) { sub(m, "preprocess_cfg")["interpolation"] = "lanczos" }), []string{"lanczos"}},
		{"open_clip text width", "open_clip_model.safetensors", "open_clip_config.json",
			hf(func(m map[string]any) { sub(m, "model_cfg", "text_cfg")["width"] = 64 }), []string{"text width is 64", "have 32"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := modelDir(t, tc.weights, tc.config, tc.edit)
			start := time.Now()
			m, err := Load(dir, Options{Backend: testutil.BackendConfig()})
			if err == nil {
				m.Close()
				t.Fatal("loaded")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("took %v to refuse", d)
			}
		})
	}
	// The unedited files still load.
	for _, f := range [][2]string{{"hf/model.safetensors", "hf/config.json"}, {"open_clip_model.safetensors", "open_clip_config.json"}} {
		m, err := Load(modelDir(t, f[0], f[1], func(m map[string]any) any { return m }), Options{Backend: testutil.BackendConfig()})
		if err != nil {
			t.Fatalf("%s: %v", f[1], err)
		}
		m.Close()
	}
}

// TestLoadNamesTheTensorWithNonFiniteWeights: a checkpoint holding a NaN or an infinity is
// refused at load, naming the file and the tensor (before, embed printed a bare
// "json: unsupported value: NaN").
func TestLoadNamesTheTensorWithNonFiniteWeights(t *testing.T) {
	src := filepath.Join("..", "testdata", "clip", "vit-tiny", "hf")
	for _, tc := range []struct {
		name   string
		tensor string // HF name
		value  float32
	}{
		{"NaN", "text_projection.weight", float32(math.NaN())},
		{"+Inf", "vision_model.post_layernorm.bias", float32(math.Inf(1))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sd, err := checkpoint.ReadSafetensors(filepath.Join(src, "model.safetensors"))
			if err != nil {
				t.Fatal(err)
			}
			w, ok := sd[tc.tensor]
			if !ok {
				t.Fatalf("fixture has no tensor %s", tc.tensor)
			}
			w.Data[len(w.Data)-1] = tc.value
			dir := t.TempDir()
			if err := checkpoint.WriteSafetensors(filepath.Join(dir, "model.safetensors"), sd, checkpoint.F32); err != nil {
				t.Fatal(err)
			}
			cfg, _ := os.ReadFile(filepath.Join(src, "config.json"))
			os.WriteFile(filepath.Join(dir, "config.json"), cfg, 0o644)
			_, err = Load(dir, Options{Backend: testutil.BackendConfig()})
			if err == nil || !strings.Contains(err.Error(), tc.tensor) || !strings.Contains(err.Error(), "model.safetensors") ||
				!strings.Contains(err.Error(), "non-finite") {
				t.Fatalf("error %v, want one naming the file and tensor %s", err, tc.tensor)
			}
		})
	}
}

// TestLoadWithoutWeightsSuggestsRandomWeights: when trained weights cannot be fetched (here:
// offline with an empty cache), the error says how to get them and how to run without them.
func TestLoadWithoutWeightsSuggestsRandomWeights(t *testing.T) {
	t.Setenv("CLIPKIT_CACHE", t.TempDir())
	_, err := Load("ViT-B/32", Options{Offline: true, Backend: testutil.BackendConfig()})
	if err == nil || !strings.Contains(err.Error(), "--random-weights") || !strings.Contains(err.Error(), "clipx weights fetch ViT-B/32") {
		t.Fatalf("error %v, want one suggesting --random-weights and clipx weights fetch", err)
	}
}
