// Package family is the plug-in point of tower families. A family package (vit, resnet, textenc,
// mobileclip under cliplib/model) describes itself once, in a Family value registered from its
// init function: the architectures it adds to the model registry, the graph builders of its
// towers, the checkpoint layouts whose naming it owns, its load-time transforms
// (re-parameterisation, BatchNorm folding) and its preprocessing recipes. The encoder and the
// loader (cliplib.Load) only ask this package; package families links every family in.
//
// Adding a family: write its package under cliplib/model with one Register call in an init
// function (its architectures and their aliases; its tower kinds, a new kind being a
// model.VisionFamily or model.TextFamily value declared in the package, with a Validate check;
// its layouts, with their detectors, and Prepare if its files have their own naming; its
// Inference if its image tower appears in OpenAI-layout files; its Transform; its preprocessing
// recipes), and add its blank import to cliplib/model/families. Packages model and checkpoint
// hold no family's tables: the model registry starts empty, and checkpoint detects only the
// generic OpenAI and HF layouts besides the registered ones. Nothing else changes: the encoder builds the towers,
// model.Config.Validate accepts the kinds, and cliplib.Load reads, maps, transforms and
// preprocesses through the registration.
package family

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/clipkit/clipkit/cliplib/checkpoint"
	"github.com/clipkit/clipkit/cliplib/model"
	"github.com/clipkit/clipkit/cliplib/model/nn"
)

// ImageTower is how the encoder builds one kind of image tower.
type ImageTower struct {
	// Build returns the unnormalised image features [B, E] for pixels [B, 3, R, R] in the
	// compute dtype. ctx is at the model root.
	Build func(ctx *context.Context, cfg *model.Config, pixels *Node) *Node
	// Shapes lists the parameters Build reads (full internal names) and their shapes. It may
	// panic with an error (an unknown variant, say); the encoder returns it as an error.
	Shapes func(cfg *model.Config) nn.Shapes
	// Activation, when set, is the tower's own activation: the activation a weights-registry
	// entry states does not apply to it (ResNet towers always use ReLU).
	Activation nn.Activation
	// SequentialOnGo asks for sequential op execution on the default pure-Go backend (see
	// encoder.New: GoMLX v0.26.0's simplego can deadlock on many concurrent batched DotGenerals).
	SequentialOnGo bool
	// Validate, when set, checks the fields of a configuration with this tower (model.Config's
	// Validate runs it, after the built-in checks of the built-in kinds).
	Validate func(cfg *model.Config) error
	// ConvKernel, when set, reports whether parameter name (full internal name, PyTorch's OIHW
	// dims) is a convolution kernel that Build reads only through nn.ConvKernel, so that the
	// encoder may hold it in another layout (nn.ParamConvLayout). Kernels it does not accept
	// stay OIHW.
	ConvKernel func(name string, dims []int) bool
}

// TextTower is how the encoder builds one kind of text tower.
type TextTower struct {
	// Build returns the unnormalised text features [B, E] for token ids [B, L] (int32).
	Build func(ctx *context.Context, cfg *model.Config, ids *Node, dtype dtypes.DType) *Node
	// Shapes lists the parameters Build reads (full internal names) and their shapes.
	Shapes func(cfg *model.Config) nn.Shapes
	// SequentialOnGo: as ImageTower.SequentialOnGo.
	SequentialOnGo bool
	// Validate: as ImageTower.Validate.
	Validate func(cfg *model.Config) error
}

// Layout is a checkpoint layout with a family's own naming.
type Layout struct {
	// Name is the layout's name (checkpoint.DetectLayout's answer, Source.Layout).
	Name checkpoint.Layout
	// Detect reports whether a state dict's keys (sorted, without a leading "module.") are in
	// this layout (checkpoint.AnyPrefix(...), say). It is tried before the generic HF and
	// OpenAI layouts.
	Detect func(keys []string) bool
}

// Family is one tower family's plug-in: everything the rest of the library knows about it.
type Family struct {
	// Name is the family's name in messages ("ViT", "ResNet", "MobileCLIP", ...).
	Name string
	// Architectures are added to the model registry (model.Register) when the family registers.
	Architectures []*model.Config
	// Aliases are other names of Architectures (open_clip's "ViT-B-32" for "ViT-B/32", ...),
	// added with model.RegisterAlias: alias → registered name.
	Aliases map[string]string
	// ImageTowers and TextTowers are the graph builders of the tower kinds the family provides.
	ImageTowers map[model.VisionFamily]ImageTower
	TextTowers  map[model.TextFamily]TextTower
	// Layouts are the checkpoint layouts in which files hold this family's own naming; Register
	// adds them, in order, to those checkpoint.DetectLayout names (checkpoint.RegisterLayout). Such files are read with Prepare instead of checkpoint.ToOpenAI, and
	// carry no configuration: the architecture comes from the caller, else from the file's
	// path (ArchFromPath), else from a config file beside it.
	Layouts []Layout
	// Prepare maps the tensors of a file in one of Layouts onto the internal names cfg's towers
	// read and, when fold is set, applies the load-time transforms; it returns the file's
	// layout. raw is not modified.
	Prepare func(cfg *model.Config, raw checkpoint.StateDict, fold bool) (checkpoint.StateDict, checkpoint.Layout, error)
	// Transform, when set, applies load-time transforms to weights already in internal names
	// (checkpoint.ToOpenAI's output) and records them in cfg (ResNet BatchNorm folding). It
	// runs unless the caller asked for the checkpoint's own form (cliplib.Options.NoFold).
	Transform func(cfg *model.Config, sd checkpoint.StateDict) (checkpoint.StateDict, error)
	// Preprocess holds the preprocessing recipes of the family's weights, under the names the
	// weights registry uses (weights.PreprocessOpenAI, ...).
	Preprocess map[string]model.Preprocess
	// Infer, when set, recognises the family's image tower in OpenAI-layout checkpoints and
	// infers its configuration from tensor shapes (InferCLIP, CheckShapes).
	Infer *Inference
	// Examples name a few of the family's architectures for messages (default: its first
	// published Architectures).
	Examples []string
	// NamesInPaths: a checkpoint path naming one of the family's architectures (Apple's
	// mobileclip_s0.pt, the hub's MobileCLIP-S1-OpenCLIP/...) selects it (ArchFromPath).
	NamesInPaths bool
}

var (
	mu          sync.RWMutex
	families    []*Family
	imageTowers = map[model.VisionFamily]*Family{}
	textTowers  = map[model.TextFamily]*Family{}
	recipes     = map[string]model.Preprocess{}
)

// Register adds a family: its architectures to the model registry, its towers, layouts and
// recipes here. It panics on a conflict (a tower kind or layout already registered by another
// family, a recipe name with another value, an invalid architecture), since registrations are
// program constants.
func Register(f Family) {
	mu.Lock()
	defer mu.Unlock()
	if err := conflictLocked(&f); err != nil {
		panic(err)
	}
	fp := &f
	for k, t := range f.ImageTowers {
		model.RegisterVisionFamily(k, t.Validate)
	}
	for k, t := range f.TextTowers {
		model.RegisterTextFamily(k, t.Validate)
	}
	for _, c := range f.Architectures {
		if err := c.Validate(); err != nil {
			panic(fmt.Errorf("family %s: %w", f.Name, err))
		}
	}
	for _, l := range f.Layouts {
		checkpoint.RegisterLayout(l.Name, l.Detect)
	}
	for k := range f.ImageTowers {
		imageTowers[k] = fp
	}
	for k := range f.TextTowers {
		textTowers[k] = fp
	}
	for name, p := range f.Preprocess {
		recipes[name] = p
	}
	families = append(families, fp)
	for _, c := range f.Architectures {
		model.Register(c)
	}
	for alias, name := range f.Aliases {
		model.RegisterAlias(alias, name)
	}
}

// conflictLocked returns what in f conflicts with the families already registered.
func conflictLocked(f *Family) error {
	if f.Name == "" {
		return fmt.Errorf("family without a name")
	}
	for k := range f.ImageTowers {
		if o, ok := imageTowers[k]; ok {
			return fmt.Errorf("family %s: image tower %q already registered by %s", f.Name, k, o.Name)
		}
	}
	for k := range f.TextTowers {
		if o, ok := textTowers[k]; ok {
			return fmt.Errorf("family %s: text tower %q already registered by %s", f.Name, k, o.Name)
		}
	}
	for _, l := range f.Layouts {
		if o := forLayoutLocked(l.Name); o != nil {
			return fmt.Errorf("family %s: layout %q already registered by %s", f.Name, l.Name, o.Name)
		}
		if l.Name == checkpoint.LayoutOpenAI || l.Name == checkpoint.LayoutHF {
			return fmt.Errorf("family %s: layout %q is one of package checkpoint's own", f.Name, l.Name)
		}
		if l.Detect == nil {
			return fmt.Errorf("family %s: layout %q without a Detect function", f.Name, l.Name)
		}
	}
	if i := f.Infer; i != nil {
		if i.Marker == "" || i.Vision == nil || i.Sizes == nil {
			return fmt.Errorf("family %s: an Inference needs a Marker, Vision and Sizes", f.Name)
		}
		for _, o := range families {
			if o.Infer != nil && o.Infer.Marker == i.Marker {
				return fmt.Errorf("family %s: inference marker %q already registered by %s", f.Name, i.Marker, o.Name)
			}
		}
	}
	for alias, name := range f.Aliases {
		known := false
		for _, c := range f.Architectures {
			known = known || c.Name == name
		}
		if !known {
			return fmt.Errorf("family %s: alias %q of %q, which is not one of its architectures", f.Name, alias, name)
		}
	}
	if len(f.Layouts) > 0 && f.Prepare == nil {
		return fmt.Errorf("family %s: layouts without a Prepare function", f.Name)
	}
	for name, p := range f.Preprocess {
		if q, ok := recipes[name]; ok && q != p {
			return fmt.Errorf("family %s: preprocessing %q already registered as %+v", f.Name, name, q)
		}
	}
	return nil
}

// Image returns the builder of an image-tower kind.
func Image(k model.VisionFamily) (ImageTower, bool) {
	mu.RLock()
	defer mu.RUnlock()
	f, ok := imageTowers[k]
	if !ok {
		return ImageTower{}, false
	}
	return f.ImageTowers[k], true
}

// Text returns the builder of a text-tower kind.
func Text(k model.TextFamily) (TextTower, bool) {
	mu.RLock()
	defer mu.RUnlock()
	f, ok := textTowers[k]
	if !ok {
		return TextTower{}, false
	}
	return f.TextTowers[k], true
}

// ForLayout returns the family owning a checkpoint layout, or nil for the layouts that
// checkpoint.ToOpenAI maps (OpenAI, HF transformers).
func ForLayout(l checkpoint.Layout) *Family {
	mu.RLock()
	defer mu.RUnlock()
	return forLayoutLocked(l)
}

func forLayoutLocked(l checkpoint.Layout) *Family {
	for _, f := range families {
		for _, fl := range f.Layouts {
			if fl.Name == l {
				return f
			}
		}
	}
	return nil
}

// Loader returns the family whose load-time steps (Prepare, Transform) apply to cfg's weights:
// the family of its image tower if it has any, else that of its text tower; nil when neither
// has load-time steps.
func Loader(cfg *model.Config) *Family {
	mu.RLock()
	defer mu.RUnlock()
	for _, f := range []*Family{imageTowers[cfg.Vision.Family], textTowers[cfg.Text.Family]} {
		if f != nil && (f.Prepare != nil || f.Transform != nil) {
			return f
		}
	}
	return nil
}

// Owns reports whether one of cfg's towers is of family f.
func (f *Family) Owns(cfg *model.Config) bool {
	mu.RLock()
	defer mu.RUnlock()
	return imageTowers[cfg.Vision.Family] == f || textTowers[cfg.Text.Family] == f
}

// Recipe returns the preprocessing recipe registered under name (weights.PreprocessOpenAI, ...).
func Recipe(name string) (model.Preprocess, bool) {
	mu.RLock()
	defer mu.RUnlock()
	p, ok := recipes[name]
	return p, ok
}

// VisionActivation returns the activation an image-tower kind always uses, or "" when it takes
// the activation of its weights.
func VisionActivation(k model.VisionFamily) nn.Activation {
	t, _ := Image(k)
	return t.Activation
}

// SequentialOnGo reports whether one of cfg's towers asks for sequential execution on the
// pure-Go backend.
func SequentialOnGo(cfg *model.Config) bool {
	it, _ := Image(cfg.Vision.Family)
	tt, _ := Text(cfg.Text.Family)
	return it.SequentialOnGo || tt.SequentialOnGo
}

// ArchFromPath returns the registered architecture of family f that a checkpoint path names, or
// "" if none does or f does not have NamesInPaths. A name matches with "-" or "_" (or nothing)
// between its parts, case-insensitively, followed by the end of the path or a character that is
// not a letter or digit: "mobileclip_s0.pt" and "MobileCLIP-S1-OpenCLIP/open_clip_model.safetensors"
// name MobileCLIP-S0 and MobileCLIP-S1. The longest match wins (mobileclip_blt.pt is
// MobileCLIP-B-LT, not MobileCLIP-B). Test configurations (model.IsTestConfig) are not named by
// paths.
func (f *Family) ArchFromPath(path string) string {
	if f == nil || !f.NamesInPaths {
		return ""
	}
	lower := strings.ToLower(path)
	best, bestLen := "", 0
	for _, name := range model.Names() {
		if model.IsTestConfig(name) {
			continue // fixtures are named after test configurations but are loaded with an explicit Arch
		}
		cfg, err := model.Lookup(name)
		if err != nil || !f.Owns(cfg) {
			continue
		}
		for _, loc := range pathPattern(name).FindAllStringSubmatchIndex(lower, -1) {
			if n := loc[3] - loc[2]; n > bestLen {
				best, bestLen = name, n
			}
		}
	}
	return best
}

// ExampleNames returns up to n names of the family's architectures for messages: f.Examples,
// else its first published (not test) Architectures.
func (f *Family) ExampleNames(n int) []string {
	if len(f.Examples) > 0 {
		return f.Examples[:min(n, len(f.Examples))]
	}
	var names []string
	for _, c := range f.Architectures {
		if len(names) < n && !model.IsTestConfig(c.Name) {
			names = append(names, c.Name)
		}
	}
	return names
}

var (
	nameParts    = regexp.MustCompile(`[a-z0-9]+`)
	patternCache sync.Map // name → *regexp.Regexp
)

// pathPattern returns the pattern of an architecture name in a lower-case path; group 1 is the
// name as written.
func pathPattern(name string) *regexp.Regexp {
	if re, ok := patternCache.Load(name); ok {
		return re.(*regexp.Regexp)
	}
	parts := nameParts.FindAllString(strings.ToLower(name), -1)
	re := regexp.MustCompile(`(` + strings.Join(parts, `[-_]?`) + `)(?:$|[^a-z0-9])`)
	patternCache.Store(name, re)
	return re
}

// Names lists the registered families in registration order.
func Names() []string {
	mu.RLock()
	defer mu.RUnlock()
	names := make([]string, len(families))
	for i, f := range families {
		names[i] = f.Name
	}
	return names
}

// Layouts lists the layouts owned by families, sorted.
func Layouts() []checkpoint.Layout {
	mu.RLock()
	defer mu.RUnlock()
	var ls []checkpoint.Layout
	for _, f := range families {
		for _, l := range f.Layouts {
			ls = append(ls, l.Name)
		}
	}
	sort.Slice(ls, func(i, j int) bool { return ls[i] < ls[j] })
	return ls
}
