package explore

import (
	"fmt"
	"sort"

	"github.com/clipkit/clipkit/cliplib/model"
)

// Arch is one registered architecture with its parameter counts.
type Arch struct {
	Cfg    *model.Config
	Params TowerParams
}

// Architectures returns the registered architectures of published models (test configurations
// left out), fewest parameters first.
func Architectures() ([]Arch, error) {
	var out []Arch
	for _, name := range model.Names() {
		if TestArch(name) {
			continue
		}
		cfg, err := model.Lookup(name)
		if err != nil {
			return nil, err
		}
		p, err := ParamCounts(cfg)
		if err != nil {
			return nil, err
		}
		out = append(out, Arch{Cfg: cfg, Params: p})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Params.Total() < out[j].Params.Total() })
	return out, nil
}

// TestConfigs lists the names of the small test configurations (used by tests and smoke mode).
func TestConfigs() []string {
	var out []string
	for _, name := range model.Names() {
		if TestArch(name) {
			out = append(out, name)
		}
	}
	return out
}

// ArchHeader is the header of ArchRow's table.
var ArchHeader = []string{"architecture", "image tower", "resolution", "patch / stages", "width × layers", "image tokens",
	"text width × layers", "context", "vocab", "embed dim", "image params", "text params", "total"}

// ArchRow is a's row of the architecture table (ArchHeader): fields that do not apply to a kind of
// tower (a ResNet's patch size, say) show "—"; parameters in millions, the total exact.
func ArchRow(a Arch) []string {
	v, t := a.Cfg.Vision, a.Cfg.Text
	shape, patch := "—", dash(v.PatchSize)
	if v.Width > 0 && v.Layers > 0 {
		shape = fmt.Sprintf("%d × %d", v.Width, v.Layers)
	}
	switch {
	case v.Family == model.ResNet:
		shape, patch = fmt.Sprintf("stem %d", v.Width), fmt.Sprint(v.StageBlocks)
	case v.Variant != "":
		patch = v.Variant
	}
	return []string{a.Cfg.Name, string(v.Family), fmt.Sprint(v.ImageSize), patch, shape, dash(ImageTokens(v)),
		fmt.Sprintf("%d × %d", t.Width, t.Layers), fmt.Sprint(t.ContextLength), fmt.Sprint(t.VocabSize), fmt.Sprint(a.Cfg.EmbedDim),
		millions(a.Params.Vision), millions(a.Params.Text), fmt.Sprintf("%d", a.Params.Total())}
}

// dash shows 0 as "—" (a field that does not apply to this kind of tower).
func dash(n int) string {
	if n == 0 {
		return "—"
	}
	return fmt.Sprint(n)
}

// millions formats a parameter count in millions.
func millions(n int64) string { return fmt.Sprintf("%.2f M", float64(n)/1e6) }

// Decoder is what TokenPieces needs of a tokenizer (*tokenizer.Tokenizer has it).
type Decoder interface {
	Tokenize(text string) []int32
	Decode(ids []int) string
}

// TokenPieces shows how tok cuts text: one "id:\"piece\"" per token up to the padding (start and end
// tokens included).
func TokenPieces(tok Decoder, text string) []string {
	var out []string
	for _, id := range tok.Tokenize(text) {
		if id == 0 {
			break
		}
		out = append(out, fmt.Sprintf("%d:%q", id, tok.Decode([]int{int(id)})))
	}
	return out
}
