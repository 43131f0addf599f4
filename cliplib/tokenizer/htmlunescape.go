package tokenizer

import (
	"strings"
	"unicode/utf8"
)

// htmlUnescape is Python's html.unescape (CPython 3.11, HTML5 rules). Go's html.UnescapeString
// agrees with it on named references, with and without ';' (both take the longest legacy name
// that prefixes the run), but not on numeric references to the code points HTML5 calls
// invalid: Python drops "&#1;", "&#11;", "&#xfffe;", Go keeps U+0001, U+000B, U+FFFE
// (TestHTMLUnescapeDiffersFromGoStdlib). Hence this translation.
//
// Python matches `&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)` and replaces:
//   - numeric references through the HTML5 table of C1/NUL/CR replacements, then surrogates and
//     values above U+10FFFF become U+FFFD, HTML5-invalid code points become "", the rest chr(n);
//   - names found in html.entities.html5 by their value; otherwise the longest prefix (at least
//     two characters) that is a name, followed by the rest; otherwise the text is kept.
func htmlUnescape(s string) string {
	return replaceAtAmpersands(s, func(t string) (int, string, bool) {
		n, repl, ok := matchCharref(t[1:])
		return 1 + n, repl, ok
	})
}

// replaceAtAmpersands scans s left to right like a regexp substitution whose pattern starts
// with '&': at each '&' not inside an earlier match, match(t) is given the text from that '&'
// on and returns the length of its match in bytes and the replacement, or ok == false.
func replaceAtAmpersands(s string, match func(t string) (n int, repl string, ok bool)) string {
	i := strings.IndexByte(s, '&')
	if i < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	b.WriteString(s[:i])
	for i < len(s) {
		// s[i] == '&'
		if n, repl, ok := match(s[i:]); ok {
			b.WriteString(repl)
			i += n
		} else {
			b.WriteByte('&')
			i++
		}
		j := strings.IndexByte(s[i:], '&')
		if j < 0 {
			b.WriteString(s[i:])
			break
		}
		b.WriteString(s[i : i+j])
		i += j
	}
	return b.String()
}

// matchCharref matches one character reference at the start of t (the text after '&') and
// returns its length in bytes and its replacement.
func matchCharref(t string) (n int, repl string, ok bool) {
	if t == "" {
		return 0, "", false
	}
	if t[0] == '#' {
		hex := len(t) > 1 && (t[1] == 'x' || t[1] == 'X')
		start := 1
		if hex {
			start = 2
		}
		end := start
		for end < len(t) && (isDigit(t[end]) || hex && isHexLetter(t[end])) {
			end++
		}
		if end == start {
			return 0, "", false
		}
		digits := t[start:end]
		if end < len(t) && t[end] == ';' {
			end++
		}
		return end, numericCharref(digits, hex), true
	}
	// Named: up to 32 code points outside [\t\n\f <&#;], then an optional ';'.
	end, count := 0, 0
	for end < len(t) && count < 32 {
		r, size := utf8.DecodeRuneInString(t[end:])
		if r == '\t' || r == '\n' || r == '\f' || r == ' ' || r == '<' || r == '&' || r == '#' || r == ';' {
			break
		}
		end += size
		count++
	}
	if count == 0 {
		return 0, "", false
	}
	if end < len(t) && t[end] == ';' {
		end++
	}
	name := t[:end]
	if v, ok := html5Map[name]; ok {
		return end, v, true
	}
	// Longest prefix of at least two code points that is an entity name.
	runeStarts := make([]int, 0, 33)
	for k := range name {
		runeStarts = append(runeStarts, k)
	}
	for x := len(runeStarts) - 1; x >= 2; x-- {
		if v, ok := html5Map[name[:runeStarts[x]]]; ok {
			return end, v + name[runeStarts[x]:], true
		}
	}
	return end, "&" + name, true
}

// numericCharref converts the digits of a numeric character reference like Python's
// html._replace_charref.
func numericCharref(digits string, hex bool) string {
	const tooBig = 0x110000
	num := 0
	for i := 0; i < len(digits); i++ {
		c := digits[i]
		var d int
		switch {
		case isDigit(c):
			d = int(c - '0')
		case c >= 'a' && c <= 'f':
			d = int(c-'a') + 10
		default:
			d = int(c-'A') + 10
		}
		if hex {
			num = num*16 + d
		} else {
			num = num*10 + d
		}
		if num > tooBig {
			num = tooBig // saturate: every value above U+10FFFF is handled alike
		}
	}
	if num == 0 {
		return "\uFFFD"
	}
	if num == 0x0d {
		return "\r"
	}
	if num >= 0x80 && num <= 0x9f {
		// HTML5: C1 references are read as windows-1252 (undefined bytes stay C1 controls).
		return string(htmlC1[num-0x80])
	}
	if num >= 0xD800 && num <= 0xDFFF || num > 0x10FFFF {
		return "\uFFFD"
	}
	if num >= 0x1 && num <= 0x8 || num == 0xb || num >= 0xe && num <= 0x1f || num == 0x7f ||
		num >= 0xfdd0 && num <= 0xfdef || num&0xfffe == 0xfffe {
		return ""
	}
	return string(rune(num))
}

// htmlC1 is Python's html._invalid_charrefs for 0x80..0x9f.
var htmlC1 = [32]rune{
	0x20ac, 0x81, 0x201a, 0x0192, 0x201e, 0x2026, 0x2020, 0x2021,
	0x02c6, 0x2030, 0x0160, 0x2039, 0x0152, 0x8d, 0x017d, 0x8f,
	0x90, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014,
	0x02dc, 0x2122, 0x0161, 0x203a, 0x0153, 0x9d, 0x017e, 0x0178,
}

func isDigit(c byte) bool     { return c >= '0' && c <= '9' }
func isHexLetter(c byte) bool { return c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }
