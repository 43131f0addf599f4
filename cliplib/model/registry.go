package model

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/clipkit/clipkit/cliplib/model/nn"
)

// Standard CLIP text-tower constants.
const (
	ContextLength = 77
	VocabSize     = 49408
)

func clipText(width, heads int, act nn.Activation) TextConfig {
	return TextConfig{Family: TextTransformer, ContextLength: ContextLength, VocabSize: VocabSize,
		Width: width, Layers: 12, Heads: heads, Causal: true, Activation: act}
}

func vit(name string, res, patch, width, layers, embed, textWidth int, act nn.Activation) *Config {
	c := &Config{Name: name, EmbedDim: embed,
		Vision: VisionConfig{Family: ViT, ImageSize: res, PatchSize: patch, Width: width, Layers: layers,
			Heads: width / 64, Activation: act},
		Text: clipText(textWidth, textWidth/64, act)}
	if layers < 12 { // test configurations are shallow in both towers
		c.Text.Layers = layers
	}
	return c
}

func resnet(name string, res int, blocks []int, width, embed, textWidth int) *Config {
	c := &Config{Name: name, EmbedDim: embed,
		Vision: VisionConfig{Family: ResNet, ImageSize: res, StageBlocks: blocks, Width: width,
			Heads: width * 32 / 64, Activation: nn.ReLU},
		Text: clipText(textWidth, textWidth/64, nn.QuickGELU)}
	if res < 224 { // test configuration: shallow text tower too
		c.Text.Layers = 2
	}
	return c
}

var (
	registryMu sync.RWMutex
	registry   = map[string]*Config{}
)

func init() {
	// OpenAI CLIP architectures (values: the CLIP paper's model tables and open_clip's
	// model_configs/*.json, which agree). OpenAI weights use QuickGELU in both towers.
	for _, c := range []*Config{
		vit("ViT-B/32", 224, 32, 768, 12, 512, 512, nn.QuickGELU),
		vit("ViT-B/16", 224, 16, 768, 12, 512, 512, nn.QuickGELU),
		vit("ViT-L/14", 224, 14, 1024, 24, 768, 768, nn.QuickGELU),
		vit("ViT-L/14@336px", 336, 14, 1024, 24, 768, 768, nn.QuickGELU),
		resnet("RN50", 224, []int{3, 4, 6, 3}, 64, 1024, 512),
		resnet("RN101", 224, []int{3, 4, 23, 3}, 64, 512, 512),
		resnet("RN50x4", 288, []int{4, 6, 10, 6}, 80, 640, 640),
		resnet("RN50x16", 384, []int{6, 8, 18, 8}, 96, 768, 768),
		resnet("RN50x64", 448, []int{3, 15, 36, 10}, 128, 1024, 1024),
		// Small configurations with the real layouts, used by tests, smoke mode and fixtures.
		// Heads follow CLIP's width/64 rule so that they can be inferred from shapes.
		vit("tiny-vit", 32, 8, 128, 2, 64, 128, nn.QuickGELU),
		resnet("tiny-rn", 64, []int{1, 2, 1, 1}, 16, 64, 128),
	} {
		Register(c)
	}
	// Aliases used by open_clip and the HF hub.
	aliases = map[string]string{
		"ViT-B-32": "ViT-B/32", "ViT-B-16": "ViT-B/16", "ViT-L-14": "ViT-L/14",
		"ViT-L-14-336": "ViT-L/14@336px", "ViT-L/14@336": "ViT-L/14@336px",
		"ViT-B-32-quickgelu": "ViT-B/32", "ViT-B-16-quickgelu": "ViT-B/16", "ViT-L-14-quickgelu": "ViT-L/14",
	}
}

var aliases map[string]string

// Register adds (or replaces) an architecture in the registry. It panics if the config is invalid,
// since registrations are program constants.
func Register(c *Config) {
	if err := c.Validate(); err != nil {
		panic(err)
	}
	registryMu.Lock()
	defer registryMu.Unlock()
	registry[c.Name] = c
}

// Lookup returns a copy of the named architecture ("ViT-B/32", "RN50", open_clip's "ViT-B-32", ...).
func Lookup(name string) (*Config, error) {
	registryMu.RLock()
	defer registryMu.RUnlock()
	if a, ok := aliases[name]; ok {
		name = a
	}
	c, ok := registry[name]
	if !ok {
		return nil, fmt.Errorf("unknown architecture %q; known: %s", name, strings.Join(namesLocked(), ", "))
	}
	return c.Clone(), nil
}

// IsTestConfig reports whether a registered architecture name is one of the small configurations
// made for tests and smoke runs ("tiny-vit", "tiny-rn", "MobileCLIP-test-S0", ...) rather than a
// published model.
func IsTestConfig(name string) bool {
	n := strings.ToLower(name)
	return strings.HasPrefix(n, "tiny-") || strings.Contains(n, "-test-") || strings.HasSuffix(n, "-test")
}

// Names lists the registered architectures in a stable order.
func Names() []string {
	registryMu.RLock()
	defer registryMu.RUnlock()
	return namesLocked()
}

func namesLocked() []string {
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Clone returns a deep copy of c.
func (c *Config) Clone() *Config {
	c2 := *c
	c2.Vision.StageBlocks = slices.Clone(c.Vision.StageBlocks)
	return &c2
}
