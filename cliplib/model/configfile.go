package model

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"

	"github.com/clipkit/clipkit/cliplib/model/nn"
)

// hfTower is the subset of transformers' CLIPTextConfig / CLIPVisionConfig we read.
type hfTower struct {
	HiddenSize            *int     `json:"hidden_size"`
	IntermediateSize      *int     `json:"intermediate_size"`
	NumHiddenLayers       *int     `json:"num_hidden_layers"`
	NumAttentionHeads     *int     `json:"num_attention_heads"`
	MaxPositionEmbeddings *int     `json:"max_position_embeddings"`
	VocabSize             *int     `json:"vocab_size"`
	ImageSize             *int     `json:"image_size"`
	PatchSize             *int     `json:"patch_size"`
	HiddenAct             *string  `json:"hidden_act"`
	LayerNormEps          *float64 `json:"layer_norm_eps"`
}

type hfConfig struct {
	Architectures []string `json:"architectures"`
	ModelType     string   `json:"model_type"`
	ProjectionDim *int     `json:"projection_dim"`
	TextConfig    hfTower  `json:"text_config"`
	VisionConfig  hfTower  `json:"vision_config"`
}

func or[T any](p *T, def T) T {
	if p == nil {
		return def
	}
	return *p
}

func activation(name string) (nn.Activation, error) {
	switch name {
	case "quick_gelu":
		return nn.QuickGELU, nil
	case "gelu":
		return nn.GELU, nil
	}
	return "", fmt.Errorf("unsupported hidden_act %q (want quick_gelu or gelu)", name)
}

// FromHFConfig parses a transformers CLIPModel config.json. Absent fields take transformers'
// defaults (ViT-B/32 vision, 512-wide text tower, quick_gelu), as transformers itself does.
func FromHFConfig(data []byte) (*Config, error) {
	if err := requireObject(data); err != nil {
		return nil, fmt.Errorf("HF config.json: %w", err)
	}
	var h hfConfig
	if err := json.Unmarshal(data, &h); err != nil {
		return nil, fmt.Errorf("HF config.json: %w", err)
	}
	if h.ModelType != "" && h.ModelType != "clip" {
		return nil, fmt.Errorf("HF config.json: model_type %q is not \"clip\"", h.ModelType)
	}
	t, v := h.TextConfig, h.VisionConfig
	tact, err := activation(or(t.HiddenAct, "quick_gelu"))
	if err != nil {
		return nil, fmt.Errorf("HF config.json text_config: %w", err)
	}
	vact, err := activation(or(v.HiddenAct, "quick_gelu"))
	if err != nil {
		return nil, fmt.Errorf("HF config.json vision_config: %w", err)
	}
	tw, vw := or(t.HiddenSize, 512), or(v.HiddenSize, 768)
	if i := or(t.IntermediateSize, 4*tw); i != 4*tw {
		return nil, fmt.Errorf("HF config.json: text intermediate_size %d is not 4×hidden_size (%d)", i, 4*tw)
	}
	if i := or(v.IntermediateSize, 4*vw); i != 4*vw {
		return nil, fmt.Errorf("HF config.json: vision intermediate_size %d is not 4×hidden_size (%d)", i, 4*vw)
	}
	c := &Config{Name: "hf", EmbedDim: or(h.ProjectionDim, 512),
		Vision: VisionConfig{Family: ViT, ImageSize: or(v.ImageSize, 224), PatchSize: or(v.PatchSize, 32), Width: vw,
			Layers: or(v.NumHiddenLayers, 12), Heads: or(v.NumAttentionHeads, 12), Activation: vact,
			LayerNormEps: or(v.LayerNormEps, 1e-5)},
		Text: TextConfig{Family: TextTransformer, ContextLength: or(t.MaxPositionEmbeddings, 77),
			VocabSize: or(t.VocabSize, VocabSize), Width: tw, Layers: or(t.NumHiddenLayers, 12),
			Heads: or(t.NumAttentionHeads, 8), Causal: true, Activation: tact, LayerNormEps: or(t.LayerNormEps, 1e-5)},
	}
	return c, c.Validate()
}

// openCLIPConfig is the subset of an OpenCLIP hub open_clip_config.json we read.
type openCLIPConfig struct {
	ModelCfg struct {
		EmbedDim  int  `json:"embed_dim"`
		QuickGELU bool `json:"quick_gelu"`
		VisionCfg struct {
			ImageSize     int             `json:"image_size"`
			Layers        json.RawMessage `json:"layers"` // int (ViT) or [4]int (ResNet)
			Width         int             `json:"width"`
			PatchSize     *int            `json:"patch_size"`
			HeadWidth     *int            `json:"head_width"`
			TimmModelName string          `json:"timm_model_name"`
		} `json:"vision_cfg"`
		TextCfg struct {
			ContextLength *int `json:"context_length"`
			VocabSize     *int `json:"vocab_size"`
			Width         *int `json:"width"`
			Heads         *int `json:"heads"`
			Layers        *int `json:"layers"`
			NoCausalMask  bool `json:"no_causal_mask"`
			HFModelName   *any `json:"hf_model_name"`
		} `json:"text_cfg"`
		CustomText bool `json:"custom_text"`
	} `json:"model_cfg"`
	PreprocessCfg struct {
		Mean          []float32 `json:"mean"`
		Std           []float32 `json:"std"`
		Interpolation string    `json:"interpolation"`
	} `json:"preprocess_cfg"`
}

// FromOpenCLIPConfig parses an OpenCLIP hub open_clip_config.json for a CLIP-class model (ViT or
// ModifiedResNet image tower, CLIP text transformer). Absent text fields take open_clip's
// defaults. The activation is QuickGELU when quick_gelu is true, GELU otherwise (open_clip's rule;
// OpenAI weights need QuickGELU — the weights registry says so for its entries).
func FromOpenCLIPConfig(data []byte) (*Config, error) {
	if err := requireObject(data); err != nil {
		return nil, fmt.Errorf("open_clip_config.json: %w", err)
	}
	var o openCLIPConfig
	if err := json.Unmarshal(data, &o); err != nil {
		return nil, fmt.Errorf("open_clip_config.json: %w", err)
	}
	m := o.ModelCfg
	if m.VisionCfg.TimmModelName != "" || m.CustomText || m.TextCfg.HFModelName != nil {
		return nil, fmt.Errorf("open_clip_config.json describes a timm or custom-text model (timm_model_name %q, custom_text %v): "+
			"load it by its registry name (e.g. MobileCLIP-S2) so its architecture is known", m.VisionCfg.TimmModelName, m.CustomText)
	}
	act := nn.GELU
	if m.QuickGELU {
		act = nn.QuickGELU
	}
	tw := or(m.TextCfg.Width, 512)
	c := &Config{Name: "open_clip", EmbedDim: m.EmbedDim,
		Text: TextConfig{Family: TextTransformer, ContextLength: or(m.TextCfg.ContextLength, 77),
			VocabSize: or(m.TextCfg.VocabSize, VocabSize), Width: tw, Layers: or(m.TextCfg.Layers, 12),
			Heads: or(m.TextCfg.Heads, 8), Causal: !m.TextCfg.NoCausalMask, Activation: act}}
	v := m.VisionCfg
	var layers int
	var stages []int
	if err := json.Unmarshal(v.Layers, &layers); err != nil {
		if err2 := json.Unmarshal(v.Layers, &stages); err2 != nil || len(stages) != 4 {
			return nil, fmt.Errorf("open_clip_config.json: vision_cfg.layers %s is neither an int nor 4 stage counts", v.Layers)
		}
	}
	if stages != nil {
		headWidth := or(v.HeadWidth, 64)
		c.Vision = VisionConfig{Family: ResNet, ImageSize: v.ImageSize, StageBlocks: stages, Width: v.Width,
			Heads: max(v.Width*32/headWidth, 1), Activation: nn.ReLU}
	} else {
		headWidth := or(v.HeadWidth, 64)
		c.Vision = VisionConfig{Family: ViT, ImageSize: v.ImageSize, PatchSize: or(v.PatchSize, 16), Width: v.Width,
			Layers: layers, Heads: max(v.Width/headWidth, 1), Activation: act}
	}
	p := o.PreprocessCfg
	if len(p.Mean) != 0 && len(p.Mean) != 3 || len(p.Std) != 0 && len(p.Std) != 3 || (len(p.Mean) == 0) != (len(p.Std) == 0) {
		return nil, fmt.Errorf("open_clip_config.json: preprocess_cfg mean %v and std %v must both be 3 values (R, G, B) or both be absent",
			p.Mean, p.Std)
	}
	switch p.Interpolation {
	case "", "bicubic", "bilinear":
	default:
		return nil, fmt.Errorf("open_clip_config.json: preprocess_cfg interpolation %q is not bicubic or bilinear", p.Interpolation)
	}
	if len(p.Mean) == 3 {
		c.Preprocess = Preprocess{Interpolation: p.Interpolation}
		if c.Preprocess.Interpolation == "" {
			c.Preprocess.Interpolation = "bicubic"
		}
		copy(c.Preprocess.Mean[:], p.Mean)
		copy(c.Preprocess.Std[:], p.Std)
	}
	return c, c.Validate()
}

// maxConfigBytes bounds a config file (real ones are a few kilobytes).
const maxConfigBytes = 1 << 20

// requireObject returns an error unless data is a JSON object (not null, an array, a number...).
func requireObject(data []byte) error {
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(data, &probe); err != nil {
		return err
	}
	if probe == nil {
		return fmt.Errorf("want a JSON object, got %.20q", bytes.TrimSpace(data))
	}
	return nil
}

// ReadConfigFile reads an HF config.json or an open_clip_config.json, telling them apart by content.
func ReadConfigFile(path string) (*Config, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() || st.Size() > maxConfigBytes {
		return nil, fmt.Errorf("%s: want a regular file of at most %d bytes (%s, %d bytes)", path, maxConfigBytes, st.Mode().Type(), st.Size())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(data, &probe); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if probe == nil {
		return nil, fmt.Errorf("%s: want a JSON object, got %.20q", path, bytes.TrimSpace(data))
	}
	var c *Config
	if _, ok := probe["model_cfg"]; ok {
		c, err = FromOpenCLIPConfig(data)
	} else {
		c, err = FromHFConfig(data)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}
