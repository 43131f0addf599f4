package cliplib

import (
	"github.com/clipkit/clipkit/cliplib/checkpoint"
	"github.com/clipkit/clipkit/cliplib/model/family"
)

// guessMobileCLIP is the architecture a MobileCLIP checkpoint path names, as Load finds it: a
// lookup among the registered architectures of the family owning Apple's layout.
func guessMobileCLIP(path string) string {
	return family.ForLayout(checkpoint.LayoutAppleMobileCLIP).ArchFromPath(path)
}
