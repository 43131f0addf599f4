package tokenizer

import (
	"strings"
	"unicode/utf8"
)

// cleanText is open_clip's `_clean_lower`: whitespace_clean(basic_clean(text)).lower(), where
//
//	basic_clean(t)      = html.unescape(html.unescape(ftfy.fix_text(t))).strip()
//	whitespace_clean(t) = " ".join(t.split()).strip()
//
// All string operations follow Python's definitions (str.split/str.strip whitespace is
// str.isspace(); lower() is Python's full lower-casing with the Final_Sigma rule). Both strips
// are implied by the split, so they are not done separately.
func cleanText(text string) string {
	text = toValidUTF8(text)
	text = fixText(text)
	text = htmlUnescape(htmlUnescape(text))
	return pyLower(whitespaceClean(text))
}

// whitespaceClean is " ".join(text.split()): runs of Python whitespace become one space, and
// leading/trailing whitespace is dropped.
func whitespaceClean(text string) string {
	isASCIIClean := true
	for i := 0; i < len(text); i++ {
		c := text[i]
		if c >= 0x80 || (c <= ' ' && c != ' ') || (c == ' ' && (i == 0 || i == len(text)-1 || text[i+1] == ' ')) {
			isASCIIClean = false
			break
		}
	}
	if isASCIIClean {
		return text
	}
	var b strings.Builder
	b.Grow(len(text))
	inWord := false
	for _, r := range text {
		if isPySpace(r) {
			inWord = false
			continue
		}
		if !inWord && b.Len() > 0 {
			b.WriteByte(' ')
		}
		inWord = true
		b.WriteRune(r)
	}
	return b.String()
}

// pyLower is Python's str.lower(). It differs from Go's strings.ToLower in two ways:
//   - the full (SpecialCasing) mapping: 'İ' (U+0130) becomes "i̇" (U+0069 U+0307) where
//     strings.ToLower and unicode.ToLower give "i";
//   - the Final_Sigma rule: 'Σ' becomes 'ς' when a cased letter precedes it and none follows
//     (case-ignorable characters skipped), as CPython's lower() implements it; Go always
//     gives 'σ'.
//
// The mappings come from the reference Python (Unicode 14.0, tables_gen.go), so the result does
// not change with Go's Unicode version either.
func pyLower(text string) string {
	ascii := true
	for i := 0; i < len(text); i++ {
		if c := text[i]; c >= 0x80 {
			ascii = false
			break
		}
	}
	if ascii {
		return asciiLower(text)
	}
	runes := []rune(text)
	var b strings.Builder
	b.Grow(len(text) + 8)
	for i, r := range runes {
		switch {
		case r < 0x80:
			if r >= 'A' && r <= 'Z' {
				r += 'a' - 'A'
			}
			b.WriteByte(byte(r))
		case r == 'Σ':
			if finalSigma(runes, i) {
				b.WriteRune('ς')
			} else {
				b.WriteRune('σ')
			}
		default:
			if lo, ok := lowerMap[r]; ok {
				b.WriteString(lo)
			} else {
				b.WriteRune(r)
			}
		}
	}
	return b.String()
}

// asciiLower lower-cases an ASCII string, returning it unchanged (no copy) when it has no
// upper-case letter.
func asciiLower(text string) string {
	for i := 0; i < len(text); i++ {
		if c := text[i]; c >= 'A' && c <= 'Z' {
			b := []byte(text)
			for j := i; j < len(b); j++ {
				if c := b[j]; c >= 'A' && c <= 'Z' {
					b[j] = c + 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return text
}

// finalSigma reports whether the 'Σ' at runes[i] is in the Final_Sigma context, following
// CPython's handle_capital_sigma: skip case-ignorable characters backwards, require a cased
// one; skip them forwards, require the end of the text or a character that is not cased.
func finalSigma(runes []rune, i int) bool {
	j := i - 1
	for j >= 0 && pySigmaIgnorable.contains(runes[j]) {
		j--
	}
	if j < 0 || !pySigmaCased.contains(runes[j]) {
		return false
	}
	j = i + 1
	for j < len(runes) && pySigmaIgnorable.contains(runes[j]) {
		j++
	}
	return j == len(runes) || !pySigmaCased.contains(runes[j])
}

// toValidUTF8 returns text unchanged when it is valid UTF-8; otherwise it replaces each
// invalid sequence the way Python's bytes.decode("utf-8", errors="replace") does (one U+FFFD
// per maximal invalid subpart), so that byte input is read as Python would read it.
func toValidUTF8(text string) string {
	if utf8.ValidString(text) {
		return text
	}
	return decodeUTF8Replace([]byte(text))
}
