package family_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/clipkit/clipkit/cliplib/model"
	"github.com/clipkit/clipkit/cliplib/model/family"
	"github.com/clipkit/clipkit/cliplib/model/nn"
)

func TestInferCLIPMatchesRegistry(t *testing.T) {
	for _, name := range []string{"ViT-B/32", "ViT-L/14@336px", "RN50", "RN50x64", "tiny-vit", "tiny-rn"} {
		ref, err := model.Lookup(name)
		if err != nil {
			t.Fatal(err)
		}
		shapes := registryShapes(ref)
		got, err := family.InferCLIP(shapes, nn.QuickGELU)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if got.EmbedDim != ref.EmbedDim || got.Text != ref.Text || got.Vision.ImageSize != ref.Vision.ImageSize ||
			got.Vision.Width != ref.Vision.Width || got.Vision.Heads != ref.Vision.Heads || got.Vision.Layers != ref.Vision.Layers {
			t.Errorf("%s: inferred %+v, registry %+v", name, got, ref)
		}
		if err := family.CheckShapes(ref, shapes); err != nil {
			t.Errorf("CheckShapes(%s, its own shapes): %v", name, err)
		}
	}
}

func TestInferCLIPAndCheckShapesErrors(t *testing.T) {
	vitB, _ := model.Lookup("ViT-B/32")
	rn50, _ := model.Lookup("RN50")
	noTower := registryShapes(vitB)
	delete(noTower, "visual.proj")
	both := registryShapes(vitB)
	for k, v := range registryShapes(rn50) {
		if strings.HasPrefix(k, "visual.") {
			both[k] = v
		}
	}
	noText := registryShapes(vitB)
	delete(noText, "ln_final.weight")
	for _, c := range []struct {
		name string
		s    model.Shapes
		want string
	}{
		{"no image tower", noTower, "neither visual.attnpool.positional_embedding (ResNet) nor visual.proj (ViT)"},
		{"two image towers", both, "ambiguous"},
		{"no text width", noText, `no tensor "ln_final.weight"`},
	} {
		if _, err := family.InferCLIP(c.s, nn.QuickGELU); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
	}
	for _, c := range []struct {
		name string
		cfg  string
		s    model.Shapes
		want string
	}{
		{"other tower", "ViT-B/32", registryShapes(rn50), "describes a vit image tower but the checkpoint holds a resnet one"},
		{"vit size", "ViT-B/16", registryShapes(vitB), "vision patch size is 16 but the checkpoint's tensors (visual.conv1.weight) have 32"},
		{"resnet stage", "RN50-deeper", registryShapes(rn50), "ResNet stage 3 blocks is 23 but the checkpoint's tensors (visual.layer3.N) have 6"},
		{"text", "RN50x4", registryShapes(rn50), "embed dim is 640"},
	} {
		cfg, err := model.Lookup(c.cfg)
		if c.cfg == "RN50-deeper" {
			cfg, err = rn50.Clone(), nil
			cfg.Vision.StageBlocks[2] = 23
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := family.CheckShapes(cfg, c.s); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
	}
	mc, _ := model.Lookup("MobileCLIP-S0")
	if err := family.CheckShapes(mc, registryShapes(vitB)); err != nil {
		t.Errorf("a MobileCLIP configuration has no shape check, got %v", err)
	}
}

// registryShapes lists the tensors InferCLIP looks at, as a real checkpoint of cfg would have them.
func registryShapes(c *model.Config) model.Shapes {
	s := model.Shapes{
		"text_projection":        {c.Text.Width, c.EmbedDim},
		"token_embedding.weight": {c.Text.VocabSize, c.Text.Width},
		"positional_embedding":   {c.Text.ContextLength, c.Text.Width},
		"ln_final.weight":        {c.Text.Width},
	}
	for i := 0; i < c.Text.Layers; i++ {
		s["transformer.resblocks."+itoa(i)+".attn.in_proj_weight"] = []int{3 * c.Text.Width, c.Text.Width}
	}
	v := c.Vision
	if v.Family == model.ViT {
		g := v.ImageSize / v.PatchSize
		s["visual.proj"] = []int{v.Width, c.EmbedDim}
		s["visual.conv1.weight"] = []int{v.Width, 3, v.PatchSize, v.PatchSize}
		s["visual.positional_embedding"] = []int{g*g + 1, v.Width}
		for i := 0; i < v.Layers; i++ {
			s["visual.transformer.resblocks."+itoa(i)+".attn.in_proj_weight"] = []int{3 * v.Width, v.Width}
		}
	} else {
		g := v.ImageSize / 32
		s["visual.attnpool.positional_embedding"] = []int{g*g + 1, 32 * v.Width}
		for stage, n := range v.StageBlocks {
			for j := 0; j < n; j++ {
				s["visual.layer"+itoa(stage+1)+"."+itoa(j)+".conv1.weight"] = []int{v.Width << stage, 1, 1, 1}
			}
		}
	}
	return s
}

func itoa(i int) string { return fmt.Sprint(i) }
