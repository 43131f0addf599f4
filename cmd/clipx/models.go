package main

import (
	"fmt"

	"github.com/clipkit/clipkit/cliplib/model"
	"github.com/spf13/cobra"
)

func init() {
	addCommand("", newModelsCmd)
}

func newModelsCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "models",
		Short: "list the registered architectures, one line per model starting with its name",
		Long: `List the registered architectures, one line per model: its name, then tab-separated the
embedding dimension, the image tower and the text tower.`,
		Example: "  clipx models\n  clipx models | cut -f1",
		Args:    noArgs(""),
		RunE:    func(*cobra.Command, []string) error { return runModels() },
	}
}

func runModels() error {
	for _, name := range model.Names() {
		c, err := model.Lookup(name)
		if err != nil {
			return err
		}
		v, t := c.Vision, c.Text
		var vision string
		switch v.Family {
		case model.ViT, model.MobileViT:
			vision = fmt.Sprintf("%s %dpx patch %d width %d layers %d heads %d", v.Family, v.ImageSize, v.PatchSize, v.Width, v.Layers, v.Heads)
		case model.ResNet:
			vision = fmt.Sprintf("%s %dpx blocks %v width %d heads %d", v.Family, v.ImageSize, v.StageBlocks, v.Width, v.Heads)
		default:
			vision = fmt.Sprintf("%s %s %dpx", v.Family, v.Variant, v.ImageSize)
		}
		causal := "causal"
		if !t.Causal {
			causal = "non-causal"
		}
		fmt.Printf("%s\tembed %d\timage: %s, %s\ttext: %s width %d layers %d heads %d context %d vocab %d %s\n",
			name, c.EmbedDim, vision, v.Activation, t.Family, t.Width, t.Layers, t.Heads, t.ContextLength, t.VocabSize, causal)
	}
	return nil
}

// allModels lists every registered architecture except the tiny test ones.
func allModels() []string {
	var out []string
	for _, n := range model.Names() {
		if !model.IsTestConfig(n) {
			out = append(out, n)
		}
	}
	return out
}
