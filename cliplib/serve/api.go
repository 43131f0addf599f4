package serve

import (
	"os"
	"path/filepath"
	"strings"

	arch "github.com/clipkit/clipkit/cliplib/model"
	"github.com/clipkit/clipkit/weights"
)

// The JSON types of the HTTP API (docs/serve.md). Embeddings are [N][E] float32 rows,
// L2-normalised; "ms" is the server-side compute time of the request in milliseconds.

// ErrorResponse is the body of every 4xx/5xx answer.
type ErrorResponse struct {
	Error string `json:"error"`
}

// Health is the answer of GET /healthz.
type Health struct {
	OK            bool    `json:"ok"`
	Model         string  `json:"model"`
	Backend       string  `json:"backend"`
	Precision     string  `json:"precision"`
	EmbedDim      int     `json:"embed_dim"`
	UptimeS       float64 `json:"uptime_s"`
	RandomWeights bool    `json:"random_weights"`
	PID           int     `json:"pid"`
	// Galleries is how many galleries the server holds now.
	Galleries int `json:"galleries"`
}

// Info is the answer of GET /v1/info: everything a client needs to describe the served model
// without loading it (notebooks' banners, zero-shot with the learned temperature, parameter
// counts from the architecture).
type Info struct {
	// Model is the registry name or checkpoint path; Label adds " [RANDOM WEIGHTS]" when so.
	Model string `json:"model"`
	Label string `json:"label"`
	// Backend is the backend configuration (e.g. "xla:cpu"); BackendDescription is the longer
	// backend.DescribeChoice text (device, and why it was chosen).
	Backend            string `json:"backend"`
	BackendDescription string `json:"backend_description"`
	Precision          string `json:"precision"`
	// EmbedDim is E, the size of every embedding.
	EmbedDim int `json:"embed_dim"`
	// LogitScale is exp(logit_scale): logits = LogitScale · cosine similarity.
	LogitScale float32 `json:"logit_scale"`
	// Params is the number of weights the server's encoder holds.
	Params int64 `json:"params"`
	// Config is the architecture (cliplib/model.Config, field names as in Go).
	Config *arch.Config `json:"config"`
	// Weights tells where the weights came from.
	Weights WeightSource `json:"weights"`
	PID     int          `json:"pid"`
	UptimeS float64      `json:"uptime_s"`
}

// WeightSource is cliplib.Source in JSON: the file the weights were read from (Path, Format,
// Layout), or Random with the Reason random weights were used.
type WeightSource struct {
	Path   string `json:"path,omitempty"`
	Format string `json:"format"`
	Layout string `json:"layout,omitempty"`
	Random bool   `json:"random"`
	Reason string `json:"reason,omitempty"`
}

// EncodeTextRequest is the body of POST /v1/encode/text.
type EncodeTextRequest struct {
	Texts []string `json:"texts"`
}

// EncodeImagesRequest is the body of POST /v1/encode/images: absolute paths of image files
// readable by the server.
type EncodeImagesRequest struct {
	Paths []string `json:"paths"`
}

// EncodeImageDataRequest is the body of POST /v1/encode/image-data: encoded images (PNG, JPEG,
// GIF, WebP, BMP or TIFF; base64 in JSON), for images that have no file, such as dataset items.
// Lossless PNG gives the same embeddings as encoding the decoded image in process. Embeddings are
// cached by the decoded pixels (cliplib.PixelKey), so an image sent again is not encoded again.
type EncodeImageDataRequest struct {
	Images [][]byte `json:"images"`
}

// EmbeddingsResponse answers the encode endpoints: one embedding [E] per input, in order.
type EmbeddingsResponse struct {
	Embeddings [][]float32 `json:"embeddings"`
	Ms         float64     `json:"ms"`
}

// GalleryRequest is the body of POST /v1/galleries. Labels, when given, hold one class index per
// path (used by zero-shot for accuracy and calibration).
type GalleryRequest struct {
	Name   string   `json:"name"`
	Paths  []string `json:"paths"`
	Labels []int    `json:"labels,omitempty"`
}

// GalleryResponse answers POST /v1/galleries: the gallery's id and its number of items.
type GalleryResponse struct {
	ID string  `json:"id"`
	N  int     `json:"n"`
	Ms float64 `json:"ms"`
}

// ZeroShotRequest is the body of POST /v1/zeroshot: the items are a gallery or a list of image
// paths. Temperature T > 0 gives probabilities softmax(cos / T); 0 means the model's learned
// temperature, 1/logit_scale. Labels default to the gallery's.
type ZeroShotRequest struct {
	Gallery     string   `json:"gallery,omitempty"`
	Paths       []string `json:"paths,omitempty"`
	Classes     []string `json:"classes"`
	Templates   []string `json:"templates,omitempty"`
	Temperature float64  `json:"temperature,omitempty"`
	Labels      []int    `json:"labels,omitempty"`
}

// ZeroShotResponse answers POST /v1/zeroshot. Probs and Logits are [items][classes]; Top is the
// most probable class per item; Entropy is the softmax entropy (nats) per item. Accuracy,
// PerClassRecall (null for a class with no labelled item), ECE (10 equal-width confidence bins)
// and NLL are present when labels are known; only items whose label is a class index of this
// request count (Labeled says how many).
type ZeroShotResponse struct {
	Classes        []string    `json:"classes"`
	Probs          [][]float32 `json:"probs"`
	Logits         [][]float32 `json:"logits"`
	Top            []int       `json:"top"`
	Entropy        []float64   `json:"entropy"`
	Temperature    float64     `json:"temperature"`
	Accuracy       *float64    `json:"accuracy,omitempty"`
	PerClassRecall []*float64  `json:"per_class_recall,omitempty"`
	ECE            *float64    `json:"ece,omitempty"`
	NLL            *float64    `json:"nll,omitempty"`
	Labeled        int         `json:"labeled"`
	Ms             float64     `json:"ms"`
}

// SearchRequest is the body of POST /v1/search: a text query or an image path (exactly one) and
// the number of hits K (default 8).
type SearchRequest struct {
	Gallery   string `json:"gallery"`
	Query     string `json:"query,omitempty"`
	ImagePath string `json:"image_path,omitempty"`
	K         int    `json:"k,omitempty"`
}

// Hit is one search result: the gallery item's index and path, and its cosine similarity.
type Hit struct {
	Index int     `json:"index"`
	Path  string  `json:"path"`
	Score float32 `json:"score"`
}

// SearchResponse answers POST /v1/search, best hit first.
type SearchResponse struct {
	Hits []Hit   `json:"hits"`
	Ms   float64 `json:"ms"`
}

// State is what `clipx serve` prints as its ready line and writes to its state file (mode 0600).
// Token is the full token (kernels only); BrowserToken is the scoped one that live panels put
// into cell outputs (Config.BrowserToken).
type State struct {
	URL           string `json:"url"`
	Port          int    `json:"port"`
	Token         string `json:"token"`
	BrowserToken  string `json:"browser_token"`
	PID           int    `json:"pid"`
	Model         string `json:"model"`
	Backend       string `json:"backend"`
	Precision     string `json:"precision"`
	RandomWeights bool   `json:"random_weights"`
	Log           string `json:"log"`
}

// StateKey names the server of one (model, backend, precision, random weights) combination: a
// file-name-safe string. An empty backend means $GOMLX_BACKEND, else "auto"; an empty precision
// means f32.
func StateKey(model, backend, precision string, random bool) string {
	if backend == "" {
		backend = os.Getenv("GOMLX_BACKEND")
	}
	if backend == "" {
		backend = "auto"
	}
	if precision == "" {
		precision = "f32"
	}
	key := model + "_" + backend + "_" + precision
	if random {
		key += "_random"
	}
	var b strings.Builder
	for _, r := range key {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	s := strings.TrimLeft(b.String(), ".")
	if len(s) > 120 {
		s = s[:120]
	}
	return s
}

// EnvDir overrides Dir: `clipx report` points it at a folder of its own, so that the notebooks
// it runs share servers of their own, which it stops at the end.
const EnvDir = "CLIPKIT_SERVE_DIR"

// Dir is where servers keep their state and log files: $CLIPKIT_SERVE_DIR when set, else
// $CLIPKIT_CACHE/serve (see weights.DefaultCacheDir).
func Dir() string {
	if d := os.Getenv(EnvDir); d != "" {
		return d
	}
	return filepath.Join(weights.DefaultCacheDir(), "serve")
}

// StatePath is the default state file of a server: Dir()/StateKey(...).json.
func StatePath(model, backend, precision string, random bool) string {
	return filepath.Join(Dir(), StateKey(model, backend, precision, random)+".json")
}
