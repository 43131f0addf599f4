package family_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/clipkit/clipkit/cliplib/checkpoint"
	"github.com/clipkit/clipkit/cliplib/model"
	_ "github.com/clipkit/clipkit/cliplib/model/families"
	"github.com/clipkit/clipkit/cliplib/model/family"
	"github.com/clipkit/clipkit/cliplib/model/mobileclip"
	"github.com/clipkit/clipkit/cliplib/model/nn"
	"github.com/clipkit/clipkit/weights"
)

func TestEveryRegisteredArchitectureHasBothTowers(t *testing.T) {
	for _, name := range model.Names() {
		cfg, err := model.Lookup(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := family.Image(cfg.Vision.Family); !ok {
			t.Errorf("%s: no image tower %q", name, cfg.Vision.Family)
		}
		if _, ok := family.Text(cfg.Text.Family); !ok {
			t.Errorf("%s: no text tower %q", name, cfg.Text.Family)
		}
	}
}

func TestLoaderAndOwnership(t *testing.T) {
	for _, c := range []struct{ arch, loader string }{
		{"ViT-B/32", ""}, {"tiny-vit", ""}, {"RN50", "ResNet"}, {"MobileCLIP-S0", "MobileCLIP"},
		{"MobileCLIP-B", "MobileCLIP"}, {"MobileCLIP2-S4", "MobileCLIP"},
	} {
		cfg, err := model.Lookup(c.arch)
		if err != nil {
			t.Fatal(err)
		}
		got := ""
		if f := family.Loader(cfg); f != nil {
			got = f.Name
			if !f.Owns(cfg) {
				t.Errorf("%s: loader %s does not own it", c.arch, got)
			}
		}
		if got != c.loader {
			t.Errorf("Loader(%s) = %q, want %q", c.arch, got, c.loader)
		}
	}
	mc := family.ForLayout(mobileclip.LayoutApple)
	if mc == nil || mc != family.ForLayout(mobileclip.LayoutOpenCLIP) {
		t.Fatalf("MobileCLIP layouts: %v", family.Layouts())
	}
	if f := family.ForLayout(checkpoint.LayoutOpenAI); f != nil {
		t.Errorf("the OpenAI layout is owned by %s; it is checkpoint.ToOpenAI's", f.Name)
	}
	vit, _ := model.Lookup("ViT-B/32")
	if mc.Owns(vit) {
		t.Error("MobileCLIP owns ViT-B/32")
	}
}

func TestArchFromPath(t *testing.T) {
	mc := family.ForLayout(mobileclip.LayoutApple)
	for path, want := range map[string]string{
		"/cache/mobileclip_s0.pt":      "MobileCLIP-S0",
		"mobileclip_blt.pt":            "MobileCLIP-B-LT",
		"mobileclip_b.pt":              "MobileCLIP-B",
		"x/mobileclip2_s4.pt":          "MobileCLIP2-S4",
		"MOBILECLIP2-B/model.pt":       "MobileCLIP2-B",
		"apple/MobileCLIP-S1-OpenCLIP": "MobileCLIP-S1",
		"mobileclip_s9.pt":             "",
		"mobileclip_s0x.pt":            "",
		"/tmp/ViT-B-32.pt":             "",
		"MobileCLIP-test-S0/apple.pt":  "",
	} {
		if got := mc.ArchFromPath(path); got != want {
			t.Errorf("ArchFromPath(%q) = %q, want %q", path, got, want)
		}
	}
	// Families whose files carry their configuration are never guessed from paths.
	rn, _ := model.Lookup("RN50")
	if got := family.Loader(rn).ArchFromPath("/models/RN50.pt"); got != "" {
		t.Errorf("ResNet ArchFromPath = %q, want none", got)
	}
}

func TestRecipesAndActivations(t *testing.T) {
	for name, want := range map[string]model.Preprocess{
		weights.PreprocessOpenAI:            model.OpenAIPreprocess,
		weights.PreprocessMobileCLIP:        model.MobileCLIPPreprocess,
		weights.PreprocessMobileCLIP2OpenAI: model.MobileCLIP2Preprocess,
	} {
		if got, ok := family.Recipe(name); !ok || got != want {
			t.Errorf("Recipe(%q) = %+v, %v; want %+v", name, got, ok, want)
		}
	}
	if _, ok := family.Recipe("nope"); ok {
		t.Error(`Recipe("nope") found`)
	}
	if a := family.VisionActivation(model.ResNet); a != nn.ReLU {
		t.Errorf("ResNet activation %q", a)
	}
	if a := family.VisionActivation(model.ViT); a != "" {
		t.Errorf("ViT activation %q, want the weights'", a)
	}
}

// newPrefix detects a layout no real checkpoint has.
var newPrefix = checkpoint.AnyPrefix("new.")

func TestRegisterRefusesConflicts(t *testing.T) {
	before := family.Names()
	for _, c := range []struct {
		name string
		f    family.Family
		want string
	}{
		{"no name", family.Family{}, "without a name"},
		{"image tower", family.Family{Name: "x", ImageTowers: map[model.VisionFamily]family.ImageTower{model.ViT: {}}}, "already registered by ViT"},
		{"text tower", family.Family{Name: "x", TextTowers: map[model.TextFamily]family.TextTower{model.TextMCT: {}}}, "already registered by MobileCLIP"},
		{"layout", family.Family{Name: "x", Layouts: []family.Layout{{Name: mobileclip.LayoutApple, Detect: newPrefix}}}, "already registered by MobileCLIP"},
		{"generic layout", family.Family{Name: "x", Layouts: []family.Layout{{Name: checkpoint.LayoutOpenAI, Detect: newPrefix}}}, "one of package checkpoint's own"},
		{"no detect", family.Family{Name: "x", Layouts: []family.Layout{{Name: "new"}}}, "without a Detect"},
		{"no prepare", family.Family{Name: "x", Layouts: []family.Layout{{Name: "new", Detect: newPrefix}}}, "without a Prepare"},
		{"inference marker", family.Family{Name: "x", Infer: &family.Inference{Marker: "visual.proj",
			Vision: func(model.Shapes, nn.Activation) (model.VisionConfig, error) { return model.VisionConfig{}, nil },
			Sizes:  func(_, _ *model.VisionConfig) []model.SizeCheck { return nil }}}, "already registered by ViT"},
		{"incomplete inference", family.Family{Name: "x", Infer: &family.Inference{Marker: "new"}}, "needs a Marker, Vision and Sizes"},
		{"alias", family.Family{Name: "x", Aliases: map[string]string{"B-32": "ViT-B/32"}}, "not one of its architectures"},
		{"recipe", family.Family{Name: "x", Preprocess: map[string]model.Preprocess{weights.PreprocessOpenAI: model.MobileCLIPPreprocess}}, "already registered"},
		{"invalid arch", family.Family{Name: "x", Architectures: []*model.Config{{Name: "broken"}}}, "broken"},
	} {
		t.Run(c.name, func(t *testing.T) {
			defer func() {
				r := recover()
				if r == nil || !strings.Contains(fmtAny(r), c.want) {
					t.Errorf("panic %v, want one containing %q", r, c.want)
				}
			}()
			family.Register(c.f)
		})
	}
	if after := family.Names(); len(after) != len(before) {
		t.Errorf("refused registrations changed the families: %v → %v", before, after)
	}
}

func fmtAny(v any) string {
	if e, ok := v.(error); ok {
		return e.Error()
	}
	s, _ := v.(string)
	return s
}

// transformed records that the toy family's Transform ran.
var transformed bool

// registerToy registers a family with a new image-tower kind, as a new family package would from
// its init function.
func registerToy(t *testing.T, kind model.VisionFamily) {
	if _, ok := family.Image(kind); ok {
		return // go test -count > 1: registered by the first run
	}
	base, err := model.Lookup("tiny-vit")
	if err != nil {
		t.Fatal(err)
	}
	arch := base.Clone()
	arch.Name, arch.Vision = "toy-test-arch", model.VisionConfig{Family: kind, ImageSize: 32, Width: 8, Activation: nn.GELU}
	family.Register(family.Family{
		Name:          "Toy",
		Architectures: []*model.Config{arch},
		ImageTowers: map[model.VisionFamily]family.ImageTower{kind: {
			Shapes: func(cfg *model.Config) nn.Shapes { return nn.Shapes{} },
			Validate: func(cfg *model.Config) error {
				if cfg.Vision.Width%8 != 0 {
					return fmt.Errorf("toy width %d is not a multiple of 8", cfg.Vision.Width)
				}
				return nil
			},
		}},
		Transform: func(cfg *model.Config, sd checkpoint.StateDict) (checkpoint.StateDict, error) {
			transformed = true
			return sd, nil
		},
		Preprocess: map[string]model.Preprocess{"toy": {Interpolation: "bilinear", Std: [3]float32{1, 1, 1}}},
	})
}

// TestANewFamilyIsOneRegistration checks that the registry, the validator, the recipes and the
// loader all see a family registered with one call.
func TestANewFamilyIsOneRegistration(t *testing.T) {
	const kind model.VisionFamily = "toy-vision"
	registerToy(t, kind)
	got, err := model.Lookup("toy-test-arch")
	if err != nil {
		t.Fatal(err)
	}
	f := family.Loader(got)
	if f == nil || f.Name != "Toy" {
		t.Fatalf("Loader = %v", f)
	}
	transformed = false
	if _, err := f.Transform(got, nil); err != nil || !transformed {
		t.Error("the family's transform did not run")
	}
	if p, ok := family.Recipe("toy"); !ok || p.Interpolation != "bilinear" {
		t.Errorf("recipe %+v, %v", p, ok)
	}
	got.Vision.Width = 12
	if err := got.Validate(); err == nil || !strings.Contains(err.Error(), "not a multiple of 8") {
		t.Errorf("the family's check did not run: %v", err)
	}
	got.Vision.Family = "unregistered"
	if err := got.Validate(); err == nil || !strings.Contains(err.Error(), "unknown vision family") {
		t.Errorf("an unregistered kind: %v", err)
	}
}
