package weights

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"net/url"
	"path"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/clipkit/clipkit/internal/download"
)

// Format is the layout of a model's weight file.
type Format string

// Weight file formats.
const (
	// FormatTorchScript is OpenAI's TorchScript archive (a zip with data.pkl and tensor storages).
	FormatTorchScript Format = "torchscript"
	// FormatSafetensorsHF is a safetensors file with HF transformers CLIPModel names.
	FormatSafetensorsHF Format = "safetensors-hf"
	// FormatSafetensorsOpenCLIP is a safetensors file with open_clip names (OpenAI names for the CLIP
	// class; visual.trunk.* and text.* for CustomTextCLIP models such as MobileCLIP).
	FormatSafetensorsOpenCLIP Format = "safetensors-openclip"
	// FormatTorchZipOpenCLIP is a torch.save zip pickle with open_clip names.
	FormatTorchZipOpenCLIP Format = "torch-zip-openclip"
	// FormatTorchZipMobileCLIP is a torch.save zip pickle with the original ml-mobileclip names.
	FormatTorchZipMobileCLIP Format = "torch-zip-mobileclip"
)

var formats = []Format{FormatTorchScript, FormatSafetensorsHF, FormatSafetensorsOpenCLIP, FormatTorchZipOpenCLIP, FormatTorchZipMobileCLIP}

// Preprocessing recipes named by registry entries (open_clip's transform.py and image_mean/std of
// each model config; Apple's ml-mobileclip mobileclip/__init__.py).
const (
	// PreprocessOpenAI: bicubic resize of the short side, center crop, OpenAI mean/std.
	PreprocessOpenAI = "openai"
	// PreprocessMobileCLIP: bilinear resize of the short side, center crop, RGB in [0,1]
	// (mean 0, std 1).
	PreprocessMobileCLIP = "mobileclip"
	// PreprocessMobileCLIP2OpenAI: bilinear resize of the short side, center crop, OpenAI mean/std.
	PreprocessMobileCLIP2OpenAI = "mobileclip2-openai"
)

var preprocessings = []string{PreprocessOpenAI, PreprocessMobileCLIP, PreprocessMobileCLIP2OpenAI}

// Activations named by registry entries.
const (
	// ActivationQuickGELU is x·sigmoid(1.702x), used by every OpenAI CLIP weight.
	ActivationQuickGELU = "quick_gelu"
	// ActivationGELU is the exact (erf) GELU.
	ActivationGELU = "gelu"
)

// Source says where a model's files come from: either one URL, or files of a Hugging Face repo.
type Source struct {
	// URL of a single file fetched with plain HTTPS (the OpenAI originals).
	URL string `json:"url,omitempty"`
	// SHA256 of the URL's file (lower-case hex), when the source publishes it.
	SHA256 string `json:"sha256,omitempty"`
	// Size of the URL's file in bytes, when the source publishes it; 0 if unknown.
	Size int64 `json:"size,omitempty"`

	// HFRepo is a Hugging Face model repository ("org/name").
	HFRepo string `json:"hf_repo,omitempty"`
	// Revision is a branch, tag or 40-hex commit of HFRepo.
	Revision string `json:"revision,omitempty"`
	// Files are the repository files to fetch (weights and configs).
	Files []string `json:"files,omitempty"`
}

// IsHF reports whether the source is a Hugging Face repository.
func (s Source) IsHF() bool { return s.HFRepo != "" }

// String is the source as a user would type it: the URL, or "hf://org/name@revision".
func (s Source) String() string {
	if s.IsHF() {
		return "hf://" + s.HFRepo + "@" + s.Revision
	}
	return s.URL
}

// Entry is one downloadable model.
type Entry struct {
	// Name is the registry name (e.g. "ViT-B/32", "MobileCLIP-S0", "ViT-B-32/laion2b_s34b_b79k").
	Name string `json:"name"`
	// Aliases are other accepted names (e.g. the HF repo id of the -hf entries).
	Aliases []string `json:"aliases,omitempty"`
	// Arch is the architecture's name in the model registry (cliplib/model): "ViT-B/32" ... "RN50x64"
	// for the OpenAI architectures, the entry name for MobileCLIP models.
	Arch string `json:"arch"`
	// Format of the weights file.
	Format Format `json:"format"`
	// Source of the files.
	Source Source `json:"source"`
	// Weights is the name of the weights file (the URL's base name, or one of Source.Files).
	Weights string `json:"weights"`
	// Config is the name of a configuration JSON among Source.Files, or "".
	Config string `json:"config,omitempty"`
	// Activation of the transformer MLPs: ActivationQuickGELU or ActivationGELU.
	Activation string `json:"activation"`
	// Preprocess names the image preprocessing recipe (PreprocessOpenAI, ...).
	Preprocess string `json:"preprocess"`
	// ImageSize is the input resolution in pixels (square).
	ImageSize int `json:"image_size"`
	// ListedSize is the rounded size shown by the source's file listing (e.g. "605 MB"), for display
	// only; "" when no listing was read.
	ListedSize string `json:"listed_size,omitempty"`
	// Cite says where the entry's facts come from.
	Cite string `json:"cite"`
	// Note records caveats (e.g. an unverified file name).
	Note string `json:"note,omitempty"`
}

// expect returns what the weights file of a URL source must be (zero for HF sources, which are
// checked against what the hub announces).
func (e Entry) expect() download.Expect {
	return download.Expect{SHA256: e.Source.SHA256, Size: e.Source.Size}
}

//go:embed registry.json
var registryJSON []byte

var (
	registry []Entry
	byName   map[string]int // names and aliases -> index
)

func init() {
	entries, err := parseRegistry(registryJSON)
	if err != nil {
		panic("weights: embedded registry.json is invalid: " + err.Error())
	}
	registry = entries
	byName = map[string]int{}
	for i, e := range entries {
		byName[e.Name] = i
		for _, a := range e.Aliases {
			byName[a] = i
		}
	}
}

// parseRegistry decodes and validates a registry file.
func parseRegistry(data []byte) ([]Entry, error) {
	var file struct {
		Comment []string `json:"_comment"`
		Models  []Entry  `json:"models"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&file); err != nil {
		return nil, err
	}
	if len(file.Models) == 0 {
		return nil, fmt.Errorf("no models")
	}
	seen := map[string]string{}
	for i := range file.Models {
		e := &file.Models[i]
		if err := e.validate(); err != nil {
			return nil, fmt.Errorf("model %d (%q): %w", i, e.Name, err)
		}
		for _, n := range append([]string{e.Name}, e.Aliases...) {
			if other, dup := seen[n]; dup {
				return nil, fmt.Errorf("name %q is used by both %q and %q", n, other, e.Name)
			}
			seen[n] = e.Name
		}
	}
	return file.Models, nil
}

var (
	hfRepoRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$`)
	nameRe   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@/-]*$`)
)

// validate checks that every field of e is well formed.
func (e *Entry) validate() error {
	if !nameRe.MatchString(e.Name) {
		return fmt.Errorf("bad name %q", e.Name)
	}
	for _, a := range e.Aliases {
		if !nameRe.MatchString(a) || a == e.Name {
			return fmt.Errorf("bad alias %q", a)
		}
	}
	if e.Arch == "" {
		return fmt.Errorf("no arch")
	}
	if !slices.Contains(formats, e.Format) {
		return fmt.Errorf("unknown format %q (known: %v)", e.Format, formats)
	}
	if e.Activation != ActivationQuickGELU && e.Activation != ActivationGELU {
		return fmt.Errorf("unknown activation %q", e.Activation)
	}
	if !slices.Contains(preprocessings, e.Preprocess) {
		return fmt.Errorf("unknown preprocess %q (known: %v)", e.Preprocess, preprocessings)
	}
	if e.ImageSize <= 0 || e.ImageSize > 1024 {
		return fmt.Errorf("bad image_size %d", e.ImageSize)
	}
	if e.Cite == "" {
		return fmt.Errorf("no cite")
	}
	s := e.Source
	if s.Size < 0 {
		return fmt.Errorf("negative size")
	}
	switch {
	case s.URL != "" && s.IsHF():
		return fmt.Errorf("source has both a URL and a Hugging Face repo")
	case s.URL != "":
		u, err := url.Parse(s.URL)
		if err != nil || u.Scheme != "https" || u.Host == "" {
			return fmt.Errorf("source URL %q is not an https URL", s.URL)
		}
		if s.Revision != "" || len(s.Files) > 0 {
			return fmt.Errorf("URL source with revision or files")
		}
		if s.SHA256 != "" && !download.IsHex(s.SHA256, 64) {
			return fmt.Errorf("sha256 %q is not 64 lower-case hex digits", s.SHA256)
		}
		if e.Weights != path.Base(u.Path) {
			return fmt.Errorf("weights %q is not the URL's file name %q", e.Weights, path.Base(u.Path))
		}
		if e.Config != "" {
			return fmt.Errorf("URL source with a config file")
		}
		if e.Format == FormatTorchScript {
			// OpenAI URLs: /clip/models/<sha256>/<file>, where the segment is the file's sha256.
			parts := strings.Split(strings.TrimPrefix(u.Path, "/"), "/")
			if len(parts) != 4 || parts[0] != "clip" || parts[1] != "models" || parts[2] != s.SHA256 {
				return fmt.Errorf("OpenAI URL %q is not /clip/models/<sha256 %s>/<file>", s.URL, s.SHA256)
			}
		}
	case s.IsHF():
		if !hfRepoRe.MatchString(s.HFRepo) {
			return fmt.Errorf("bad hf_repo %q", s.HFRepo)
		}
		if s.Revision == "" || strings.ContainsAny(s.Revision, " \t\n") {
			return fmt.Errorf("bad revision %q", s.Revision)
		}
		if len(s.Files) == 0 {
			return fmt.Errorf("no files")
		}
		for i, f := range s.Files {
			if f == "" || path.IsAbs(f) || path.Clean(f) != f || strings.HasPrefix(f, "..") {
				return fmt.Errorf("bad file name %q", f)
			}
			if slices.Contains(s.Files[:i], f) {
				return fmt.Errorf("file %q listed twice", f)
			}
		}
		if !slices.Contains(s.Files, e.Weights) {
			return fmt.Errorf("weights %q is not among the files %v", e.Weights, s.Files)
		}
		if e.Config != "" && !slices.Contains(s.Files, e.Config) {
			return fmt.Errorf("config %q is not among the files %v", e.Config, s.Files)
		}
		if s.SHA256 != "" || s.Size != 0 {
			return fmt.Errorf("sha256/size belong to URL sources")
		}
	default:
		return fmt.Errorf("source has neither a URL nor a Hugging Face repo")
	}
	return nil
}

// List returns every registry entry, in registry order (OpenAI originals first).
func List() []Entry {
	out := make([]Entry, len(registry))
	for i, e := range registry {
		out[i] = e.clone()
	}
	return out
}

func (e Entry) clone() Entry {
	e.Aliases = slices.Clone(e.Aliases)
	e.Source.Files = slices.Clone(e.Source.Files)
	return e
}

// Lookup returns the entry with the given name or alias.
func Lookup(name string) (Entry, error) {
	if i, ok := byName[name]; ok {
		return registry[i].clone(), nil
	}
	return Entry{}, fmt.Errorf("weights: unknown model %q%s; run 'clipx weights list' for all names", name, suggest(name))
}

// suggest returns " (did you mean ...?)" for names close to name, or "".
func suggest(name string) string {
	norm := func(s string) string {
		return strings.NewReplacer("/", "", "-", "", "_", "", "@", "", " ", "").Replace(strings.ToLower(s))
	}
	n := norm(name)
	var close []string
	for k := range byName {
		if nk := norm(k); n != "" && (nk == n || strings.HasPrefix(nk, n) || strings.HasPrefix(n, nk)) {
			close = append(close, registry[byName[k]].Name)
		}
	}
	sort.Strings(close)
	close = slices.Compact(close)
	if len(close) == 0 || len(close) > 6 {
		return ""
	}
	return " (did you mean " + strings.Join(close, ", ") + "?)"
}
