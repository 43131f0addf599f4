package tokenizer

import (
	"strings"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// This file is a Go translation of ftfy 6.3.1's fix_text with its default configuration
// (TextFixerConfig()), the first step of CLIP's basic_clean. ftfy has no Go equivalent, so it
// is written here by hand. Every default fix is implemented, in ftfy's order:
//
//	unescape_html ("auto"), fix_encoding (mojibake repair, with restore_byte_a0,
//	replace_lossy_sequences, decode_inconsistent_utf8 and fix_c1_controls; see
//	ftfy_encoding.go), fix_c1_controls, fix_latin_ligatures, fix_character_width,
//	uncurl_quotes, fix_line_breaks, fix_surrogates, remove_terminal_escapes,
//	remove_control_chars, then NFC normalization; repeated until the text stops changing,
//	on segments that end after each "\n" (at most 1,000,000 code points each).
//
// What is not reproduced bit for bit (see also the package documentation):
//   - fix_surrogates: Go strings hold UTF-8, which cannot carry UTF-16 surrogates, so there is
//     nothing to fix; invalid UTF-8 input is first decoded as Python's
//     bytes.decode("utf-8", "replace") would decode it.
//   - NFC comes from golang.org/x/text/unicode/norm (Unicode 15.0) while Python 3.11's
//     unicodedata is Unicode 14.0. Decompositions agree on every code point; the canonical
//     combining class differs for 10 code points added in Unicode 15.0 (U+10EFD..U+10EFF,
//     U+11F41, U+11F42, U+1E08F, U+1E4EC..U+1E4EF), so a run of combining marks containing one
//     of them may be reordered where Python leaves it (TestNFCCombiningClassesMatchPython).

// maxFixIterations bounds ftfy's "repeat until unchanged" loop. ftfy has no bound; every input
// seen converges in a few rounds, and the bound only turns a (hypothetical) cycle into a result
// instead of a hang.
const maxFixIterations = 64

// ftfyMaxSegment is ftfy's max_decode_length (code points per segment).
const ftfyMaxSegment = 1_000_000

// fixText is ftfy.fix_text(text) with the default configuration.
func fixText(text string) string {
	if isPlainASCII(text) {
		return text
	}
	var out strings.Builder
	out.Grow(len(text))
	unescape := true // unescape_html="auto": turned off for good once a segment has '<'
	for pos := 0; pos < len(text); {
		end := len(text)
		if nl := strings.IndexByte(text[pos:], '\n'); nl >= 0 {
			end = pos + nl + 1
		}
		if utf8.RuneCountInString(text[pos:end]) > ftfyMaxSegment {
			end = pos
			for n := 0; n < ftfyMaxSegment; n++ {
				_, size := utf8.DecodeRuneInString(text[end:])
				end += size
			}
		}
		segment := text[pos:end]
		if unescape && strings.IndexByte(segment, '<') >= 0 {
			unescape = false
		}
		out.WriteString(fixSegment(segment, unescape))
		pos = end
	}
	return out.String()
}

// isPlainASCII reports whether fix_text provably leaves text unchanged: printable ASCII plus
// tab, newline and form feed, and no '&'.
func isPlainASCII(text string) bool {
	for i := 0; i < len(text); i++ {
		c := text[i]
		if c >= 0x7f || c == '&' || (c < 0x20 && c != '\t' && c != '\n' && c != '\f') {
			return false
		}
	}
	return true
}

// fixSegment is ftfy.fix_and_explain(segment) without the explanation.
func fixSegment(text string, unescape bool) string {
	for range maxFixIterations {
		orig := text
		if unescape {
			text = ftfyUnescapeHTML(text)
		}
		text = fixEncoding(text)
		text = fixC1Controls(text)
		text = mapRunes(text, func(r rune) (string, bool) {
			if s, ok := ftfyLigatures[r]; ok {
				return s, true
			}
			return "", false
		})
		text = mapRunes(text, func(r rune) (string, bool) {
			if s, ok := ftfyWidth[r]; ok {
				return s, true
			}
			return "", false
		})
		text = mapRunes(text, uncurlQuote)
		text = fixLineBreaks(text)
		text = removeTerminalEscapes(text)
		text = mapRunes(text, func(r rune) (string, bool) {
			if ftfyControlSet[r] {
				return "", true
			}
			return "", false
		})
		text = norm.NFC.String(text)
		if text == orig {
			break
		}
	}
	return text
}

// mapRunes replaces each rune for which f returns ok with f's string; it returns text itself
// when nothing changes.
func mapRunes(text string, f func(rune) (string, bool)) string {
	var b *strings.Builder
	last := 0
	for i, r := range text {
		if r < 0x80 && r >= 0x20 && r != 0x7f {
			continue // no fixer maps printable ASCII
		}
		s, ok := f(r)
		if !ok {
			continue
		}
		if b == nil {
			b = &strings.Builder{}
			b.Grow(len(text))
		}
		b.WriteString(text[last:i])
		b.WriteString(s)
		last = i + utf8.RuneLen(r)
	}
	if b == nil {
		return text
	}
	b.WriteString(text[last:])
	return b.String()
}

// uncurlQuote is ftfy's uncurl_quotes: U+02BC and U+2018..U+201B become "'", U+201C..U+201F
// become '"'.
func uncurlQuote(r rune) (string, bool) {
	switch {
	case r == 0x02bc || r >= 0x2018 && r <= 0x201b:
		return "'", true
	case r >= 0x201c && r <= 0x201f:
		return "\"", true
	}
	return "", false
}

// fixC1Controls is ftfy's fix_c1_controls: each U+0080..U+009F is read as a byte of
// sloppy-windows-1252.
func fixC1Controls(text string) string {
	return mapRunes(text, func(r rune) (string, bool) {
		if r >= 0x80 && r <= 0x9f {
			return string(sloppy1252.decode[r]), true
		}
		return "", false
	})
}

// fixLineBreaks is ftfy's fix_line_breaks: "\r\n", "\r", U+2028, U+2029 and U+0085 become "\n".
func fixLineBreaks(text string) string {
	if strings.IndexByte(text, '\r') < 0 && !strings.ContainsAny(text, "\u2028\u2029\u0085") {
		return text
	}
	var b strings.Builder
	b.Grow(len(text))
	for i := 0; i < len(text); {
		r, size := utf8.DecodeRuneInString(text[i:])
		switch r {
		case '\r':
			b.WriteByte('\n')
			if i+1 < len(text) && text[i+1] == '\n' {
				size = 2
			}
		case 0x2028, 0x2029, 0x85:
			b.WriteByte('\n')
		default:
			b.WriteString(text[i : i+size])
		}
		i += size
	}
	return b.String()
}

// removeTerminalEscapes is ftfy's remove_terminal_escapes: it deletes the matches of
// "\x1b\[((?:\d|;)*)([a-zA-Z])", where \d is Python's Unicode decimal digit.
func removeTerminalEscapes(text string) string {
	if strings.IndexByte(text, 0x1b) < 0 {
		return text
	}
	var b strings.Builder
	b.Grow(len(text))
	for i := 0; i < len(text); {
		if text[i] == 0x1b && i+1 < len(text) && text[i+1] == '[' {
			j := i + 2
			for j < len(text) {
				r, size := utf8.DecodeRuneInString(text[j:])
				if r != ';' && !(r >= '0' && r <= '9') && !(r >= 0x80 && pyDecimal.contains(r)) {
					break
				}
				j += size
			}
			if j < len(text) && (text[j] >= 'a' && text[j] <= 'z' || text[j] >= 'A' && text[j] <= 'Z') {
				i = j + 1
				continue
			}
		}
		b.WriteByte(text[i])
		i++
	}
	return b.String()
}

// ftfyUnescapeHTML is ftfy.fixes.unescape_html: matches of `&#?[0-9A-Za-z]{1,24};` are
// replaced when they are HTML5 names ending in ';' (or the all-caps forms ftfy adds), or
// numeric references that html.unescape decodes completely.
func ftfyUnescapeHTML(text string) string {
	return replaceAtAmpersands(text, func(t string) (int, string, bool) {
		j := 1
		if j < len(t) && t[j] == '#' {
			j++
		}
		k := j
		for k < len(t) && k-j < 25 && isASCIIAlnum(t[k]) {
			k++
		}
		if k == j || k-j > 24 || k >= len(t) || t[k] != ';' {
			return 0, "", false
		}
		return k + 1, unescapeEntity(t[:k+1]), true
	})
}

// unescapeEntity is ftfy.fixes._unescape_fixup for one matched entity such as "&eacute;".
func unescapeEntity(ent string) string {
	if v, ok := ftfyEntityMap[ent]; ok {
		return v
	}
	if strings.HasPrefix(ent, "&#") {
		if u := htmlUnescape(ent); strings.IndexByte(u, ';') < 0 {
			return u
		}
	}
	return ent
}

func isASCIIAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}
