package explore

import (
	"fmt"

	"github.com/clipkit/clipkit/cliplib"
	"github.com/clipkit/clipkit/nb/analysis"
	"github.com/clipkit/clipkit/nb/notebook"
)

// TemperatureRun holds a temperature study of photos against their captions: the similarities and
// the softmax measurements per temperature (analysis.TemperatureSweep).
type TemperatureRun struct {
	Files    []string                    // the photos, in order
	Captions []string                    // the captions; photo i's own caption is Captions[i]
	Sim      [][]float32                 // [photo][caption] cosine similarity, shape [len(Files)][len(Captions)]
	Truth    []int                       // photo i's right caption: i
	Learned  float64                     // the model's temperature, 1/LogitScale
	Points   []analysis.TemperaturePoint // one per temperature of the grid, in order
	AtModel  analysis.TemperaturePoint   // the measurements at Learned
}

// TemperatureGrid is the grid notebook 08 sweeps: 31 temperatures from 0.001 to 1 on a log scale,
// 13 in smoke mode.
func TemperatureGrid() []float64 { return analysis.LogSpace(0.001, 1, notebook.Pick(31, 13)) }

// Identity returns 0, 1, ..., n-1: the right answers when item i belongs with text i.
func Identity(n int) []int {
	out := make([]int, max(n, 0))
	for i := range out {
		out[i] = i
	}
	return out
}

// NewTemperatureRun measures the similarities sim ([len(files)][len(captions)], photo i's own caption
// is caption i) at every temperature of temps and at learned (> 0).
func NewTemperatureRun(files, captions []string, sim [][]float32, learned float64, temps []float64) (*TemperatureRun, error) {
	if len(files) == 0 || len(files) > len(captions) {
		return nil, fmt.Errorf("temperature run: %d photos and %d captions, want at least one photo and a caption for each", len(files), len(captions))
	}
	if len(sim) != len(files) {
		return nil, fmt.Errorf("temperature run: %d similarity rows for %d photos", len(sim), len(files))
	}
	for i, row := range sim {
		if len(row) != len(captions) {
			return nil, fmt.Errorf("temperature run: similarity row %d has %d values for %d captions", i, len(row), len(captions))
		}
	}
	if !(learned > 0) {
		return nil, fmt.Errorf("temperature run: learned temperature %g, want > 0", learned)
	}
	r := &TemperatureRun{Files: files, Captions: captions, Sim: sim, Truth: Identity(len(files)), Learned: learned}
	var err error
	if r.Points, err = analysis.TemperatureSweep(sim, r.Truth, temps); err != nil {
		return nil, err
	}
	at, err := analysis.TemperatureSweep(sim, r.Truth, []float64{learned})
	if err != nil {
		return nil, err
	}
	r.AtModel = at[0]
	return r, nil
}

// DemoTemperatures embeds the demo photos (Demo; image cache) and their captions, saves the text
// cache and measures them at every temperature of temps and at the model's own (NewTemperatureRun).
func (s *Session) DemoTemperatures(temps []float64) (*TemperatureRun, error) {
	files, captions, _, err := Demo()
	if err != nil {
		return nil, err
	}
	imgs, err := s.EncodeFiles("Embedding demo photos", files)
	if err != nil {
		return nil, err
	}
	txts, err := s.EncodeTexts(captions)
	if err != nil {
		return nil, err
	}
	if err := s.Save(); err != nil {
		return nil, err
	}
	return NewTemperatureRun(files, captions, cliplib.Similarity(imgs, txts), 1/float64(s.LogitScale()), temps)
}
