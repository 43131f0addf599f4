package cliplib

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/clipkit/clipkit/cliplib/cache"
	"github.com/clipkit/clipkit/cliplib/checkpoint"
	"github.com/clipkit/clipkit/cliplib/encoder"
	"github.com/clipkit/clipkit/cliplib/model"
	"github.com/clipkit/clipkit/cliplib/model/family"
	"github.com/clipkit/clipkit/cliplib/model/nn"
	"github.com/clipkit/clipkit/cliplib/tokenizer"
	"github.com/clipkit/clipkit/weights"
)

// RandomSeed is the seed of the random weights used when no trained weights are loaded, so that
// every machine computes the same (meaningless) numbers.
const RandomSeed = 2021

// Load loads a model by registry name ("ViT-B/32", "RN50", "MobileCLIP-S0", ...; see
// weights.List and model.Names) or from a checkpoint path: a weights file (.pt, .bin,
// .safetensors) or a model directory in the HF (config.json + model.safetensors) or OpenCLIP
// (open_clip_config.json + open_clip_model.safetensors / open_clip_pytorch_model.bin) layout.
func Load(nameOrPath string, opt Options) (*Model, error) {
	t0 := time.Now()
	cfg, sd, src, err := resolve(nameOrPath, opt)
	if err != nil {
		return nil, err
	}
	read := time.Since(t0)
	m, err := build(nameOrPath, cfg, sd, src, opt)
	if err != nil {
		return nil, err
	}
	m.LoadTimes = LoadTimes{Read: read, Place: time.Since(t0) - read}
	return m, nil
}

// build turns a resolved configuration and state dict into a Model, with the caches and batchers
// opt asks for.
func build(name string, cfg *model.Config, sd checkpoint.StateDict, src Source, opt Options) (*Model, error) {
	prep, err := preprocessFor(cfg)
	if err != nil {
		return nil, err
	}
	tok, err := tokenizer.Default()
	if err != nil {
		return nil, err
	}
	eopt := opt.Encoder
	if opt.Backend != "" {
		eopt.Backend = opt.Backend
	}
	if opt.Precision != "" {
		p, err := encoder.ParsePrecision(opt.Precision)
		if err != nil {
			return nil, err
		}
		eopt.Precision = p
	}
	enc, err := encoder.New(cfg, sd, eopt)
	if err != nil {
		if src.Path != "" {
			return nil, fmt.Errorf("loading %s: %w", src.Path, err)
		}
		return nil, err
	}
	m := &Model{Name: name, Config: cfg, Source: src, Preprocess: prep, tok: tok, enc: enc}
	if err := m.setup(opt); err != nil {
		enc.Close()
		return nil, err
	}
	return m, nil
}

// identity hashes what determines a model's outputs: the architecture, the precision, and every
// weight (names, shapes and float32 bits, in name order; encoder.WriteWeights). It reads every
// weight, so Model.Identity computes it only when first asked (by a cache or an index).
func identity(cfg *model.Config, enc *encoder.Encoder) (cache.Identity, error) {
	h := sha256.New()
	c := *cfg
	c.Name = "" // the same weights loaded under two names are the same model
	b, _ := json.Marshal(c)
	h.Write(b)
	h.Write([]byte(enc.Precision()))
	var id cache.Identity
	bw := bufio.NewWriterSize(h, 1<<20)
	if err := enc.WriteWeights(bw); err != nil {
		return id, err
	}
	if err := bw.Flush(); err != nil {
		return id, err
	}
	copy(id[:], h.Sum(nil))
	return id, nil
}

// resolve finds the configuration and weights for a name or path.
func resolve(nameOrPath string, opt Options) (*model.Config, checkpoint.StateDict, Source, error) {
	if _, err := os.Stat(nameOrPath); err == nil {
		return loadPath(nameOrPath, opt)
	}
	if entry, ok := lookupWeights(nameOrPath); ok {
		arch, err := model.Lookup(entry.Arch)
		if err != nil {
			return nil, nil, Source{}, fmt.Errorf("model %q: %w", nameOrPath, err)
		}
		if err := applyEntry(arch, entry); err != nil {
			return nil, nil, Source{}, err
		}
		if opt.RandomWeights {
			return randomModel(arch, opt, "random weights requested")
		}
		local, err := weights.FetchEntry(context.Background(), entry, weights.Options{Offline: opt.Offline})
		if err != nil {
			if opt.FallbackToRandom {
				return randomModel(arch, opt, fmt.Sprintf("trained weights unavailable: %v", err))
			}
			return nil, nil, Source{}, fmt.Errorf("%w\n(the weights of %s could not be fetched: fetch them where there is a network with "+
				"`clipx weights fetch %s` and copy the cache, or, to try the pipeline without them, use random weights: "+
				"Options.RandomWeights, clipx --random-weights)", err, nameOrPath, nameOrPath)
		}
		return loadFile(local.WeightsPath, arch, opt)
	}
	if arch, err := model.Lookup(nameOrPath); err == nil {
		return randomModel(arch, opt, fmt.Sprintf("%q is an architecture without published weights", nameOrPath))
	}
	return nil, nil, Source{}, fmt.Errorf("%q is neither a file, a model directory, nor a registered model (see `clipx models`)", nameOrPath)
}

// randomModel returns cfg with deterministic random weights (encoder.RandomWeights), as the
// encoder's parameter shapes lay them out: the family's load-time transforms (such as ResNet's
// BatchNorm folding) are not applied, so a random RN50 runs its BatchNorms unfolded, as the
// randomly initialised PyTorch models of the benchmarks do.
func randomModel(cfg *model.Config, opt Options, reason string) (*model.Config, checkpoint.StateDict, Source, error) {
	sd, err := encoder.RandomWeights(cfg, RandomSeed)
	if err != nil {
		return nil, nil, Source{}, err
	}
	return cfg, sd, Source{Format: "random", Random: true, Reason: reason}, nil
}

// weightFiles are the file names looked for in a model directory, in order of preference.
var weightFiles = []string{"open_clip_model.safetensors", "model.safetensors", "open_clip_pytorch_model.bin",
	"pytorch_model.bin"}

// lookupWeights finds a registry entry of the weights registry by name or alias.
func lookupWeights(name string) (weights.Entry, bool) {
	e, err := weights.Lookup(name)
	return e, err == nil
}

// applyEntry sets what a weights-registry entry says about its weights on the architecture:
// activation (except where a tower family fixes its own, family.ImageTower.Activation),
// preprocessing (a recipe a family registered under the entry's name), resolution.
func applyEntry(cfg *model.Config, e weights.Entry) error {
	cfg.Name = e.Name
	switch e.Activation {
	case weights.ActivationQuickGELU:
		cfg.Vision.Activation, cfg.Text.Activation = nn.QuickGELU, nn.QuickGELU
	case weights.ActivationGELU:
		cfg.Vision.Activation, cfg.Text.Activation = nn.GELU, nn.GELU
	}
	if a := family.VisionActivation(cfg.Vision.Family); a != "" {
		cfg.Vision.Activation = a
	}
	p, ok := family.Recipe(e.Preprocess)
	if !ok {
		return fmt.Errorf("weights %q: unknown preprocessing %q", e.Name, e.Preprocess)
	}
	cfg.Preprocess = p
	if e.ImageSize != 0 && e.ImageSize != cfg.Vision.ImageSize {
		return fmt.Errorf("weights %q are for %d px images but architecture %q takes %d px", e.Name, e.ImageSize,
			e.Arch, cfg.Vision.ImageSize)
	}
	return cfg.Validate()
}

// loadPath reads a checkpoint file or model directory.
func loadPath(path string, opt Options) (*model.Config, checkpoint.StateDict, Source, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, nil, Source{}, err
	}
	dir, file := path, ""
	if st.IsDir() {
		for _, name := range weightFiles {
			if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
				file = filepath.Join(dir, name)
				break
			}
		}
		if file == "" {
			matches, _ := filepath.Glob(filepath.Join(dir, "*.pt"))
			if len(matches) == 1 {
				file = matches[0]
			}
		}
		if file == "" {
			return nil, nil, Source{}, fmt.Errorf("%s: no weights file found (looked for %s or one *.pt)", dir,
				strings.Join(weightFiles, ", "))
		}
	} else {
		dir, file = filepath.Dir(path), path
	}
	return loadWith(file, func(sd checkpoint.StateDict, fam *family.Family) (*model.Config, error) {
		return configFor(dir, file, sd, fam, opt)
	}, opt)
}

// loadFile reads a checkpoint file for a known architecture.
func loadFile(file string, cfg *model.Config, opt Options) (*model.Config, checkpoint.StateDict, Source, error) {
	return loadWith(file, func(checkpoint.StateDict, *family.Family) (*model.Config, error) { return cfg, nil }, opt)
}

// configurer picks the architecture of a checkpoint given its tensors in the internal naming, or,
// for a file in a family's own layout (fam not nil), before they are mapped (sd nil).
type configurer func(sd checkpoint.StateDict, fam *family.Family) (*model.Config, error)

// loadWith reads file, maps it to the internal naming, picks the configuration with configure,
// and applies the load-time transforms of the model's tower family (family.Family.Transform,
// Prepare: ResNet BatchNorm folding, MobileCLIP re-parameterisation) unless opt.NoFold.
func loadWith(file string, configure configurer, opt Options) (*model.Config, checkpoint.StateDict, Source, error) {
	raw, format, err := checkpoint.ReadFile(file)
	if err != nil {
		return nil, nil, Source{}, err
	}
	if err := raw.CheckFinite(); err != nil {
		return nil, nil, Source{}, fmt.Errorf("%s: %w", file, err)
	}
	if layout, err := checkpoint.DetectLayout(raw); err == nil {
		if fam := family.ForLayout(layout); fam != nil {
			return loadFamilyLayout(fam, file, raw, format, configure, opt)
		}
	}
	sd, layout, err := checkpoint.ToOpenAI(raw)
	if err != nil {
		return nil, nil, Source{}, fmt.Errorf("%s: %w", file, err)
	}
	src := Source{Path: file, Format: string(format), Layout: string(layout)}
	cfg, err := configure(sd, nil)
	if err != nil {
		return nil, nil, Source{}, err
	}
	if fam := family.Loader(cfg); fam != nil && fam.Transform != nil && !opt.NoFold {
		if sd, err = fam.Transform(cfg, sd); err != nil {
			return nil, nil, Source{}, fmt.Errorf("%s: %w", file, err)
		}
	}
	// num_batches_tracked counters are training state, never inference parameters.
	for name := range sd {
		if strings.HasSuffix(name, ".num_batches_tracked") {
			delete(sd, name)
		}
	}
	return cfg, sd, src, nil
}

// loadFamilyLayout loads a checkpoint in the own layout of tower family fam (MobileCLIP: Apple's
// original layout or the OpenCLIP / timm hub layout). Such files carry no usable config: the
// architecture comes from configure (the registry entry, Options.Arch, the file's path, a config
// file beside it) and must be one of fam's.
func loadFamilyLayout(fam *family.Family, file string, raw checkpoint.StateDict, format checkpoint.Format,
	configure configurer, opt Options) (*model.Config, checkpoint.StateDict, Source, error) {
	cfg, err := configure(nil, fam)
	if err != nil {
		return nil, nil, Source{}, err
	}
	if !fam.Owns(cfg) {
		return nil, nil, Source{}, fmt.Errorf("%s is a %s checkpoint but architecture %q is not a %s one", file, fam.Name,
			cfg.Name, fam.Name)
	}
	sd, layout, err := fam.Prepare(cfg, raw, !opt.NoFold)
	if err != nil {
		return nil, nil, Source{}, fmt.Errorf("%s: %w", file, err)
	}
	return cfg, sd, Source{Path: file, Format: string(format), Layout: string(layout)}, nil
}

// configFor chooses the architecture of a checkpoint: an explicit Arch, else (for a file in the
// own layout of family fam) a registered architecture of fam that the path names, else a config
// file in the checkpoint's directory (HF config.json or open_clip_config.json), else inference
// from shapes (not for fam's files: they have no CLIP shapes to infer from).
func configFor(dir, file string, sd checkpoint.StateDict, fam *family.Family, opt Options) (*model.Config, error) {
	if opt.Arch != "" {
		cfg, err := model.Lookup(opt.Arch)
		if err != nil {
			return nil, err
		}
		return cfg, nil
	}
	if fam != nil {
		if name := fam.ArchFromPath(file); name != "" {
			return model.Lookup(name)
		}
		cfg, err := configFile(dir, file, sd)
		if err != nil || cfg == nil {
			return nil, fmt.Errorf("%s is a %s checkpoint: give its architecture (Options.Arch / --arch, e.g. %s)", file,
				fam.Name, strings.Join(fam.ExampleNames(2), ", "))
		}
		return cfg, nil
	}
	if cfg, err := configFile(dir, file, sd); cfg != nil || err != nil {
		return cfg, err
	}
	cfg, err := family.InferCLIP(shapesOf(sd), nn.QuickGELU)
	if err != nil {
		return nil, fmt.Errorf("%s: %w (give the architecture explicitly)", file, err)
	}
	cfg.Name = filepath.Base(file)
	return cfg, nil
}

// configFile reads the config file in the checkpoint's directory (open_clip_config.json, else HF
// config.json) and checks it against the checkpoint's shapes; nil, nil when there is none.
func configFile(dir, file string, sd checkpoint.StateDict) (*model.Config, error) {
	for _, name := range []string{"open_clip_config.json", "config.json"} {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err == nil {
			cfg, err := model.ReadConfigFile(p)
			if err != nil {
				return nil, err
			}
			// Every size the file states must match the checkpoint before anything is built.
			if err := family.CheckShapes(cfg, shapesOf(sd)); err != nil {
				return nil, fmt.Errorf("%s does not match %s: %w", p, file, err)
			}
			cfg.Name = filepath.Base(dir)
			return cfg, nil
		}
	}
	return nil, nil
}

// shapesOf returns the tensor shapes of a state dict.
func shapesOf(sd checkpoint.StateDict) model.Shapes {
	shapes := make(model.Shapes, len(sd))
	for name, t := range sd {
		shapes[name] = t.Shape
	}
	return shapes
}
