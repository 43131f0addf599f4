package cliplib

import (
	"github.com/clipkit/clipkit/cliplib/model/family"
	"github.com/clipkit/clipkit/cliplib/model/mobileclip"
)

// guessMobileCLIP is the architecture a MobileCLIP checkpoint path names, as Load finds it: a
// lookup among the registered architectures of the family owning Apple's layout.
func guessMobileCLIP(path string) string {
	return family.ForLayout(mobileclip.LayoutApple).ArchFromPath(path)
}
