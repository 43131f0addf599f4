package family

import (
	"fmt"
	"sort"
	"strings"

	"github.com/clipkit/clipkit/cliplib/model"
	"github.com/clipkit/clipkit/cliplib/model/nn"
)

// Inference is how a family recognises its image tower in an OpenAI-layout checkpoint (tensors
// under "visual.", text tower at the root, checkpoint.ToOpenAI's output) and infers its
// configuration from the tensor shapes, as OpenAI's build_model does.
type Inference struct {
	// Marker is a tensor that only checkpoints with this family's image tower have
	// ("visual.proj" for ViT).
	Marker string
	// Vision infers the image tower from the shapes; act is the activation of the weights
	// (shapes cannot show it).
	Vision func(s model.Shapes, act nn.Activation) (model.VisionConfig, error)
	// Sizes lists the image-tower sizes that a configuration (cfg) and the one inferred from a
	// checkpoint (got, of the same kind) must agree on; heads and activations are not compared.
	Sizes func(cfg, got *model.VisionConfig) []model.SizeCheck
}

// inferringLocked returns the families with an Inference, ordered by marker.
func inferringLocked() []*Family {
	var fs []*Family
	for _, f := range families {
		if f.Infer != nil {
			fs = append(fs, f)
		}
	}
	sort.Slice(fs, func(i, j int) bool { return fs[i].Infer.Marker < fs[j].Infer.Marker })
	return fs
}

// InferCLIP infers an OpenAI-layout CLIP architecture from tensor shapes: the CLIP text
// transformer and embedding size (model.InferCLIPText) and the image tower of the one family
// whose Inference marker the checkpoint has. Activations cannot be seen in shapes: act is used
// for both towers (QuickGELU for OpenAI weights), unless the tower has its own
// (ImageTower.Activation: ReLU for ResNet). The result is named "inferred" and validated.
func InferCLIP(s model.Shapes, act nn.Activation) (*model.Config, error) {
	c := &model.Config{Name: "inferred"}
	var err error
	if c.EmbedDim, c.Text, err = model.InferCLIPText(s, act); err != nil {
		return nil, err
	}
	mu.RLock()
	fs := inferringLocked()
	mu.RUnlock()
	var found []*Family
	var markers []string
	for _, f := range fs {
		markers = append(markers, fmt.Sprintf("%s (%s)", f.Infer.Marker, f.Name))
		if _, ok := s[f.Infer.Marker]; ok {
			found = append(found, f)
		}
	}
	switch {
	case len(found) == 0 && len(markers) == 2:
		return nil, fmt.Errorf("cannot infer the architecture: checkpoint has neither %s nor %s", markers[0], markers[1])
	case len(found) == 0:
		return nil, fmt.Errorf("cannot infer the architecture: checkpoint has none of %s", strings.Join(markers, ", "))
	case len(found) > 1:
		var both []string
		for _, f := range found {
			both = append(both, fmt.Sprintf("%s (%s)", f.Infer.Marker, f.Name))
		}
		return nil, fmt.Errorf("cannot infer the architecture: checkpoint has %s: the image tower is ambiguous", strings.Join(both, " and "))
	}
	if c.Vision, err = found[0].Infer.Vision(s, act); err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// CheckShapes compares the sizes of a configuration whose image tower has a family Inference
// and whose text tower is the CLIP text transformer (typically read from a config file) with
// those the checkpoint's tensors imply (InferCLIP), before anything is allocated or built from
// it. The error names the first size that differs, as the configuration states it and as the
// tensors have it. Heads and activations cannot be seen in shapes and are not compared; other
// configurations are not checked (nil).
func CheckShapes(c *model.Config, s model.Shapes) error {
	mu.RLock()
	f := imageTowers[c.Vision.Family]
	mu.RUnlock()
	if f == nil || f.Infer == nil || c.Text.Family != model.TextTransformer {
		return nil
	}
	got, err := InferCLIP(s, c.Text.Activation)
	if err != nil {
		return fmt.Errorf("the configuration cannot be checked against the checkpoint: %w", err)
	}
	checks := model.CLIPTextSizes(c, got)
	if c.Vision.Family != got.Vision.Family {
		return fmt.Errorf("the configuration describes a %s image tower but the checkpoint holds a %s one", c.Vision.Family, got.Vision.Family)
	}
	return model.FirstMismatch(append(checks, f.Infer.Sizes(&c.Vision, &got.Vision)...))
}
