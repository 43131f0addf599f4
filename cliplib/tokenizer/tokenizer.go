package tokenizer

import (
	"bufio"
	"bytes"
	"compress/gzip"
	_ "embed"
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/clipkit/clipkit/internal/readlimit"
)

// Token ids and sizes of the CLIP vocabulary (bpe_simple_vocab_16e6).
const (
	// SOT is the start-of-text id, the first id of every Tokenize result.
	SOT = 49406
	// EOT is the end-of-text id; CLIP text towers pool the features at its (first) position.
	EOT = 49407
	// ContextLength is the number of ids Tokenize returns unless changed with
	// WithContextLength (all CLIP and MobileCLIP text towers use 77).
	ContextLength = 77
	// VocabSize is the number of token ids: 256 byte symbols, the same 256 with "</w>",
	// 48,894 merges, SOT and EOT.
	VocabSize = 49408
	// Pad is the id Tokenize pads with after EOT (0 in OpenAI CLIP and open_clip; it is also
	// the token "!", which is harmless because the towers pool at EOT).
	Pad = 0
)

// NumMerges is the number of merge rules open_clip (and OpenAI CLIP, and HF's CLIPTokenizer)
// read from a vocabulary file: lines 1 … 48,894, the Python slice [1 : 49152-256-2+1].
const NumMerges = 49152 - 256 - 2

// DefaultCacheSize is the bound on the BPE word cache of Default, Load and LoadHF, in pieces
// (pre-tokenised words); when it is reached the cache starts over empty. Prompt sets use a few
// thousand distinct pieces.
const DefaultCacheSize = 1 << 16

// VocabSHA256 is the sha256 (hex) of the embedded bpe_simple_vocab_16e6.txt.gz, the file
// OpenAI's CLIP repository and open_clip ship (MIT licence).
const VocabSHA256 = "924691ac288e54409236115652ad4aa250f48203de50a9e4722a6ecd48d6804a"

//go:embed bpe_simple_vocab_16e6.txt.gz
var embeddedVocab []byte

// Special-token strings. open_clip matches these literals in the text (case-insensitively,
// see preTokenize) and stores them in its vocabulary at SOT and EOT. OpenAI's tokenizer and HF
// spell them <|startoftext|> and <|endoftext|>.
const (
	sotLiteral   = "<start_of_text>"
	eotLiteral   = "<end_of_text>"
	sotLiteralHF = "<|startoftext|>"
	eotLiteralHF = "<|endoftext|>"
)

// Tokenizer is the CLIP byte-level BPE tokenizer, identical to open_clip's SimpleTokenizer with
// its default "lower" cleaning (see the package documentation for the exact pipeline). A
// Tokenizer is immutable after loading, except for its bounded word cache, and is safe for
// concurrent use.
type Tokenizer struct {
	vocab       []string         // id -> token string (byte-encoded, "</w>" marks a word end)
	byteTok     [256]int32       // id of each byte as a symbol inside a word
	byteEndTok  [256]int32       // id of each byte as the last symbol of a word ("</w>")
	merges      map[uint64]merge // (left id, right id) -> rank and merged id
	byteDecoder map[rune]byte    // inverse of bytes_to_unicode
	sot, eot    int32            // start/end-of-text ids
	ctxLen      int              // ids per Tokenize result
	cache       *wordCache       // piece -> ids; shared with WithContextLength copies
	wellFounded bool             // merges only use symbols of lower-ranked merges (bpeHeap is exact)
}

var defaultOnce = sync.OnceValues(func() (*Tokenizer, error) {
	return parseOpenAI(embeddedVocab, "embedded bpe_simple_vocab_16e6.txt.gz")
})

// Default returns the tokenizer built from the embedded OpenAI vocabulary (no file or network
// access). It is built once and shared; it uses context length ContextLength.
func Default() (*Tokenizer, error) { return defaultOnce() }

// maxVocabFile bounds a vocabulary file (CLIP's are under 2 MiB); only regular files are read.
const maxVocabFile = 64 << 20

// Load reads an OpenAI-format vocabulary file (bpe_simple_vocab_16e6.txt.gz, gzip-compressed or
// plain text): a header line, then one merge a line as two space-separated symbols. Like
// open_clip, it uses the first NumMerges merges.
func Load(path string) (*Tokenizer, error) {
	data, err := readlimit.ReadFile(path, maxVocabFile)
	if err != nil {
		return nil, fmt.Errorf("tokenizer.Load: %w", err)
	}
	return parseOpenAI(data, path)
}

// LoadHF reads a HuggingFace CLIPTokenizer vocabulary: vocab.json (a JSON object from token
// string to id) and merges.txt (a "#version" header line, then one merge a line). Like HF's
// CLIPTokenizer it uses the first NumMerges merges. The start/end tokens are the vocabulary's
// "<|startoftext|>" and "<|endoftext|>" (or open_clip's "<start_of_text>"/"<end_of_text>");
// the literals recognised in the text stay open_clip's, so the ids equal Default's for the
// CLIP vocabulary. (They are not always those of transformers' CLIPTokenizer, whose text
// cleaning differs; see the package documentation.)
func LoadHF(vocabJSON, mergesTXT string) (*Tokenizer, error) {
	vdata, err := readlimit.ReadFile(vocabJSON, maxVocabFile)
	if err != nil {
		return nil, fmt.Errorf("tokenizer.LoadHF: %w", err)
	}
	mdata, err := readlimit.ReadFile(mergesTXT, maxVocabFile)
	if err != nil {
		return nil, fmt.Errorf("tokenizer.LoadHF: %w", err)
	}
	var v map[string]int
	if err := json.Unmarshal(vdata, &v); err != nil {
		return nil, fmt.Errorf("tokenizer.LoadHF: %s: expected a JSON object from token to id: %w", vocabJSON, err)
	}
	if len(v) == 0 {
		return nil, fmt.Errorf("tokenizer.LoadHF: %s: empty vocabulary", vocabJSON)
	}
	vocab := make([]string, len(v))
	seen := make([]bool, len(v))
	for tok, id := range v {
		if id < 0 || id >= len(v) {
			return nil, fmt.Errorf("tokenizer.LoadHF: %s: token %q has id %d, expected ids 0…%d (one per token)", vocabJSON, tok, id, len(v)-1)
		}
		if seen[id] {
			return nil, fmt.Errorf("tokenizer.LoadHF: %s: id %d belongs to two tokens (one is %q)", vocabJSON, id, tok)
		}
		seen[id], vocab[id] = true, tok
	}
	lines, firstLine := strings.Split(string(mdata), "\n"), 1
	if strings.HasPrefix(lines[0], "#version") {
		lines, firstLine = lines[1:], 2
	}
	merges, err := parseMergeLines(lines, firstLine, mergesTXT, true)
	if err != nil {
		return nil, fmt.Errorf("tokenizer.LoadHF: %w", err)
	}
	sotTok, eotTok := sotLiteralHF, eotLiteralHF
	if _, ok := v[sotTok]; !ok {
		sotTok, eotTok = sotLiteral, eotLiteral
	}
	t, err := build(vocab, merges, sotTok, eotTok, vocabJSON)
	if err != nil {
		return nil, fmt.Errorf("tokenizer.LoadHF: %w", err)
	}
	return t, nil
}

// parseOpenAI builds a Tokenizer from the bytes of an OpenAI-format vocabulary file. Only the
// header and the first NumMerges merge lines are read (the file has 262,145 lines).
func parseOpenAI(data []byte, name string) (*Tokenizer, error) {
	var r io.Reader = bytes.NewReader(data)
	if len(data) >= 2 && data[0] == 0x1f && data[1] == 0x8b {
		zr, err := gzip.NewReader(r)
		if err != nil {
			return nil, fmt.Errorf("tokenizer: %s: bad gzip data: %w", name, err)
		}
		r = zr
	}
	sc := bufio.NewScanner(r)
	lines := make([]string, 0, 1+NumMerges)
	for len(lines) < 1+NumMerges && sc.Scan() {
		if !utf8.Valid(sc.Bytes()) {
			return nil, fmt.Errorf("tokenizer: %s:%d: not UTF-8 text", name, len(lines)+1)
		}
		lines = append(lines, sc.Text())
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("tokenizer: %s: %w", name, err)
	}
	if len(lines) < 1+NumMerges {
		return nil, fmt.Errorf("tokenizer: %s: %d lines, expected a header and at least %d merge lines", name, len(lines), NumMerges)
	}
	merges, err := parseMergeLines(lines[1:], 2, name, false)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	// The vocabulary as open_clip builds it: bytes, bytes with "</w>", merge results, specials.
	byteSyms := bytesToUnicode()
	vocab := make([]string, 0, 512+len(merges)+2)
	for _, b := range byteOrder() {
		vocab = append(vocab, string(byteSyms[b]))
	}
	for _, b := range byteOrder() {
		vocab = append(vocab, string(byteSyms[b])+"</w>")
	}
	for _, m := range merges {
		vocab = append(vocab, m[0]+m[1])
	}
	vocab = append(vocab, sotLiteral, eotLiteral)
	return build(vocab, merges, sotLiteral, eotLiteral, name)
}

// parseMergeLines parses merge lines ("left right"), keeping at most NumMerges merges. Empty
// lines are skipped when skipEmpty (HF files end with one) and are an error otherwise (open_clip
// would turn one into an empty merge and shift every later id). firstLine is the 1-based line
// number of lines[0], for error messages.
func parseMergeLines(lines []string, firstLine int, name string, skipEmpty bool) ([][2]string, error) {
	merges := make([][2]string, 0, NumMerges)
	for i, line := range lines {
		if len(merges) == NumMerges {
			break
		}
		f := strings.Fields(line)
		if len(f) == 0 && skipEmpty {
			continue
		}
		if len(f) != 2 {
			return nil, fmt.Errorf("%s:%d: merge line %q has %d fields, expected two symbols", name, firstLine+i, line, len(f))
		}
		merges = append(merges, [2]string{f[0], f[1]})
	}
	return merges, nil
}

// build assembles the lookup tables. vocab[i] is the token string of id i.
func build(vocab []string, merges [][2]string, sotTok, eotTok, name string) (*Tokenizer, error) {
	t := &Tokenizer{
		vocab:       vocab,
		merges:      make(map[uint64]merge, len(merges)),
		byteDecoder: make(map[rune]byte, 256),
		ctxLen:      ContextLength,
		cache:       newWordCache(DefaultCacheSize),
	}
	tokenToID := make(map[string]int32, len(vocab))
	syms := bytesToUnicode()
	for b, r := range syms {
		t.byteDecoder[r] = byte(b)
	}
	for id, tok := range vocab {
		tokenToID[tok] = int32(id) // a repeated string keeps its last id, as in a Python dict
	}
	for id, tok := range vocab {
		for _, r := range tok {
			if _, ok := t.byteDecoder[r]; !ok {
				return nil, fmt.Errorf("%s: token %d (%q) has %q, which is not a byte symbol of the CLIP byte-level alphabet", name, id, tok, r)
			}
		}
	}
	for b, r := range syms {
		id, ok := tokenToID[string(r)]
		idEnd, okEnd := tokenToID[string(r)+"</w>"]
		if !ok || !okEnd {
			return nil, fmt.Errorf("%s: the vocabulary lacks the byte symbol %q or %q (byte 0x%02x)", name, string(r), string(r)+"</w>", b)
		}
		t.byteTok[b], t.byteEndTok[b] = id, idEnd
	}
	for rank, m := range merges {
		left, okL := tokenToID[m[0]]
		right, okR := tokenToID[m[1]]
		merged, okM := tokenToID[m[0]+m[1]]
		if !okM {
			return nil, fmt.Errorf("%s: merge %d (%q %q): the merged token %q is not in the vocabulary", name, rank, m[0], m[1], m[0]+m[1])
		}
		if !okL || !okR {
			continue // a symbol that is not in the vocabulary never occurs in a word
		}
		t.merges[mergeKey(left, right)] = merge{rank: int32(rank), id: merged} // later duplicates win, as in a Python dict
	}
	t.wellFounded = isWellFounded(merges, len(t.merges))
	var ok bool
	if t.sot, ok = tokenToID[sotTok]; !ok {
		return nil, fmt.Errorf("%s: the vocabulary has no start-of-text token %q", name, sotTok)
	}
	if t.eot, ok = tokenToID[eotTok]; !ok {
		return nil, fmt.Errorf("%s: the vocabulary has no end-of-text token %q", name, eotTok)
	}
	return t, nil
}

// byteOrder returns the bytes in the order of OpenAI's bytes_to_unicode dictionary: the 188
// printable Latin-1 bytes (33–126, 161–172, 174–255) first, then the other 68 in increasing
// order. Token ids 0–255 follow this order.
func byteOrder() []byte {
	order := make([]byte, 0, 256)
	printable := func(b int) bool { return b >= 33 && b <= 126 || b >= 161 && b <= 172 || b >= 174 }
	for b := 0; b < 256; b++ {
		if printable(b) {
			order = append(order, byte(b))
		}
	}
	for b := 0; b < 256; b++ {
		if !printable(b) {
			order = append(order, byte(b))
		}
	}
	return order
}

// bytesToUnicode is OpenAI's bytes_to_unicode: printable Latin-1 bytes map to the code point
// with the same number, the other 68 bytes to U+0100, U+0101, … in increasing byte order.
func bytesToUnicode() [256]rune {
	var m [256]rune
	order := byteOrder()
	for i, b := range order {
		if i < 188 {
			m[b] = rune(b)
		} else {
			m[b] = rune(256 + i - 188)
		}
	}
	return m
}

// WithContextLength returns a Tokenizer that makes n ids per Tokenize result and shares
// everything else (tables and word cache) with t. n must be at least 2 (SOT and EOT).
func (t *Tokenizer) WithContextLength(n int) (*Tokenizer, error) {
	if n < 2 {
		return nil, fmt.Errorf("tokenizer: context length %d, expected at least 2 (room for SOT and EOT)", n)
	}
	c := *t
	c.ctxLen = n
	return &c, nil
}

// ContextLength returns the number of ids Tokenize returns.
func (t *Tokenizer) ContextLength() int { return t.ctxLen }

// SOT returns the start-of-text id (49406 for the CLIP vocabulary).
func (t *Tokenizer) SOT() int { return int(t.sot) }

// EOT returns the end-of-text id (49407 for the CLIP vocabulary).
func (t *Tokenizer) EOT() int { return int(t.eot) }

// VocabSize returns the number of token ids (49408 for the CLIP vocabulary).
func (t *Tokenizer) VocabSize() int { return len(t.vocab) }

// Encode returns the BPE ids of text, without SOT/EOT and without truncation, as open_clip's
// SimpleTokenizer.encode does. A literal "<start_of_text>" or "<end_of_text>" in the text
// encodes to SOT or EOT.
func (t *Tokenizer) Encode(text string) []int {
	ids := t.encodeAppend(nil, text)
	out := make([]int, len(ids))
	for i, id := range ids {
		out[i] = int(id)
	}
	return out
}

// encodeAppend appends the BPE ids of text to dst.
func (t *Tokenizer) encodeAppend(dst []int32, text string) []int32 {
	return t.encodeAppendLimit(dst, text, -1)
}

// encodeAppendLimit is encodeAppend that stops once dst holds at least limit ids (limit < 0: no
// limit). Pieces are tokenised independently, so the ids it returns are the first ids of the
// unlimited result; a piece longer than longPiece is tokenised from a prefix (see bpePrefix).
func (t *Tokenizer) encodeAppendLimit(dst []int32, text string, limit int) []int32 {
	pt := preTokenizer{text: cleanText(text)}
	for limit < 0 || len(dst) < limit {
		piece, kind, ok := pt.next()
		if !ok {
			return dst
		}
		if kind == pieceSpecial {
			if piece == sotLiteral {
				dst = append(dst, t.sot)
				continue
			}
			if piece == eotLiteral {
				dst = append(dst, t.eot)
				continue
			}
		}
		if ids, ok := t.cache.get(piece); ok {
			dst = append(dst, ids...)
			continue
		}
		if limit >= 0 && len(piece) > longPiece {
			dst = t.bpePrefix(dst, piece, limit-len(dst))
			continue
		}
		start := len(dst)
		dst = t.bpeWord(dst, piece)
		if len(piece) <= maxCachedPiece {
			t.cache.put(piece, slices.Clone(dst[start:]))
		}
	}
	return dst
}

// maxCachedPiece is the longest piece (bytes) kept in the word cache: longer ones are rare and
// would pin their text in memory.
const maxCachedPiece = 256

// Tokenize returns the model input for text: shape [ContextLength()] (77 by default), holding
// SOT, the BPE ids, EOT, then Pad (0). Text longer than fits is truncated and its last id
// replaced by EOT, as open_clip does (OpenAI's clip.tokenize does the same with truncate=True).
func (t *Tokenizer) Tokenize(text string) []int32 {
	out := make([]int32, t.ctxLen)
	var scratch [2 * ContextLength]int32
	t.tokenizeInto(out, text, scratch[:0])
	return out
}

// tokenizeInto writes the Tokenize result for text into out (len(out) == ctxLen); scratch is
// reused for the BPE ids and returned.
func (t *Tokenizer) tokenizeInto(out []int32, text string, scratch []int32) []int32 {
	ids := append(scratch[:0], t.sot)
	// Only len(out) ids are kept: stop once there are that many (then the text is truncated).
	ids = t.encodeAppendLimit(ids, text, len(out))
	ids = append(ids, t.eot)
	if len(ids) > len(out) {
		ids = ids[:len(out)]
		ids[len(out)-1] = t.eot
	}
	n := copy(out, ids)
	clear(out[n:])
	return ids
}

// TokenizeBatch tokenizes each text: shape [len(texts)][ContextLength()], rows backed by one
// array. Large batches are split across GOMAXPROCS goroutines.
func (t *Tokenizer) TokenizeBatch(texts []string) [][]int32 {
	flat := make([]int32, len(texts)*t.ctxLen)
	rows := make([][]int32, len(texts))
	for i := range texts {
		rows[i] = flat[i*t.ctxLen : (i+1)*t.ctxLen : (i+1)*t.ctxLen]
	}
	workers := min(runtime.GOMAXPROCS(0), len(texts)/16)
	if workers <= 1 {
		var scratch []int32
		for i, text := range texts {
			scratch = t.tokenizeInto(rows[i], text, scratch)
		}
		return rows
	}
	var wg sync.WaitGroup
	chunk := (len(texts) + workers - 1) / workers
	for lo := 0; lo < len(texts); lo += chunk {
		hi := min(lo+chunk, len(texts))
		wg.Add(1)
		go func() {
			defer wg.Done()
			var scratch []int32
			for i := lo; i < hi; i++ {
				scratch = t.tokenizeInto(rows[i], texts[i], scratch)
			}
		}()
	}
	wg.Wait()
	return rows
}

// Decode turns ids back into text as open_clip's SimpleTokenizer.decode does: the token
// strings are concatenated, mapped back to bytes, decoded as UTF-8 (each invalid sequence
// becomes U+FFFD, as Python's errors="replace" does), and every "</w>" becomes a space. So
// Decode(Encode(x)) is the cleaned, lower-cased text with a space after each word-final token
// (e.g. "hello world ! " for "Hello World!"). SOT, EOT and Pad are decoded like any id
// ("<start_of_text>", "<end_of_text>", "!"): strip them first when decoding a Tokenize row.
// Ids outside [0, VocabSize()) decode to U+FFFD.
func (t *Tokenizer) Decode(ids []int) string {
	var raw []byte
	var sb strings.Builder
	flush := func() {
		if len(raw) > 0 {
			sb.WriteString(decodeUTF8Replace(raw))
			raw = raw[:0]
		}
	}
	for _, id := range ids {
		if id < 0 || id >= len(t.vocab) {
			flush()
			sb.WriteRune(utf8.RuneError)
			continue
		}
		for _, r := range t.vocab[id] {
			raw = append(raw, t.byteDecoder[r])
		}
	}
	flush()
	return strings.ReplaceAll(sb.String(), "</w>", " ")
}

// isWellFounded reports whether every merge only combines symbols that are bytes or results
// of lower-ranked merges, with no merge listed twice and no token made twice. BPE training
// always produces such lists (bpe_simple_vocab_16e6 is one); bpeHeap relies on it.
func isWellFounded(merges [][2]string, usable int) bool {
	if usable != len(merges) {
		return false // duplicate pairs, or merges whose symbols are not in the vocabulary
	}
	isByteSymbol := func(sym string) bool {
		return utf8.RuneCountInString(strings.TrimSuffix(sym, "</w>")) == 1
	}
	made := make(map[string]bool, len(merges))
	for _, m := range merges {
		for _, sym := range m {
			if !made[sym] && !isByteSymbol(sym) {
				return false
			}
		}
		merged := m[0] + m[1]
		if made[merged] || isByteSymbol(merged) {
			return false
		}
		made[merged] = true
	}
	return true
}
