package tokenizer

import "unicode/utf8"

// Pre-tokenisation: open_clip splits the cleaned text with
//
//	regex.findall(r"<start_of_text>|<end_of_text>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+",
//	              text, flags=regex.IGNORECASE)
//
// This is a hand-written scanner over runes instead of a Go regexp, for three reasons:
//   - RE2's \s is ASCII-only and its \p{L}/\p{N} follow Go's Unicode tables, while the
//     reference uses the `regex` module's Unicode tables (a newer Unicode version); the scanner
//     uses the class of each code point as that module computes it (tables_gen.go).
//   - IGNORECASE in the `regex` module compares letters by simple case folding, so the
//     literal parts of the pattern also accept e.g. U+017F 'ſ' for 's' ("'ſ" is a contraction,
//     "<ſtart_of_text>" a special-token match that is then BPE-encoded as one word), and the
//     class `[^\s\p{L}\p{N}]` rejects U+0345, whose case partner is a letter: findall skips
//     it. The scanner reproduces both; an RE2 (?i) pattern would not.
//   - It is one pass with a table lookup per rune and no allocation besides the output slice.

// specialLiterals are the special-token alternatives, tried first and in this order.
var specialLiterals = [2]string{"<start_of_text>", "<end_of_text>"}

// contractions are the contraction alternatives (after the apostrophe), in pattern order.
var contractions = [7]string{"s", "t", "re", "ve", "m", "ll", "d"}

// matchFolded reports whether text starts with lit under the pattern's IGNORECASE rules and
// returns the matched length in bytes. lit is ASCII; its letters match their fold sets, other
// characters match only themselves.
func matchFolded(text, lit string) (int, bool) {
	n := 0
	for i := 0; i < len(lit); i++ {
		if n >= len(text) {
			return 0, false
		}
		c := lit[i]
		r, size := rune(text[n]), 1
		if r >= utf8.RuneSelf {
			r, size = utf8.DecodeRuneInString(text[n:])
		}
		if c >= 'a' && c <= 'z' {
			if r != rune(c) && !foldSets[c-'a'][r] {
				return 0, false
			}
		} else if r != rune(c) {
			return 0, false
		}
		n += size
	}
	return n, true
}

// pieceKind tells how a piece was matched.
type pieceKind uint8

const (
	pieceWord    pieceKind = iota // any BPE-encoded piece
	pieceSpecial                  // matched a special-token alternative
)

// preTokenizer yields the pieces regex.findall would return, in order.
type preTokenizer struct {
	text string
	i    int // byte offset of the next unread rune
}

// next returns the next piece, or ok == false at the end of the text.
func (p *preTokenizer) next() (piece string, kind pieceKind, ok bool) {
	text := p.text
	for p.i < len(text) {
		i := p.i
		c := text[i]
		if c == '<' {
			for _, lit := range specialLiterals {
				if n, ok := matchFolded(text[i:], lit); ok {
					p.i += n
					return text[i : i+n], pieceSpecial, true
				}
			}
		} else if c == '\'' {
			for _, lit := range contractions {
				if n, ok := matchFolded(text[i+1:], lit); ok {
					p.i += 1 + n
					return text[i : i+1+n], pieceWord, true
				}
			}
		}
		r, size := rune(c), 1
		if c >= utf8.RuneSelf {
			r, size = utf8.DecodeRuneInString(text[i:])
		}
		switch cls := preClass(r); cls {
		case classLetter, classOther:
			j := i + size
			for j < len(text) {
				r2, s2 := rune(text[j]), 1
				if r2 >= utf8.RuneSelf {
					r2, s2 = utf8.DecodeRuneInString(text[j:])
				}
				if preClass(r2) != cls {
					break
				}
				j += s2
			}
			p.i = j
			return text[i:j], pieceWord, true
		case classNumber:
			p.i += size
			return text[i : i+size], pieceWord, true
		default: // classSkip: whitespace and the few code points no alternative matches
			p.i += size
		}
	}
	return "", pieceWord, false
}
