// Package families links every tower family into a program: importing it (as package encoder
// does) registers their architectures, towers, layouts, load-time transforms and preprocessing
// recipes with package family. A new family is one package under cliplib/model plus one line
// here.
package families

import (
	_ "github.com/clipkit/clipkit/cliplib/model/mobileclip" // MobileCLIP, MobileCLIP2
	_ "github.com/clipkit/clipkit/cliplib/model/resnet"     // CLIP ModifiedResNet (RN50, ...)
	_ "github.com/clipkit/clipkit/cliplib/model/textenc"    // CLIP text transformer
	_ "github.com/clipkit/clipkit/cliplib/model/vit"        // CLIP ViT (ViT-B/32, ...)
)
