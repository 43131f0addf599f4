package bench

import (
	"fmt"
	"runtime"
	"strings"
	"time"

	"github.com/clipkit/clipkit/cliplib"
	"github.com/clipkit/clipkit/cliplib/backend"
)

// LoadReport splits the time from a checkpoint on disk to the first text embedding.
type LoadReport struct {
	Model     string `json:"model"`
	Backend   string `json:"backend"`
	Machine   string `json:"machine"`
	GoVersion string `json:"go_version"`
	// Phases, in milliseconds, in the order they happen.
	ReadMs     float64 `json:"read_ms"`      // checkpoint read and configuration
	PlaceMs    float64 `json:"place_ms"`     // validation, backend start (the weights are placed per tower, on first use)
	CompileMs  float64 `json:"compile_ms"`   // the text tower's weights placed (ConvertMs), its graph compiled for one prompt
	FirstRunMs float64 `json:"first_run_ms"` // the first text embedding (tokenise, run, copy back)
	// ToFirstEmbeddingMs is the sum of the four phases above.
	ToFirstEmbeddingMs float64 `json:"to_first_embedding_ms"`
	// ConvertMs is the part of CompileMs spent converting the text tower's weights to their
	// precision and layout and placing them (the image tower's wait for its first image, or for
	// the identity hash).
	ConvertMs float64 `json:"convert_ms"`
	// IdentityMs is the weight identity hash, paid only when a cache or index first needs it.
	IdentityMs float64 `json:"identity_ms"`
	// SecondRunMs is one more embedding of a new prompt of the same length bucket (no compilation).
	SecondRunMs float64 `json:"second_run_ms"`
	// CompileCache is the XLA compilation cache's state after the first embedding: its directory
	// and counters, or why it is off (backend.CompileCacheStatus).
	CompileCache string `json:"compile_cache"`
}

// describeCompileCache is one line about the compilation cache's state.
func describeCompileCache(c backend.CompileCache) string {
	if !c.Enabled {
		return "off (" + c.Reason + ")"
	}
	return fmt.Sprintf("%s: %d hit(s), %d miss(es), %d stored, %d error(s)", c.Dir, c.Hits, c.Misses, c.Stores, c.Errors)
}

// TimeLoad loads nameOrPath with opt and times each phase up to the first embedding of prompt.
func TimeLoad(nameOrPath string, opt cliplib.Options, prompt string) (*LoadReport, error) {
	t0 := time.Now()
	m, err := cliplib.Load(nameOrPath, opt)
	if err != nil {
		return nil, err
	}
	defer m.Close()
	total := time.Since(t0)
	rep := &LoadReport{Model: m.Label(), Machine: Machine(), GoVersion: runtime.Version(),
		Backend: backend.DescribeChoice(m.Encoder().Backend(), m.Encoder().BackendChoice()),
		ReadMs:  ms(m.LoadTimes.Read), PlaceMs: ms(total - m.LoadTimes.Read)}
	length := m.Encoder().TextLength(m.Tokenizer().TokenizeBatch([]string{prompt}))
	t := time.Now()
	if err := m.Encoder().PreCompileText(1, length); err != nil {
		return nil, err
	}
	rep.CompileMs = ms(time.Since(t))
	t = time.Now()
	if _, err := m.EncodeTexts([]string{prompt}); err != nil {
		return nil, err
	}
	rep.FirstRunMs = ms(time.Since(t))
	rep.ToFirstEmbeddingMs = rep.ReadMs + rep.PlaceMs + rep.CompileMs + rep.FirstRunMs
	rep.ConvertMs = ms(m.Encoder().WeightConversionTime())
	rep.CompileCache = describeCompileCache(backend.CompileCacheStatus())
	t = time.Now()
	_ = m.Identity()
	rep.IdentityMs = ms(time.Since(t))
	t = time.Now()
	if _, err := m.EncodeTexts([]string{strings.ToUpper(prompt) + " again"}); err != nil {
		return nil, err
	}
	rep.SecondRunMs = ms(time.Since(t))
	return rep, nil
}

// String formats the report as a small table.
func (r *LoadReport) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "model %s on %s\n", r.Model, r.Backend)
	for _, row := range []struct {
		name string
		v    float64
	}{
		{"read checkpoint", r.ReadMs}, {"check, start backend", r.PlaceMs},
		{"compile text graph", r.CompileMs}, {"  of which text weights", r.ConvertMs},
		{"first embedding", r.FirstRunMs}, {"= to first embedding", r.ToFirstEmbeddingMs},
		{"identity hash (lazy)", r.IdentityMs}, {"next embedding", r.SecondRunMs},
	} {
		fmt.Fprintf(&b, "%-22s %9.1f ms\n", row.name, row.v)
	}
	fmt.Fprintf(&b, "compile cache: %s\n", r.CompileCache)
	return b.String()
}
