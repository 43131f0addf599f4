package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/clipkit/clipkit/cliplib"
	"github.com/clipkit/clipkit/cliplib/backend"
	"github.com/clipkit/clipkit/data"
	"github.com/spf13/cobra"
)

func init() {
	addCommand("", newDemoCmd)
}

// demoOptions are the flags of clipx demo.
type demoOptions struct {
	name string
	dir  string
	mf   modelFlags
}

func newDemoCmd() *cobra.Command {
	o := &demoOptions{}
	c := &cobra.Command{
		Use:   "demo [--model NAME] [--images DIR]",
		Short: "the main job: encode the 8 classic CLIP demo photos and captions, print the similarity matrix",
		Long: `The main job: encode the 8 classic CLIP demo photos and their captions (or the images of --images)
and print the image-caption similarity matrix. Without cached weights it falls back to random
weights, and says so.`,
		Example: `  clipx demo
  GOMLX_BACKEND=xla:cpu clipx demo --model RN50
  clipx demo --images ~/photos`,
		Args: noArgs(""),
		RunE: func(*cobra.Command, []string) error { return runDemo(o) },
	}
	f := c.Flags()
	f.StringVar(&o.name, "model", "ViT-B/32", "model registry name or checkpoint path")
	f.StringVar(&o.dir, "images", "", "folder of images (with captions.csv/jsonl, or one class per sub-folder); default: $CLIPKIT_IMAGES, "+
		"the sample photos in ../shared/data/clip_test_images, else the 8 demo photos downloaded from scikit-image's data set")
	o.mf = addModelFlags(f)
	return c
}

func runDemo(o *demoOptions) error {
	opt := o.mf.options()
	opt.FallbackToRandom = true
	return demo(os.Stdout, o.name, o.dir, opt)
}

func demo(w io.Writer, name, dir string, opt cliplib.Options) error {
	var photos *data.Folder
	var err error
	if dir != "" {
		photos, err = data.LoadFolder(dir, data.FolderOptions{})
	} else {
		photos, err = data.LoadOrFetchDemo(context.Background(), data.Options{Offline: opt.Offline})
	}
	if err != nil {
		return err
	}
	start := time.Now()
	m, err := cliplib.Load(name, opt)
	if err != nil {
		return err
	}
	defer m.Close()
	prefix := ""
	if m.RandomWeights() {
		prefix = "[RANDOM WEIGHTS] "
	}
	p := func(format string, a ...any) { fmt.Fprintf(w, prefix+format+"\n", a...) }
	p("model %s on %s, %s", m.Label(), backend.DescribeChoice(m.Encoder().Backend(), m.Encoder().BackendChoice()), m.Encoder().Precision())
	if m.RandomWeights() {
		p("trained weights could not be used: %s", m.Source.Reason)
		if !opt.RandomWeights {
			p("(to skip the download attempt next time, run with --random-weights; for real results, `clipx weights fetch %s` where there is a network)", name)
		}
		p("every number below comes from randomly initialised weights and means nothing")
	} else {
		p("weights: %s (%s)", m.Source.Path, m.Source.Format)
	}
	paths := make([]string, photos.Len())
	captions := make([]string, photos.Len())
	for i := range paths {
		paths[i], captions[i] = photos.Path(i), photos.Caption(i)
	}
	imgs, err := m.EncodeImageFiles(paths...)
	if err != nil {
		return err
	}
	txts, err := m.EncodeTexts(captions)
	if err != nil {
		return err
	}
	sim := cliplib.Similarity(txts, imgs)
	p("cosine similarity (rows: captions, columns: images), encoded in %.1fs", time.Since(start).Seconds())
	var header strings.Builder
	header.WriteString(fmt.Sprintf("%-52s", ""))
	for _, path := range paths {
		header.WriteString(fmt.Sprintf(" %9.9s", strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))))
	}
	p("%s", header.String())
	for i, c := range captions {
		var row strings.Builder
		row.WriteString(fmt.Sprintf("%-52.52s", c))
		for _, v := range sim[i] {
			row.WriteString(fmt.Sprintf(" %9.3f", v))
		}
		p("%s", row.String())
	}
	correct := 0
	for i := range sim {
		best := 0
		for j := range sim[i] {
			if sim[i][j] > sim[i][best] {
				best = j
			}
		}
		if best == i {
			correct++
		}
	}
	p("captions whose best-matching image is their own photo: %d of %d", correct, len(captions))
	return nil
}
