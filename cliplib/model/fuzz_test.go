package model

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzConfigFile feeds arbitrary bytes to ReadConfigFile as a config.json: it must return an
// error naming the file, or a configuration that validates within the Max* bounds; never
// panic. Seeds: the tiny fixtures' HF and OpenCLIP configs and hostile variants (null, huge layer
// counts, negative epsilon, mean of the wrong length).
//
//	go test ./cliplib/model -run '^$' -fuzz FuzzConfigFile -fuzztime 30s
func FuzzConfigFile(f *testing.F) {
	root := filepath.Join("..", "..", "testdata", "clip", "vit-tiny")
	for _, p := range []string{"hf/config.json", "open_clip_config.json"} {
		if b, err := os.ReadFile(filepath.Join(root, p)); err == nil {
			f.Add(b)
		}
	}
	for _, s := range []string{`null`, `[]`, `{}`, `{"text_config":{"num_hidden_layers":1000000}}`,
		`{"vision_config":{"layer_norm_eps":-1}}`, `{"model_cfg":{"embed_dim":16,"vision_cfg":{"layers":2,"width":32,"image_size":32}},"preprocess_cfg":{"mean":[0.5,0.5]}}`,
		`{"model_cfg":{"embed_dim":16,"vision_cfg":{"layers":[1,1,1,1],"width":64,"image_size":64}}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "config.json")
		os.WriteFile(path, data, 0o644)
		c, err := ReadConfigFile(path)
		if err != nil {
			if !strings.Contains(err.Error(), "config.json") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("ReadConfigFile returned a configuration that does not validate: %v", err)
		}
		if c.Text.Layers > MaxLayers || c.Vision.Layers > MaxLayers || c.Vision.ImageSize > MaxImageSize {
			t.Fatalf("configuration over the bounds: %+v", c)
		}
	})
}
