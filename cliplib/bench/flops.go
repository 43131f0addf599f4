package bench

import "github.com/clipkit/clipkit/cliplib/model"

// FLOPsPerItem returns the floating-point operations (2 per multiply-add) one item costs in a
// tower, counting the matrix products only (patch embedding, attention projections, attention
// scores and values, MLP, final projection), for the transformer towers: CLIP's ViT image tower
// and its text transformer run at textLength tokens. It returns 0 for the convolutional families
// (ResNet, MobileCLIP), whose count it does not model. Model FLOP utilisation is items/s times
// this, over the device's peak.
func FLOPsPerItem(cfg *model.Config, tower string, textLength int) float64 {
	transformer := func(tokens, width, layers int) float64 {
		t, w := float64(tokens), float64(width)
		perLayer := t*w*3*w + // q, k, v projections
			2*t*t*w + // scores and the weighted sum of values, over all heads
			t*w*w + // output projection
			2*t*w*4*w // MLP (4·width hidden)
		return 2 * float64(layers) * perLayer
	}
	switch tower {
	case "image":
		v := cfg.Vision
		if v.Family != model.ViT || v.PatchSize <= 0 {
			return 0
		}
		grid := v.ImageSize / v.PatchSize
		patches := float64(grid * grid)
		embed := 2 * patches * float64(3*v.PatchSize*v.PatchSize) * float64(v.Width)
		return embed + transformer(grid*grid+1, v.Width, v.Layers) + 2*float64(v.Width*cfg.EmbedDim)
	case "text":
		t := cfg.Text
		if t.Family != model.TextTransformer || textLength <= 0 {
			return 0
		}
		return transformer(textLength, t.Width, t.Layers) + 2*float64(t.Width*cfg.EmbedDim)
	}
	return 0
}
