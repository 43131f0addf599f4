package tokenizer

import (
	"slices"
	"strings"
	"testing"
)

// isPrintableASCII reports whether s has only the bytes 0x20..0x7e.
func isPrintableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// FuzzTokenize checks invariants that hold for every input:
//   - no panic; exactly ContextLength ids; SOT first; the last non-zero id is EOT; ids < VocabSize;
//   - TokenizeBatch gives the same row as Tokenize;
//   - for printable ASCII input, Decode(Encode(x)) is the cleaned lower-cased text with a space
//     after each word (so without spaces both are equal); without '&' (no HTML entities) the
//     cleaned text is simply strings.ToLower(x), an oracle independent of the cleaning code.
//
// Run: go test ./cliplib/tokenizer -run '^$' -fuzz FuzzTokenize -fuzztime 5m
func FuzzTokenize(f *testing.F) {
	for _, s := range []string{"", "a photo of a cat", "Hello World!", "don't ?'d 'll", "İstanbul ΟΔΟΣ",
		"café cafe\u0301", "猫の写真 🐱 👨‍👩‍👧‍👦", "&amp;amp; &#128; &notit;", "âœ” No problems", "ﬁsh ＡＢＣ",
		"\x1b[31mred\x1b[0m", "a\u00a0b\u3000c\td\ne", "<start_of_text><end_of_text>", "<ſtart_of_text>",
		strings.Repeat("cat ", 100), "\xff\xfe invalid", "Ã la mode", "\xc3\x83\xc2\xa9",
		// Long pieces, tokenised from a prefix by Tokenize (longPiece bytes and more).
		strings.Repeat("abcdefghij", 500), strings.Repeat("a", 9000), strings.Repeat("é", 3000) + "x",
		"word " + strings.Repeat("zq", 4000) + " after"} {
		f.Add(s)
	}
	tok, err := Default()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, text string) {
		ids := tok.Tokenize(text)
		if len(ids) != ContextLength {
			t.Fatalf("%d ids, want %d", len(ids), ContextLength)
		}
		if ids[0] != SOT {
			t.Fatalf("first id %d, want SOT", ids[0])
		}
		last := -1
		for i, id := range ids {
			if id < 0 || id >= VocabSize {
				t.Fatalf("id %d at %d out of range", id, i)
			}
			if id != Pad {
				last = i
			}
		}
		if ids[last] != EOT {
			t.Fatalf("last non-zero id %d at %d, want EOT: %v", ids[last], last, ids)
		}
		if row := tok.TokenizeBatch([]string{text})[0]; !slices.Equal(row, ids) {
			t.Fatalf("TokenizeBatch row %v differs from Tokenize %v", row, ids)
		}
		// Stopping at the 77 kept ids (and long pieces from a prefix) changes nothing.
		if want := fullTokenize(tok, text); !slices.Equal(ids, want) {
			t.Fatalf("Tokenize %v differs from tokenising everything then truncating %v", ids, want)
		}
		if !isPrintableASCII(text) {
			return
		}
		decoded := tok.Decode(tok.Encode(text))
		clean := cleanText(text)
		if !strings.ContainsRune(text, '&') && clean != strings.ToLower(strings.Join(strings.Fields(text), " ")) {
			t.Fatalf("cleaned %q, want the lower-cased, space-normalised input", clean)
		}
		if strings.ReplaceAll(decoded, " ", "") != strings.ReplaceAll(clean, " ", "") {
			t.Fatalf("Decode(Encode(%q)) = %q, cleaned text %q", text, decoded, clean)
		}
		if decoded != "" && !strings.HasSuffix(decoded, " ") && !strings.HasSuffix(decoded, "_of_text>") {
			t.Fatalf("Decode(Encode(%q)) = %q does not end with a word end", text, decoded)
		}
	})
}
