// Package model describes CLIP-family architectures as plain configuration structs (with the
// papers' names), holds the registry of named architectures (and their aliases), and has the
// shared parts of inferring an architecture from a checkpoint's tensor shapes the way OpenAI's
// build_model does (Shapes, InferCLIPText; each family infers its own image tower, see
// family.InferCLIP).
//
// The registry starts empty: every family, OpenAI CLIP's ViT and ResNet included, adds its
// architectures when it registers (package family). The graph builders live in
// sub-packages, one per family: vit (CLIP ViT image tower), textenc (CLIP text transformer),
// resnet (CLIP ModifiedResNet) and mobileclip (MCi and MobileCLIP text towers, and the
// MobileCLIP architectures). They share the blocks of package nn; package families links them
// all in.
package model

import (
	"fmt"
	"math"

	"github.com/clipkit/clipkit/cliplib/model/nn"
)

// VisionFamily names the kind of image tower.
type VisionFamily string

const (
	// ViT is CLIP's vision transformer: patch conv, class token, ln_pre, pre-LN blocks, ln_post, proj.
	ViT VisionFamily = "vit"
	// ResNet is CLIP's ModifiedResNet with the attention-pooling head.
	ResNet VisionFamily = "resnet"
	// MCi is MobileCLIP's FastViT-style hybrid image encoder (mci0..mci4).
	MCi VisionFamily = "mci"
	// MobileViT is MobileCLIP-B's ViT-B/16 with a convolutional stem (timm vit_base_mci_224).
	MobileViT VisionFamily = "vit_mci"
)

// TextFamily names the kind of text tower.
type TextFamily string

const (
	// TextTransformer is CLIP's text transformer (also MobileCLIP's "base" text tower).
	TextTransformer TextFamily = "transformer"
	// TextMCT is MobileCLIP-S0's hybrid RepMixer + transformer text tower.
	TextMCT TextFamily = "mct"
)

// VisionConfig describes an image tower.
type VisionConfig struct {
	Family    VisionFamily
	ImageSize int // input resolution R (pixels); inputs are [batch, 3, R, R]
	// ViT (and MobileViT):
	PatchSize int // P: the patch conv's kernel and stride
	Width     int // W: transformer width (ResNet: the stem width w; the final width is 32·w)
	Layers    int // number of transformer blocks
	Heads     int // attention heads (width/64 for CLIP)
	// ResNet:
	StageBlocks []int // bottleneck blocks per stage, e.g. [3, 4, 6, 3] for RN50
	// MCi:
	Variant string // "mci0".."mci4" (the stage layout is defined in package mobileclip)
	// MobileViT: zero padding of the 4×4/4 first stem conv. 1 in Apple's original code (the
	// MobileCLIP-B v1 weights were trained with it), 0 in timm's vit_base_mci_224 (MobileCLIP2-B,
	// and open_clip's run of every B checkpoint). Both give a 56×56 map at 224 px, on grids
	// shifted by one pixel.
	StemPadding int
	// BatchNormFolded is set by the loader when every convolution+BatchNorm pair of a ResNet tower
	// was folded into a convolution with a bias (the default at load time).
	BatchNormFolded bool
	// Shared:
	Activation   nn.Activation
	LayerNormEps float64
}

// TextConfig describes a text tower.
type TextConfig struct {
	Family        TextFamily
	ContextLength int // 77
	VocabSize     int // 49408
	Width         int
	Layers        int
	Heads         int
	// Causal masking: true for every OpenAI CLIP and MobileCLIP-B text tower; false for the other
	// MobileCLIP ones, which then attend over all ContextLength positions including zero padding.
	Causal       bool
	Activation   nn.Activation
	LayerNormEps float64
}

// Config is a whole CLIP-style model: two towers projecting into a joint embedding space.
type Config struct {
	Name     string
	EmbedDim int // E: dimension of the joint embedding space
	Vision   VisionConfig
	Text     TextConfig
	// Preprocess is how images must be prepared for this model's weights (the image size is
	// Vision.ImageSize). The zero value means OpenAI's (bicubic, CLIP mean/std).
	Preprocess Preprocess
	// CustomText is set for open_clip CustomTextCLIP models (MobileCLIP): their text-tower
	// parameters are named "text.*" instead of sitting at the model root.
	CustomText bool
	// Unfolded (MobileCLIP MCi and "mct" towers only) makes the towers expect and compute the
	// train-time re-parameterisable branches (MobileOne conv/scale/identity branches, RepMixer
	// mixer and norm, RepCPE's skip, the large-kernel conv's small branch) one by one, as the
	// checkpoints store them. The default (false) expects the folded single convolutions that
	// mobileclip.Reparameterize produces at load time; both compute the same function.
	Unfolded bool
}

// Preprocess describes the image preprocessing a model's weights were trained with: resize of
// the shortest side to the model resolution with Interpolation, centre crop, then
// (x/255 - Mean) / Std per RGB channel.
type Preprocess struct {
	Interpolation string     // "bicubic" (OpenAI, OpenCLIP) or "bilinear" (MobileCLIP)
	Mean, Std     [3]float32 // per RGB channel; MobileCLIP S0-S2/B use mean 0 and std 1
}

// OpenAIMean and OpenAIStd are CLIP's normalisation constants (R, G, B).
var (
	OpenAIMean = [3]float32{0.48145466, 0.4578275, 0.40821073}
	OpenAIStd  = [3]float32{0.26862954, 0.26130258, 0.27577711}
)

// OpenAIPreprocess is the preprocessing of OpenAI's and OpenCLIP's CLIP models.
var OpenAIPreprocess = Preprocess{Interpolation: "bicubic", Mean: OpenAIMean, Std: OpenAIStd}

// MobileCLIPPreprocess is the preprocessing of MobileCLIP S0–S2, B and MobileCLIP2 S0, S2, B:
// bilinear resize of the shortest side, centre crop, pixels in [0, 1] without normalisation.
var MobileCLIPPreprocess = Preprocess{Interpolation: "bilinear", Mean: [3]float32{0, 0, 0}, Std: [3]float32{1, 1, 1}}

// MobileCLIP2Preprocess is the preprocessing of MobileCLIP2-S3 and -S4: bilinear, OpenAI mean/std.
var MobileCLIP2Preprocess = Preprocess{Interpolation: "bilinear", Mean: OpenAIMean, Std: OpenAIStd}

// PreprocessOrDefault returns c.Preprocess, or OpenAIPreprocess when it is unset.
func (c *Config) PreprocessOrDefault() Preprocess {
	if c.Preprocess.Interpolation == "" {
		return OpenAIPreprocess
	}
	return c.Preprocess
}

// Bounds on configuration sizes, far above any released CLIP (the largest, ViT-bigG/14, has 48
// blocks of width 1664), so that a corrupt or hostile config cannot make the loader allocate or
// build without bound before the checkpoint's tensors are compared.
const (
	MaxLayers    = 256     // transformer blocks per tower, or blocks per ResNet stage
	MaxWidth     = 1 << 15 // tower width, embedding dimension
	MaxImageSize = 4096    // input resolution in pixels
	MaxContext   = 4096    // text context length in tokens
	MaxVocab     = 1 << 21 // text vocabulary size
)

// checkRange returns an error unless 0 < v ≤ hi; what names the field.
func (c *Config) checkRange(what string, v, hi int) error {
	if v <= 0 || v > hi {
		return fmt.Errorf("model %q: %s is %d, want 1..%d", c.Name, what, v, hi)
	}
	return nil
}

// checkEps accepts 0 (the default) or a finite epsilon in (0, 1).
func (c *Config) checkEps(what string, e float64) error {
	if e == 0 {
		return nil
	}
	if math.IsNaN(e) || e < 0 || e >= 1 {
		return fmt.Errorf("model %q: %s layer_norm_eps is %g, want a small positive number (such as 1e-5)", c.Name, what, e)
	}
	return nil
}

// checkBounds checks every size against the Max* bounds, the epsilons and the preprocessing.
func (c *Config) checkBounds() error {
	v, t := c.Vision, c.Text
	checks := []struct {
		what    string
		val, hi int
	}{
		{"embed dim", c.EmbedDim, MaxWidth},
		{"vision image size", v.ImageSize, MaxImageSize},
		{"text context length", t.ContextLength, MaxContext},
		{"text vocab size", t.VocabSize, MaxVocab},
		{"text width", t.Width, MaxWidth},
		{"text layers", t.Layers, MaxLayers},
		{"text heads", t.Heads, MaxWidth},
	}
	if v.Family == ViT || v.Family == MobileViT {
		checks = append(checks, []struct {
			what    string
			val, hi int
		}{{"vision width", v.Width, MaxWidth}, {"vision layers", v.Layers, MaxLayers}, {"vision heads", v.Heads, MaxWidth},
			{"vision patch size", v.PatchSize, max(v.ImageSize, 1)}}...)
	}
	if v.Family == ResNet {
		checks = append(checks, struct {
			what    string
			val, hi int
		}{"vision width", v.Width, MaxWidth})
		for i, b := range v.StageBlocks {
			checks = append(checks, struct {
				what    string
				val, hi int
			}{fmt.Sprintf("ResNet stage %d blocks", i+1), b, MaxLayers})
		}
	}
	for _, ch := range checks {
		if err := c.checkRange(ch.what, ch.val, ch.hi); err != nil {
			return err
		}
	}
	if err := c.checkEps("vision", v.LayerNormEps); err != nil {
		return err
	}
	if err := c.checkEps("text", t.LayerNormEps); err != nil {
		return err
	}
	p := c.Preprocess
	if p.Interpolation != "" {
		for i := range 3 {
			m, sd := float64(p.Mean[i]), float64(p.Std[i])
			if math.IsNaN(m) || math.IsInf(m, 0) || !(sd > 0) || math.IsInf(sd, 0) {
				return fmt.Errorf("model %q: preprocessing mean %v / std %v: want finite means and positive finite stds", c.Name, p.Mean, p.Std)
			}
		}
	}
	return nil
}

// Validate checks that the configuration is complete, self-consistent and within the Max*
// bounds. Tower kinds other than the built-in ones must be registered (RegisterVisionFamily,
// RegisterTextFamily; package family does it for each family), and their checks run too.
func (c *Config) Validate() error {
	if c.EmbedDim <= 0 {
		return fmt.Errorf("model %q: embed dim must be positive, got %d", c.Name, c.EmbedDim)
	}
	v := c.Vision
	if v.ImageSize <= 0 {
		return fmt.Errorf("model %q: image size must be positive, got %d", c.Name, v.ImageSize)
	}
	if err := v.Activation.Validate(); err != nil {
		return fmt.Errorf("model %q vision tower: %w", c.Name, err)
	}
	builtinVision := true
	switch v.Family {
	case ViT:
		if v.PatchSize <= 0 || v.ImageSize%v.PatchSize != 0 {
			return fmt.Errorf("model %q: image size %d is not a multiple of patch size %d", c.Name, v.ImageSize, v.PatchSize)
		}
		if v.Width <= 0 || v.Layers <= 0 || v.Heads <= 0 || v.Width%v.Heads != 0 {
			return fmt.Errorf("model %q: vision width %d must be positive and divisible by %d heads (layers %d)",
				c.Name, v.Width, v.Heads, v.Layers)
		}
	case ResNet:
		if len(v.StageBlocks) != 4 || v.Width <= 0 || v.Heads <= 0 {
			return fmt.Errorf("model %q: ResNet needs 4 stage block counts, a stem width and heads (got %v, %d, %d)",
				c.Name, v.StageBlocks, v.Width, v.Heads)
		}
		if v.ImageSize%32 != 0 {
			return fmt.Errorf("model %q: ResNet image size %d is not a multiple of 32", c.Name, v.ImageSize)
		}
	case MCi:
		if v.Variant == "" {
			return fmt.Errorf("model %q: MCi image tower needs a variant (mci0..mci4)", c.Name)
		}
	case MobileViT:
		if v.PatchSize != 16 || v.ImageSize%16 != 0 {
			return fmt.Errorf("model %q: the MobileCLIP ViT's convolutional stem has stride 16; image size %d must be a multiple of it (patch size %d)",
				c.Name, v.ImageSize, v.PatchSize)
		}
		if v.Width <= 0 || v.Layers <= 0 || v.Heads <= 0 || v.Width%v.Heads != 0 || v.Width%4 != 0 {
			return fmt.Errorf("model %q: vision width %d must be positive, a multiple of 4 and divisible by %d heads (layers %d)",
				c.Name, v.Width, v.Heads, v.Layers)
		}
		if v.StemPadding < 0 || v.StemPadding > 1 {
			return fmt.Errorf("model %q: MobileViT stem padding must be 0 or 1, got %d", c.Name, v.StemPadding)
		}
	default:
		builtinVision = false
	}
	t := c.Text
	if err := t.Activation.Validate(); err != nil {
		return fmt.Errorf("model %q text tower: %w", c.Name, err)
	}
	builtinText := t.Family == TextTransformer || t.Family == TextMCT
	if err := c.checkRegisteredKinds(builtinVision, builtinText); err != nil {
		return err
	}
	if t.ContextLength <= 0 || t.VocabSize <= 0 || t.Width <= 0 || t.Heads <= 0 || t.Width%t.Heads != 0 {
		return fmt.Errorf("model %q: text tower context %d, vocab %d, width %d, heads %d must be positive (width divisible by heads)",
			c.Name, t.ContextLength, t.VocabSize, t.Width, t.Heads)
	}
	return c.checkBounds()
}

// eps returns the layer-norm epsilon, defaulting to PyTorch's 1e-5.
func eps(e float64) float64 {
	if e == 0 {
		return 1e-5
	}
	return e
}

// Eps returns the vision tower's LayerNorm epsilon (PyTorch's default 1e-5 when unset).
func (v VisionConfig) Eps() float64 { return eps(v.LayerNormEps) }

// Eps returns the text tower's LayerNorm epsilon (PyTorch's default 1e-5 when unset).
func (t TextConfig) Eps() float64 { return eps(t.LayerNormEps) }
