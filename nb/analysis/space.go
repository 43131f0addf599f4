package analysis

import (
	"fmt"
	"math"

	"github.com/clipkit/clipkit/cliplib"
)

// Modality holds similarity statistics of labelled image embeddings and one text embedding per
// class (notebook 06): how the classes separate and how far the two modalities sit apart.
type Modality struct {
	// ClassSim is ClassSimilarity of the images: [class][class] mean image-image cosine.
	ClassSim [][]float64
	// Intra and Inter summarise ClassSim (IntraInter).
	Intra, Inter float64
	// ImgImg and TxtTxt are the mean cosines within each modality (diagonal left out), ImgTxt the
	// mean over every image-text pair and ImgOwnTxt the mean between an image and its own class's
	// text.
	ImgImg, TxtTxt, ImgTxt, ImgOwnTxt float64
}

// ModalityStats computes Modality for images ([N][D]) with labels ([N], in [0, len(texts))) and one
// text per class ([C][D], L2-normalised like the images).
func ModalityStats(imgs [][]float32, labels []int, texts [][]float32) (Modality, error) {
	if len(imgs) == 0 || len(imgs) != len(labels) {
		return Modality{}, fmt.Errorf("analysis.ModalityStats: %d images and %d labels, want the same positive number", len(imgs), len(labels))
	}
	for i, l := range labels {
		if l < 0 || l >= len(texts) {
			return Modality{}, fmt.Errorf("analysis.ModalityStats: label %d of image %d is outside the %d texts", l, i, len(texts))
		}
	}
	cs, err := ClassSimilarity(imgs, labels, len(texts))
	if err != nil {
		return Modality{}, err
	}
	m := Modality{ClassSim: cs}
	m.Intra, m.Inter = IntraInter(cs)
	m.ImgImg = MeanSimilarity(cliplib.Similarity(imgs, imgs), true)
	m.TxtTxt = MeanSimilarity(cliplib.Similarity(texts, texts), true)
	it := cliplib.Similarity(imgs, texts)
	m.ImgTxt = MeanSimilarity(it, false)
	own := 0.0
	for i, l := range labels {
		own += float64(it[i][l])
	}
	m.ImgOwnTxt = own / float64(len(labels))
	return m, nil
}

// Captioned holds the comparison of N images with their N captions (caption i describes image i).
type Captioned struct {
	// Sim is [image][caption] cosine similarity.
	Sim [][]float32
	// Pairs summarises Sim (PairedSimilarity).
	Pairs Paired
	// ImgImg and CapCap are the mean image-image and caption-caption cosines (diagonal left out).
	ImgImg, CapCap float64
}

// CompareCaptions computes Captioned for imgs ([N][D]) and caps ([N][D]), N >= 2.
func CompareCaptions(imgs, caps [][]float32) (Captioned, error) {
	if len(imgs) != len(caps) {
		return Captioned{}, fmt.Errorf("analysis.CompareCaptions: %d images and %d captions, want one caption per image", len(imgs), len(caps))
	}
	c := Captioned{Sim: cliplib.Similarity(imgs, caps)}
	var err error
	if c.Pairs, err = PairedSimilarity(c.Sim); err != nil {
		return Captioned{}, err
	}
	c.ImgImg = MeanSimilarity(cliplib.Similarity(imgs, imgs), true)
	c.CapCap = MeanSimilarity(cliplib.Similarity(caps, caps), true)
	return c, nil
}

// Nearest returns, for each row of sim ([N][M]), the indices of its k largest values (TopK).
func Nearest(sim [][]float32, k int) [][]int {
	out := make([][]int, len(sim))
	for i, row := range sim {
		out[i] = TopK(row, k)
	}
	return out
}

// OwnInTop counts the rows i of top (Nearest's output) that contain i: the items whose own
// counterpart (item i of the other set) is among their nearest.
func OwnInTop(top [][]int) int {
	n := 0
	for i, row := range top {
		for _, c := range row {
			if c == i {
				n++
				break
			}
		}
	}
	return n
}

// MaxAbsDiff is the largest absolute difference between a and b, two [N][D] matrices of the same
// shape (embeddings computed two ways, say); 0 means bit-identical.
func MaxAbsDiff(a, b [][]float32) (float64, error) {
	if len(a) != len(b) {
		return 0, fmt.Errorf("analysis.MaxAbsDiff: %d rows against %d", len(a), len(b))
	}
	d := 0.0
	for i := range a {
		if len(a[i]) != len(b[i]) {
			return 0, fmt.Errorf("analysis.MaxAbsDiff: row %d has %d values against %d", i, len(a[i]), len(b[i]))
		}
		for j := range a[i] {
			d = math.Max(d, math.Abs(float64(a[i][j]-b[i][j])))
		}
	}
	return d, nil
}

// EasiestHardest returns the classes with the highest and the lowest accuracy in perClass
// (PerClassAccuracy; NaN classes, those without items, are skipped; as in Order, the easiest of
// equals is the lowest index and the hardest the highest),
// and false when fewer than two classes have an accuracy or all have the same.
func EasiestHardest(perClass []float64) (easiest, hardest int, ok bool) {
	easiest, hardest = -1, -1
	for c, v := range perClass {
		if math.IsNaN(v) {
			continue
		}
		if easiest < 0 || v > perClass[easiest] {
			easiest = c
		}
		if hardest < 0 || v <= perClass[hardest] {
			hardest = c
		}
	}
	if easiest < 0 || perClass[easiest] <= perClass[hardest] {
		return -1, -1, false
	}
	return easiest, hardest, true
}
