package tokenizer

import (
	"fmt"
	"testing"
	"time"
)

// cifarPrompts returns the 18 CIFAR templates × 10 CIFAR-10 classes (180 prompts).
func cifarPrompts() []string {
	templates := []string{"a photo of a %s.", "a blurry photo of a %s.", "a black and white photo of a %s.",
		"a low contrast photo of a %s.", "a high contrast photo of a %s.", "a bad photo of a %s.",
		"a good photo of a %s.", "a photo of a small %s.", "a photo of a big %s.", "a photo of the %s.",
		"a blurry photo of the %s.", "a black and white photo of the %s.", "a low contrast photo of the %s.",
		"a high contrast photo of the %s.", "a bad photo of the %s.", "a good photo of the %s.",
		"a photo of the small %s.", "a photo of the big %s."}
	classes := []string{"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"}
	var out []string
	for _, tmpl := range templates {
		for _, c := range classes {
			out = append(out, fmt.Sprintf(tmpl, c))
		}
	}
	return out
}

// benchTokenize tokenizes texts once per iteration and reports prompts and tokens (BPE tokens,
// without SOT/EOT/padding and without truncation) per wall-clock second and per CPU second of
// the process (see processCPU).
func benchTokenize(b *testing.B, tok *Tokenizer, texts []string) {
	tokens := 0
	for _, s := range texts {
		tokens += len(tok.Encode(s))
	}
	cpu0 := processCPU()
	for b.Loop() {
		for _, s := range texts {
			tok.Tokenize(s)
		}
	}
	reportRates(b, processCPU()-cpu0, len(texts), tokens)
}

// reportRates reports prompts and tokens per wall second and per CPU second for b.N iterations
// of n prompts with the given number of tokens.
func reportRates(b *testing.B, cpu time.Duration, n, tokens int) {
	wall := b.Elapsed().Seconds()
	b.ReportMetric(float64(b.N*n)/wall, "prompts/s")
	if tokens > 0 {
		b.ReportMetric(float64(b.N*tokens)/wall, "tokens/s")
	}
	if cpu > 0 {
		b.ReportMetric(float64(b.N*n)/cpu.Seconds(), "prompts/cpu-s")
		if tokens > 0 {
			b.ReportMetric(float64(b.N*tokens)/cpu.Seconds(), "tokens/cpu-s")
		}
	}
	b.ReportMetric(0, "ns/op")
}

// uncached returns a copy of tok without a word cache (every piece goes through BPE).
func uncached(tok *Tokenizer) *Tokenizer {
	c := *tok
	c.cache = newWordCache(0)
	return &c
}

// BenchmarkTokenize measures Tokenize on one goroutine:
//   - cifar: the 180 CIFAR-10 prompts (ASCII; the word cache is warm after the first pass);
//   - cifar-nocache: the same without the word cache (BPE for every word);
//   - reference: the 941 curated fixture strings (many non-ASCII, HTML, mojibake; ftfy and the
//     Python-exact cleaning do most of the work).
//
// Run: go test ./cliplib/tokenizer -run '^$' -bench Tokenize -benchtime 3s
func BenchmarkTokenize(b *testing.B) {
	tok := mustDefault(b)
	var reference []string
	for _, r := range readFixture(b, "reference.jsonl") {
		reference = append(reference, r.Text)
	}
	b.Run("cifar", func(b *testing.B) { benchTokenize(b, tok, cifarPrompts()) })
	b.Run("cifar-nocache", func(b *testing.B) { benchTokenize(b, uncached(tok), cifarPrompts()) })
	b.Run("reference", func(b *testing.B) { benchTokenize(b, tok, reference) })
	b.Run("reference-nocache", func(b *testing.B) { benchTokenize(b, uncached(tok), reference) })
}

// BenchmarkTokenizeBatch measures TokenizeBatch on 1,800 prompts (10 × the CIFAR set), which
// spreads the work over GOMAXPROCS goroutines.
func BenchmarkTokenizeBatch(b *testing.B) {
	tok := mustDefault(b)
	var texts []string
	for range 10 {
		texts = append(texts, cifarPrompts()...)
	}
	cpu0 := processCPU()
	for b.Loop() {
		tok.TokenizeBatch(texts)
	}
	reportRates(b, processCPU()-cpu0, len(texts), 0)
}

// BenchmarkLoadEmbedded measures building a Tokenizer from the embedded vocabulary (what
// Default does once).
func BenchmarkLoadEmbedded(b *testing.B) {
	cpu0 := processCPU()
	for b.Loop() {
		if _, err := parseOpenAI(embeddedVocab, "embedded"); err != nil {
			b.Fatal(err)
		}
	}
	if cpu := processCPU() - cpu0; cpu > 0 {
		b.ReportMetric(cpu.Seconds()*1e3/float64(b.N), "cpu-ms/op")
	}
}
