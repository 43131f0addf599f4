package checkpoint

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
)

// Layout names the parameter naming scheme of a checkpoint.
type Layout string

// Layouts ToOpenAI understands. The project's internal naming for CLIP (ViT and ModifiedResNet)
// is OpenAI's / open_clip's state-dict naming (openai/CLIP clip/model.py). Layouts with a tower
// family's own naming (MobileCLIP's) are registered by that family (RegisterLayout).
const (
	// LayoutOpenAI: OpenAI's .pt files and open_clip's CLIP class (same names).
	LayoutOpenAI Layout = "openai"
	// LayoutHF: HuggingFace transformers CLIPModel (vision_model.*, text_model.*, ...).
	LayoutHF Layout = "hf-transformers"
)

// layoutSpec is one known layout: how to recognise it and, for the generic layouts, how to map
// it to OpenAI names (nil for registered layouts: their family maps them).
type layoutSpec struct {
	layout   Layout
	detect   func(keys []string) bool
	toOpenAI func(sd StateDict) (StateDict, error)
}

var (
	layoutsMu sync.RWMutex
	// registered holds the layouts of tower families (RegisterLayout), checked in registration
	// order before generic.
	registered []layoutSpec
	// generic is checked after registered, in order; the first whose detect matches wins.
	generic = []layoutSpec{
		{LayoutHF, AnyPrefix("vision_model.", "text_model.", "visual_projection.", "text_projection.weight"), hfToOpenAI},
		{LayoutOpenAI, AnyPrefix("visual.", "token_embedding.", "transformer.resblocks.", "ln_final.", "positional_embedding", "text_projection"), openAIToOpenAI},
	}
)

// RegisterLayout adds a layout with a tower family's own naming: DetectLayout names it for a
// state dict whose keys (sorted, without a leading "module.") satisfy detect. Registered layouts
// are tried, in registration order, before the generic HF and OpenAI ones (whose prefixes, such
// as "visual.", they may share); ToOpenAI refuses them, their family maps them. It panics if l is
// already known or detect is nil, since registrations are program constants (package family
// calls it for a family's Layouts).
func RegisterLayout(l Layout, detect func(keys []string) bool) {
	layoutsMu.Lock()
	defer layoutsMu.Unlock()
	if detect == nil {
		panic(fmt.Errorf("checkpoint: layout %q registered without a detect function", l))
	}
	for _, s := range append(slices.Clone(registered), generic...) {
		if s.layout == l {
			panic(fmt.Errorf("checkpoint: layout %q registered twice", l))
		}
	}
	registered = append(registered, layoutSpec{layout: l, detect: detect})
}

// allLayouts returns the registered layouts followed by the generic ones.
func allLayouts() []layoutSpec {
	layoutsMu.RLock()
	defer layoutsMu.RUnlock()
	return append(slices.Clone(registered), generic...)
}

// AnyPrefix returns a layout detector (RegisterLayout) that matches when one of the keys starts
// with one of the prefixes.
func AnyPrefix(prefixes ...string) func([]string) bool {
	return func(keys []string) bool {
		for _, k := range keys {
			for _, p := range prefixes {
				if strings.HasPrefix(k, p) {
					return true
				}
			}
		}
		return false
	}
}

// StripModulePrefix returns sd with its keys stripped of a leading "module." (DataParallel
// wrapping); a key present with and without the prefix is an error.
func StripModulePrefix(sd StateDict) (StateDict, error) {
	out := make(StateDict, len(sd))
	for k, t := range sd {
		nk := strings.TrimPrefix(k, "module.")
		if _, dup := out[nk]; dup {
			return nil, fmt.Errorf("checkpoint has both %q and %q", nk, "module."+nk)
		}
		out[nk] = t
	}
	return out, nil
}

// SortedKeys returns the keys of sd in increasing order.
func SortedKeys(sd StateDict) []string {
	keys := make([]string, 0, len(sd))
	for k := range sd {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// SampleKeys formats up to n keys (and how many there are in all) for an error message.
func SampleKeys(keys []string, n int) string {
	if len(keys) <= n {
		return strings.Join(keys, ", ")
	}
	return strings.Join(keys[:n], ", ") + fmt.Sprintf(", ... (%d in all)", len(keys))
}

// DetectLayout names the layout of sd (after stripping a leading "module."), or returns an error
// that lists a few of its keys when no known layout matches.
func DetectLayout(sd StateDict) (Layout, error) {
	sd, err := StripModulePrefix(sd)
	if err != nil {
		return "", err
	}
	return DetectKeys(SortedKeys(sd))
}

// DetectKeys names the layout of a state dict from its keys (sorted, a leading "module." already
// stripped): the first registered layout (RegisterLayout) whose detector matches, else HF
// transformers, else OpenAI; an error lists a few keys when none matches.
func DetectKeys(keys []string) (Layout, error) {
	if len(keys) == 0 {
		return "", fmt.Errorf("checkpoint has no tensors")
	}
	for _, l := range allLayouts() {
		if l.detect(keys) {
			return l.layout, nil
		}
	}
	return "", fmt.Errorf("unknown checkpoint layout: keys such as %s match neither OpenAI/open_clip CLIP names nor HF transformers CLIPModel names", SampleKeys(keys, 5))
}

// ToOpenAI maps a CLIP state dict to the project's internal naming (OpenAI / open_clip names) and
// reports the layout it came in. It strips a leading "module.", drops the non-parameter entries
// (input_resolution, context_length, vocab_size, attn_mask, *.position_ids) and makes logit_scale
// a scalar. HF transformers names are renamed as transformers' convert_clip_original_pytorch_to_hf.py maps them: q/k/v projections are
// concatenated (q, k, v order) into attn.in_proj_weight / in_proj_bias and the two projection
// matrices are transposed. Any key it cannot place is an error that names it; nothing is dropped
// silently. Tensors whose data does not change are shared with sd, not copied; sd is not modified.
func ToOpenAI(sd StateDict) (StateDict, Layout, error) {
	sd, err := StripModulePrefix(sd)
	if err != nil {
		return nil, "", err
	}
	keys := SortedKeys(sd)
	layout, err := DetectKeys(keys)
	if err != nil {
		return nil, "", err
	}
	for _, l := range allLayouts() {
		if l.layout != layout {
			continue
		}
		if l.toOpenAI == nil {
			return nil, layout, fmt.Errorf("checkpoint layout %s (keys such as %s) cannot be mapped to OpenAI CLIP names; it needs its own model family", layout, SampleKeys(keys, 3))
		}
		out, err := l.toOpenAI(sd)
		if err != nil {
			return nil, layout, fmt.Errorf("%s layout: %w", layout, err)
		}
		return out, layout, nil
	}
	return nil, "", fmt.Errorf("internal error: layout %s has no spec", layout)
}

// isNonParameter reports whether key is a buffer that carries no weights (dropped by ToOpenAI).
func isNonParameter(key string) bool {
	switch key {
	case "input_resolution", "context_length", "vocab_size", "attn_mask":
		return true
	}
	return strings.HasSuffix(key, ".attn_mask") || strings.HasSuffix(key, ".position_ids") || key == "position_ids"
}

// openAIKeyPatterns is the grammar of OpenAI / open_clip CLIP parameter names (openai/CLIP clip/model.py).
// '#' stands for a layer or block index.
var openAIKeyPatterns = compileKeyPatterns([]string{
	// shared / text tower
	`logit_scale`,
	`token_embedding\.weight`,
	`positional_embedding`,
	`text_projection`,
	`ln_final\.(weight|bias)`,
	`transformer\.resblocks\.#\.` + blockSuffix,
	// ViT image tower
	`visual\.conv1\.weight`,
	`visual\.class_embedding`,
	`visual\.positional_embedding`,
	`visual\.ln_(pre|post)\.(weight|bias)`,
	`visual\.proj`,
	`visual\.transformer\.resblocks\.#\.` + blockSuffix,
	// ModifiedResNet image tower
	`visual\.conv[123]\.weight`,
	`visual\.bn[123]\.` + bnSuffix,
	`visual\.layer[1-4]\.#\.conv[123]\.weight`,
	`visual\.layer[1-4]\.#\.bn[123]\.` + bnSuffix,
	`visual\.layer[1-4]\.#\.downsample\.0\.weight`,
	`visual\.layer[1-4]\.#\.downsample\.1\.` + bnSuffix,
	`visual\.attnpool\.positional_embedding`,
	`visual\.attnpool\.[qkvc]_proj\.(weight|bias)`,
})

const (
	blockSuffix = `(ln_[12]\.(weight|bias)|attn\.in_proj_(weight|bias)|attn\.out_proj\.(weight|bias)|mlp\.c_(fc|proj)\.(weight|bias))`
	bnSuffix    = `(weight|bias|running_mean|running_var|num_batches_tracked)`
)

func compileKeyPatterns(pats []string) *regexp.Regexp {
	for i, p := range pats {
		pats[i] = strings.ReplaceAll(p, "#", `(0|[1-9][0-9]*)`)
	}
	return regexp.MustCompile(`^(` + strings.Join(pats, "|") + `)$`)
}

// openAIToOpenAI validates OpenAI names, drops non-parameters and makes logit_scale a scalar.
func openAIToOpenAI(sd StateDict) (StateDict, error) {
	out := make(StateDict, len(sd))
	var unknown []string
	for _, k := range SortedKeys(sd) {
		if isNonParameter(k) {
			continue
		}
		if !openAIKeyPatterns.MatchString(k) {
			unknown = append(unknown, k)
			continue
		}
		out[k] = sd[k]
	}
	if len(unknown) > 0 {
		return nil, fmt.Errorf("keys that are not OpenAI CLIP parameters: %s", SampleKeys(unknown, 5))
	}
	if err := ScalarLogitScale(out); err != nil {
		return nil, err
	}
	return out, nil
}

// ScalarLogitScale replaces a one-element logit_scale by a 0-d tensor sharing its data.
func ScalarLogitScale(sd StateDict) error {
	t, ok := sd["logit_scale"]
	if !ok {
		return nil
	}
	if t.NumElements() != 1 || !t.isFloat() {
		return fmt.Errorf("logit_scale is %s, want one floating value", t)
	}
	if len(t.Shape) != 0 {
		sd["logit_scale"] = &Tensor{Shape: []int{}, DType: t.DType, Data: t.Data}
	}
	return nil
}

// hfRenames maps HF CLIPModel names (outside the encoder layers) to OpenAI names.
var hfRenames = map[string]string{
	"vision_model.embeddings.patch_embedding.weight":    "visual.conv1.weight",
	"vision_model.embeddings.class_embedding":           "visual.class_embedding",
	"vision_model.embeddings.position_embedding.weight": "visual.positional_embedding",
	"vision_model.pre_layrnorm.weight":                  "visual.ln_pre.weight",
	"vision_model.pre_layrnorm.bias":                    "visual.ln_pre.bias",
	"vision_model.post_layernorm.weight":                "visual.ln_post.weight",
	"vision_model.post_layernorm.bias":                  "visual.ln_post.bias",
	"text_model.embeddings.token_embedding.weight":      "token_embedding.weight",
	"text_model.embeddings.position_embedding.weight":   "positional_embedding",
	"text_model.final_layer_norm.weight":                "ln_final.weight",
	"text_model.final_layer_norm.bias":                  "ln_final.bias",
	"logit_scale":                                       "logit_scale",
}

// hfTransposed maps the HF projection Linear weights [E, W] to OpenAI projection matrices [W, E].
var hfTransposed = map[string]string{
	"visual_projection.weight": "visual.proj",
	"text_projection.weight":   "text_projection",
}

// hfLayerRenames maps the suffix of an HF encoder layer key to the OpenAI resblock suffix.
var hfLayerRenames = map[string]string{
	"layer_norm1.weight":        "ln_1.weight",
	"layer_norm1.bias":          "ln_1.bias",
	"layer_norm2.weight":        "ln_2.weight",
	"layer_norm2.bias":          "ln_2.bias",
	"mlp.fc1.weight":            "mlp.c_fc.weight",
	"mlp.fc1.bias":              "mlp.c_fc.bias",
	"mlp.fc2.weight":            "mlp.c_proj.weight",
	"mlp.fc2.bias":              "mlp.c_proj.bias",
	"self_attn.out_proj.weight": "attn.out_proj.weight",
	"self_attn.out_proj.bias":   "attn.out_proj.bias",
}

var reHFLayer = regexp.MustCompile(`^(vision_model|text_model)\.encoder\.layers\.(0|[1-9][0-9]*)\.(.+)$`)
var reHFQKV = regexp.MustCompile(`^self_attn\.([qkv])_proj\.(weight|bias)$`)

// hfToOpenAI maps HF transformers CLIPModel names to OpenAI names (the inverse of transformers'
// convert_clip_original_pytorch_to_hf.py).
func hfToOpenAI(sd StateDict) (StateDict, error) {
	out := make(StateDict, len(sd))
	put := func(from, to string, t *Tensor) error {
		if _, dup := out[to]; dup {
			return fmt.Errorf("two keys map to %q (the second is %q)", to, from)
		}
		out[to] = t
		return nil
	}
	// qkv[openAIPrefix][weight|bias][q|k|v] collects the split attention projections.
	type qkvParts map[string]map[string]*Tensor
	qkv := map[string]qkvParts{}
	var unknown []string
	for _, k := range SortedKeys(sd) {
		t := sd[k]
		if isNonParameter(k) {
			continue
		}
		if to, ok := hfRenames[k]; ok {
			if err := put(k, to, t); err != nil {
				return nil, err
			}
			continue
		}
		if to, ok := hfTransposed[k]; ok {
			tt, err := Transpose2D(t)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			if err := put(k, to, tt); err != nil {
				return nil, err
			}
			continue
		}
		m := reHFLayer.FindStringSubmatch(k)
		if m == nil {
			unknown = append(unknown, k)
			continue
		}
		block := "transformer.resblocks." + m[2] + "."
		if m[1] == "vision_model" {
			block = "visual." + block
		}
		if suf, ok := hfLayerRenames[m[3]]; ok {
			if err := put(k, block+suf, t); err != nil {
				return nil, err
			}
			continue
		}
		if q := reHFQKV.FindStringSubmatch(m[3]); q != nil {
			parts := qkv[block]
			if parts == nil {
				parts = qkvParts{}
				qkv[block] = parts
			}
			if parts[q[2]] == nil {
				parts[q[2]] = map[string]*Tensor{}
			}
			parts[q[2]][q[1]] = t
			continue
		}
		unknown = append(unknown, k)
	}
	if len(unknown) > 0 {
		return nil, fmt.Errorf("keys with no OpenAI equivalent: %s", SampleKeys(unknown, 5))
	}
	blocks := make([]string, 0, len(qkv))
	for b := range qkv {
		blocks = append(blocks, b)
	}
	sort.Strings(blocks)
	for _, b := range blocks {
		for _, kind := range []string{"weight", "bias"} {
			p := qkv[b][kind]
			if p == nil {
				if kind == "weight" {
					return nil, fmt.Errorf("%s: attention has biases but no q/k/v weights", b)
				}
				continue
			}
			for _, c := range []string{"q", "k", "v"} {
				if p[c] == nil {
					return nil, fmt.Errorf("%sattn: %s_proj.%s is missing (have %s)", b, c, kind, presentParts(p))
				}
			}
			cat, err := concatRows(p["q"], p["k"], p["v"])
			if err != nil {
				return nil, fmt.Errorf("%sattn.in_proj_%s: %w", b, kind, err)
			}
			if err := put(b+"self_attn.qkv", b+"attn.in_proj_"+kind, cat); err != nil {
				return nil, err
			}
		}
	}
	if err := ScalarLogitScale(out); err != nil {
		return nil, err
	}
	return out, nil
}

func presentParts(p map[string]*Tensor) string {
	var s []string
	for _, c := range []string{"q", "k", "v"} {
		if p[c] != nil {
			s = append(s, c)
		}
	}
	return strings.Join(s, ",")
}

// Transpose2D returns the transpose [C, R] of a 2-D floating tensor [R, C] as a new tensor.
func Transpose2D(t *Tensor) (*Tensor, error) {
	if len(t.Shape) != 2 || !t.isFloat() {
		return nil, fmt.Errorf("want a 2-D floating matrix, got %s", t)
	}
	if err := t.Validate(); err != nil {
		return nil, err
	}
	r, c := t.Shape[0], t.Shape[1]
	out := &Tensor{Shape: []int{c, r}, DType: t.DType, Data: make([]float32, r*c)}
	for i := 0; i < r; i++ {
		row := t.Data[i*c : (i+1)*c]
		for j, v := range row {
			out.Data[j*r+i] = v
		}
	}
	return out, nil
}

// concatRows concatenates floating tensors of equal trailing shape along axis 0.
func concatRows(ts ...*Tensor) (*Tensor, error) {
	first := ts[0]
	if len(first.Shape) == 0 {
		return nil, fmt.Errorf("cannot concatenate scalars")
	}
	rows := 0
	dtype := first.DType
	for _, t := range ts {
		if !t.isFloat() {
			return nil, fmt.Errorf("want floating tensors, got %s", t)
		}
		if err := t.Validate(); err != nil {
			return nil, err
		}
		if len(t.Shape) != len(first.Shape) || !equalInts(t.Shape[1:], first.Shape[1:]) {
			return nil, fmt.Errorf("q/k/v shapes differ: %v vs %v", first.Shape, t.Shape)
		}
		if t.DType != dtype {
			dtype = F32
		}
		rows += t.Shape[0]
	}
	shape := append([]int{rows}, first.Shape[1:]...)
	out := &Tensor{Shape: shape, DType: dtype, Data: make([]float32, 0, rows*len(first.Data)/max(first.Shape[0], 1))}
	for _, t := range ts {
		out.Data = append(out.Data, t.Data...)
	}
	return out, nil
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
