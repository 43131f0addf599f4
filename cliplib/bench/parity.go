package bench

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"strings"

	"github.com/clipkit/clipkit/cliplib"
	"github.com/clipkit/clipkit/cliplib/encoder"

	"github.com/clipkit/clipkit/internal/atomicfile"
)

// Cross-backend parity: the same deterministic random-weight models and inputs encoded on two
// backends (the GPU check compares xla:cuda against embeddings computed with simplego on a CPU and
// committed as a small JSON file).

// ParityCaptions are the texts encoded by the cross-backend parity check.
var ParityCaptions = []string{
	"a diagram", "a dog", "a cat", "a photo of a tabby cat",
	"a rocket standing on a launchpad", "a cup of coffee on a saucer",
	"a black-and-white silhouette of a horse", "a red motorcycle standing in a garage",
}

// ParityImages is the number of synthetic images encoded by the parity check.
const ParityImages = 4

// ParityPixels returns n deterministic synthetic images [n, 3, r, r] in the normalised input range
// (smooth colour gradients and stripes, different per image).
func ParityPixels(n, r int) []float32 {
	px := make([]float32, n*3*r*r)
	for i := 0; i < n; i++ {
		for c := 0; c < 3; c++ {
			for y := 0; y < r; y++ {
				for x := 0; x < r; x++ {
					fx, fy := float64(x)/float64(r), float64(y)/float64(r)
					v := math.Sin(2*math.Pi*(fx*float64(i+1)+fy*float64(c+1))) + 0.5*math.Cos(7*fx*fy+float64(i))
					px[((i*3+c)*r+y)*r+x] = float32(v)
				}
			}
		}
	}
	return px
}

// Embeddings are the outputs of one model on the parity inputs.
type Embeddings struct {
	Model     string      `json:"model"`
	Precision string      `json:"precision"`
	Backend   string      `json:"backend"`
	Image     [][]float32 `json:"image"`
	Text      [][]float32 `json:"text"`
}

// ParityEmbeddings encodes the parity inputs with model name (random weights, cliplib.RandomSeed).
func ParityEmbeddings(name, backendCfg, precision string) (*Embeddings, error) {
	m, err := cliplib.Load(name, cliplib.Options{Backend: backendCfg, Precision: precision, RandomWeights: true,
		Encoder: encoder.Options{BatchBuckets: []int{ParityImages, len(ParityCaptions)}}})
	if err != nil {
		return nil, err
	}
	defer m.Close()
	r := m.Config.Vision.ImageSize
	img, err := m.Encoder().EncodeImages(ParityPixels(ParityImages, r), ParityImages)
	if err != nil {
		return nil, err
	}
	txt, err := m.EncodeTexts(ParityCaptions)
	if err != nil {
		return nil, err
	}
	return &Embeddings{Model: name, Precision: precision, Backend: m.Encoder().Backend().Name(), Image: img, Text: txt}, nil
}

// WriteEmbeddings writes embeddings as JSON.
func WriteEmbeddings(path string, es []*Embeddings) error {
	b, err := json.Marshal(es)
	if err != nil {
		return err
	}
	return atomicfile.WriteBytes(path, append(b, '\n'), 0o644)
}

// ReadEmbeddings reads what WriteEmbeddings wrote.
func ReadEmbeddings(path string) ([]*Embeddings, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var es []*Embeddings
	if err := json.Unmarshal(b, &es); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return es, nil
}

// Diff summarises how far two sets of L2-normalised embeddings are apart.
type Diff struct {
	MaxAbs    float64 `json:"max_abs"`
	MinCosine float64 `json:"min_cosine"`
}

// Compare returns the largest absolute difference and the smallest cosine between matching rows.
func Compare(a, b [][]float32) (Diff, error) {
	if len(a) != len(b) {
		return Diff{}, fmt.Errorf("%d rows vs %d", len(a), len(b))
	}
	d := Diff{MinCosine: 1}
	for i := range a {
		if len(a[i]) != len(b[i]) {
			return Diff{}, fmt.Errorf("row %d: %d vs %d values", i, len(a[i]), len(b[i]))
		}
		cos := 0.0
		for j := range a[i] {
			d.MaxAbs = math.Max(d.MaxAbs, math.Abs(float64(a[i][j]-b[i][j])))
			cos += float64(a[i][j]) * float64(b[i][j])
		}
		d.MinCosine = math.Min(d.MinCosine, cos)
	}
	return d, nil
}

// ParityTable compares got against the reference embeddings of the same model, row by row.
func ParityTable(ref []*Embeddings, got []*Embeddings) (string, bool) {
	var b strings.Builder
	ok := true
	fmt.Fprintf(&b, "%-10s %-4s %-22s %-22s %-5s %10s %10s\n", "model", "prec", "backend", "reference", "tower", "max |Δ|", "min cos")
	for _, g := range got {
		var r *Embeddings
		for _, x := range ref {
			if x.Model == g.Model {
				r = x
			}
		}
		if r == nil {
			fmt.Fprintf(&b, "%-10s no reference embeddings\n", g.Model)
			ok = false
			continue
		}
		for _, tower := range []struct {
			name string
			a, b [][]float32
		}{{"image", g.Image, r.Image}, {"text", g.Text, r.Text}} {
			d, err := Compare(tower.a, tower.b)
			if err != nil {
				fmt.Fprintf(&b, "%-10s %-4s %s: %v\n", g.Model, g.Precision, tower.name, err)
				ok = false
				continue
			}
			limit := 1e-3 // float32 on different hardware and kernels
			if g.Precision != "f32" {
				limit = 2e-2
			}
			status := ""
			if d.MaxAbs > limit {
				status = fmt.Sprintf("  > %g", limit)
				ok = false
			}
			fmt.Fprintf(&b, "%-10s %-4s %-22.22s %-22.22s %-5s %10.2e %10.6f%s\n", g.Model, g.Precision, g.Backend, r.Backend,
				tower.name, d.MaxAbs, d.MinCosine, status)
		}
	}
	return b.String(), ok
}
