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

// CLIPText returns the CLIP text transformer of OpenAI's architectures: 12 causal layers over the
// 77-token context and the 49408-token vocabulary, of the given width, heads and activation.
func CLIPText(width, heads int, act nn.Activation) TextConfig {
	return TextConfig{Family: TextTransformer, ContextLength: ContextLength, VocabSize: VocabSize,
		Width: width, Layers: 12, Heads: heads, Causal: true, Activation: act}
}

// The registry of named architectures. It starts empty: every architecture, OpenAI CLIP's
// included, is registered by its tower family (package family, linked in by package families).
var (
	registryMu sync.RWMutex
	registry   = map[string]*Config{}
	aliases    = map[string]string{}
)

// RegisterAlias makes Lookup(alias) return the architecture registered as name (open_clip's and
// the HF hub's spellings: "ViT-B-32" for "ViT-B/32", ...). A later registration of the same alias
// replaces it.
func RegisterAlias(alias, name string) {
	registryMu.Lock()
	defer registryMu.Unlock()
	aliases[alias] = name
}

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
