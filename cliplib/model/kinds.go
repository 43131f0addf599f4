package model

import (
	"fmt"
	"sync"
)

// Tower kinds beyond the built-in ones (ViT, ResNet, MCi, MobileViT; TextTransformer, TextMCT),
// registered by tower-family packages (through package family) so that Validate accepts them.
var (
	kindsMu     sync.RWMutex
	visionKinds = map[VisionFamily]func(*Config) error{}
	textKinds   = map[TextFamily]func(*Config) error{}
)

// RegisterVisionFamily makes Validate accept image towers of kind f, checking them with check
// (nil: no check beyond the common ones). For a built-in kind, check runs after the built-in
// checks.
func RegisterVisionFamily(f VisionFamily, check func(*Config) error) {
	kindsMu.Lock()
	defer kindsMu.Unlock()
	visionKinds[f] = check
}

// RegisterTextFamily makes Validate accept text towers of kind f, checking them with check.
func RegisterTextFamily(f TextFamily, check func(*Config) error) {
	kindsMu.Lock()
	defer kindsMu.Unlock()
	textKinds[f] = check
}

// checkRegisteredKinds runs the registered checks of c's tower kinds. builtinVision and
// builtinText tell whether the kinds were already recognised; an unrecognised, unregistered kind
// is an error.
func (c *Config) checkRegisteredKinds(builtinVision, builtinText bool) error {
	kindsMu.RLock()
	vcheck, vok := visionKinds[c.Vision.Family]
	tcheck, tok := textKinds[c.Text.Family]
	kindsMu.RUnlock()
	if !builtinVision && !vok {
		return fmt.Errorf("model %q: unknown vision family %q", c.Name, c.Vision.Family)
	}
	if !builtinText && !tok {
		return fmt.Errorf("model %q: unknown text family %q", c.Name, c.Text.Family)
	}
	for _, check := range []func(*Config) error{vcheck, tcheck} {
		if check != nil {
			if err := check(c); err != nil {
				return fmt.Errorf("model %q: %w", c.Name, err)
			}
		}
	}
	return nil
}
