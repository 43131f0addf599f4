package weights

import (
	"encoding/json"
	"strings"
	"testing"
)

// The names the issue requires, exactly.
var requiredNames = []string{
	"RN50", "RN101", "RN50x4", "RN50x16", "RN50x64", "ViT-B/32", "ViT-B/16", "ViT-L/14", "ViT-L/14@336px",
	"ViT-B/32-hf", "ViT-B/16-hf", "ViT-L/14-hf", "ViT-L/14@336px-hf", "openai/clip-vit-base-patch32",
	"ViT-B-32/laion2b_s34b_b79k",
	"MobileCLIP-S0", "MobileCLIP-S1", "MobileCLIP-S2", "MobileCLIP-B", "MobileCLIP-B-LT",
	"MobileCLIP2-S0", "MobileCLIP2-S2", "MobileCLIP2-B", "MobileCLIP2-S3", "MobileCLIP2-S4",
}

func TestRegistryHasEveryRequiredName(t *testing.T) {
	for _, n := range requiredNames {
		if _, err := Lookup(n); err != nil {
			t.Error(err)
		}
	}
}

func TestRegistryPreprocessingFollowsUpstream(t *testing.T) {
	// open_clip's MobileCLIP*.json and ml-mobileclip: MobileCLIP v1 and MobileCLIP2-S0/S2/B use mean 0 / std 1, MobileCLIP2-S3/S4
	// use the OpenAI mean/std (both bilinear). (MobileCLIP2-L-14, a timm ViT-L/14 tower clipkit does
	// not build yet, is not in the registry.)
	want := map[string]string{
		"MobileCLIP-S0": PreprocessMobileCLIP, "MobileCLIP-S1": PreprocessMobileCLIP, "MobileCLIP-S2": PreprocessMobileCLIP,
		"MobileCLIP-B": PreprocessMobileCLIP, "MobileCLIP-B-LT": PreprocessMobileCLIP,
		"MobileCLIP2-S0": PreprocessMobileCLIP, "MobileCLIP2-S2": PreprocessMobileCLIP, "MobileCLIP2-B": PreprocessMobileCLIP,
		"MobileCLIP2-S3": PreprocessMobileCLIP2OpenAI, "MobileCLIP2-S4": PreprocessMobileCLIP2OpenAI,
		"ViT-B/32": PreprocessOpenAI, "ViT-B-32/laion2b_s34b_b79k": PreprocessOpenAI,
	}
	for name, pp := range want {
		e, err := Lookup(name)
		if err != nil {
			t.Fatal(err)
		}
		if e.Preprocess != pp {
			t.Errorf("%s: preprocess %q, want %q", name, e.Preprocess, pp)
		}
	}
}

func TestParseRegistryRejectsMalformedEntries(t *testing.T) {
	good := func() map[string]any {
		return map[string]any{
			"name": "X", "arch": "ViT-B/32", "format": "torchscript", "weights": "ViT-B-32.pt",
			"activation": "quick_gelu", "preprocess": "openai", "image_size": 224, "cite": "test",
			"source": map[string]any{
				"url":    "https://openaipublic.azureedge.net/clip/models/" + strings.Repeat("a", 64) + "/ViT-B-32.pt",
				"sha256": strings.Repeat("a", 64),
			},
		}
	}
	hf := func() map[string]any {
		m := good()
		m["format"], m["weights"], m["config"] = "safetensors-openclip", "w.safetensors", "c.json"
		m["source"] = map[string]any{"hf_repo": "org/repo", "revision": "main", "files": []string{"c.json", "w.safetensors"}}
		return m
	}
	parse := func(models ...map[string]any) error {
		b, _ := json.Marshal(map[string]any{"models": models})
		_, err := parseRegistry(b)
		return err
	}
	if err := parse(good(), func() map[string]any { m := hf(); m["name"] = "Y"; return m }()); err != nil {
		t.Fatalf("good entries rejected: %v", err)
	}
	for _, tc := range []struct {
		name   string
		mutate func(m map[string]any)
	}{
		{"URL segment is not the sha256", func(m map[string]any) { m["source"].(map[string]any)["sha256"] = strings.Repeat("b", 64) }},
		{"sha256 not hex", func(m map[string]any) { m["source"].(map[string]any)["sha256"] = strings.Repeat("z", 64) }},
		{"http URL", func(m map[string]any) {
			m["source"].(map[string]any)["url"] = "http://openaipublic.azureedge.net/clip/models/" + strings.Repeat("a", 64) + "/ViT-B-32.pt"
		}},
		{"weights is not the URL file", func(m map[string]any) { m["weights"] = "other.pt" }},
		{"unknown format", func(m map[string]any) { m["format"] = "onnx" }},
		{"unknown activation", func(m map[string]any) { m["activation"] = "relu" }},
		{"unknown preprocess", func(m map[string]any) { m["preprocess"] = "imagenet" }},
		{"zero image size", func(m map[string]any) { m["image_size"] = 0 }},
		{"no cite", func(m map[string]any) { m["cite"] = "" }},
		{"no arch", func(m map[string]any) { m["arch"] = "" }},
		{"bad name", func(m map[string]any) { m["name"] = " X" }},
		{"unknown field", func(m map[string]any) { m["sha"] = "x" }},
		{"no source", func(m map[string]any) { m["source"] = map[string]any{} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := good()
			tc.mutate(m)
			if err := parse(m); err == nil {
				t.Error("accepted")
			}
		})
	}
	for _, tc := range []struct {
		name   string
		mutate func(m map[string]any)
	}{
		{"weights not in files", func(m map[string]any) { m["weights"] = "x.safetensors" }},
		{"config not in files", func(m map[string]any) { m["config"] = "x.json" }},
		{"bad repo", func(m map[string]any) { m["source"].(map[string]any)["hf_repo"] = "no-slash" }},
		{"no revision", func(m map[string]any) { m["source"].(map[string]any)["revision"] = "" }},
		{"duplicate file", func(m map[string]any) {
			m["source"].(map[string]any)["files"] = []string{"c.json", "w.safetensors", "c.json"}
		}},
		{"escaping file", func(m map[string]any) {
			m["source"].(map[string]any)["files"] = []string{"c.json", "w.safetensors", "../x"}
		}},
		{"URL and repo", func(m map[string]any) { m["source"].(map[string]any)["url"] = "https://example.com/w.safetensors" }},
	} {
		t.Run("hf "+tc.name, func(t *testing.T) {
			m := hf()
			tc.mutate(m)
			if err := parse(m); err == nil {
				t.Error("accepted")
			}
		})
	}
	t.Run("duplicate names", func(t *testing.T) {
		if err := parse(good(), good()); err == nil || !strings.Contains(err.Error(), "used by both") {
			t.Errorf("got %v", err)
		}
	})
	t.Run("alias colliding with a name", func(t *testing.T) {
		m := hf()
		m["name"], m["aliases"] = "Y", []string{"X"}
		if err := parse(good(), m); err == nil {
			t.Error("accepted")
		}
	})
}

func TestLookupAcceptsAliasesAndSuggestsNames(t *testing.T) {
	e, err := Lookup("openai/clip-vit-large-patch14")
	if err != nil || e.Name != "ViT-L/14-hf" {
		t.Fatalf("alias: %+v, %v", e.Name, err)
	}
	_, err = Lookup("vit-b-32")
	if err == nil || !strings.Contains(err.Error(), "did you mean") || !strings.Contains(err.Error(), "ViT-B/32") {
		t.Errorf("error %v should suggest ViT-B/32", err)
	}
	if _, err := Lookup("nonsense-model"); err == nil || strings.Contains(err.Error(), "did you mean") {
		t.Errorf("error %v", err)
	}
}

func TestListReturnsCopies(t *testing.T) {
	l := List()
	l[0].Name = "changed"
	l[0].Source.Files = append(l[0].Source.Files, "x")
	if List()[0].Name == "changed" {
		t.Error("List exposes the registry")
	}
}
