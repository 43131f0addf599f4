// Command cellbench does what the second model cell of notebooks/02-zero-shot.ipynb does, in a
// process of its own as a GoNB cell is: open the notebooks' model (explore.Open, which attaches to
// the shared model server and starts it if none runs), embed the demo photos, build the zero-shot
// classifier over the demo classes and take the top-3 classes and the probabilities (the cell's
// charts are left out). It prints where the time went; time whole runs from outside, e.g.
//
//	go build -o /tmp/cellbench ./tools/bench/cellbench
//	for i in 1 2 3 4 5; do /usr/bin/time -f %e /tmp/cellbench; done
//
// With --local it opens the model in its own process instead (explore.OpenLocal, what every cell
// did before the server).
package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/clipkit/clipkit/cliplib"
	"github.com/clipkit/clipkit/nb/explore"
)

func main() {
	local := flag.Bool("local", false, "load the model in this process (explore.OpenLocal) instead of using the model server")
	flag.Parse()
	if err := run(*local); err != nil {
		fmt.Fprintln(os.Stderr, "cellbench:", err)
		os.Exit(1)
	}
}

func run(local bool) error {
	t0 := time.Now()
	open := explore.Open
	if local {
		open = explore.OpenLocal
	}
	s, err := open()
	if err != nil {
		return err
	}
	defer s.Close()
	tOpen := time.Since(t0)
	files, _, err := explore.DemoPhotos()
	if err != nil {
		return err
	}
	imgs, err := s.EncodeFiles("Embedding photos", files)
	if err != nil {
		return err
	}
	clf, err := s.ZeroShot(explore.DemoClassSet(), cliplib.PhotoTemplate)
	if err != nil {
		return err
	}
	top := clf.TopK(imgs, 3)
	probs := clf.Probabilities(imgs)
	fmt.Printf("%s, served %v: open %v, whole cell %v (%d photos, %d classes, top-1 of the first: %s, p=%.3f)\n",
		s.Label(), s.Served(), tOpen.Round(time.Millisecond), time.Since(t0).Round(time.Millisecond), len(files),
		len(clf.Classes), top[0][0].Class, probs[0][top[0][0].Index])
	return nil
}
