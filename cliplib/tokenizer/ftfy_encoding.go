package tokenizer

import (
	"bytes"
	"errors"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ftfy's fix_encoding (mojibake repair) with its default sub-options, translated from ftfy 6.3.1
// (ftfy/__init__.py _fix_encoding_one_step_and_explain, ftfy/badness.py, ftfy/chardata.py,
// ftfy/fixes.py, ftfy/bad_codecs). The heuristic's character categories, codec tables and
// UTF-8 clue sets are generated from the installed ftfy (tables_gen.go); the regular
// expressions are rewritten for Go's RE2 where RE2 can express them, and as hand-written
// scanners where they need look-around (A_GRAVE_WORD_RE, UTF8_DETECTOR_RE) or Python's
// "$ before a final newline" (the utf-8-variants codec).

var (
	// charmapByName indexes charmapTables.
	charmapByName = map[string]*charmapTable{}
	// charmapEncode[i] is the inverse of charmapTables[i].decode.
	charmapEncode []map[rune]byte
	// sloppy1252 is ftfy's sloppy-windows-1252 codec.
	sloppy1252 *charmapTable

	// ALTERED_UTF8_RE and LOSSY_UTF8_RE, on bytes mapped one-to-one onto U+0000..U+00FF
	// (latin1String), so that RE2's UTF-8 matching sees one rune per byte.
	alteredUTF8 = regexp.MustCompile(strings.Join([]string{
		`[\x{c2}\x{c3}\x{c5}\x{ce}\x{d0}\x{d9}][ ]`,
		`[\x{e2}\x{e3}][ ][\x{80}-\x{84}\x{86}-\x{9f}\x{a1}-\x{bf}]`,
		`[\x{e0}-\x{e3}][\x{80}-\x{84}\x{86}-\x{9f}\x{a1}-\x{bf}][ ]`,
		`[\x{f0}][ ][\x{80}-\x{bf}][\x{80}-\x{bf}]`,
		`[\x{f0}][\x{80}-\x{bf}][ ][\x{80}-\x{bf}]`,
		`[\x{f0}][\x{80}-\x{bf}][\x{80}-\x{bf}][ ]`,
	}, "|"))
	lossyUTF8 = regexp.MustCompile(strings.Join([]string{
		`[\x{c2}-\x{df}][\x{1a}]`,
		`[\x{c2}-\x{c3}][?]`,
		`\x{ed}[\x{a0}-\x{af}][\x{1a}?]\x{ed}[\x{b0}-\x{bf}][\x{1a}?\x{80}-\x{bf}]`,
		`\x{ed}[\x{a0}-\x{af}][\x{1a}?\x{80}-\x{bf}]\x{ed}[\x{b0}-\x{bf}][\x{1a}?]`,
		`[\x{e0}-\x{ef}][\x{1a}?][\x{1a}\x{80}-\x{bf}]`,
		`[\x{e0}-\x{ef}][\x{1a}\x{80}-\x{bf}][\x{1a}?]`,
		`[\x{f0}-\x{f4}][\x{1a}?][\x{1a}\x{80}-\x{bf}][\x{1a}\x{80}-\x{bf}]`,
		`[\x{f0}-\x{f4}][\x{1a}\x{80}-\x{bf}][\x{1a}?][\x{1a}\x{80}-\x{bf}]`,
		`[\x{f0}-\x{f4}][\x{1a}\x{80}-\x{bf}][\x{1a}\x{80}-\x{bf}][\x{1a}?]`,
		`\x{1a}`,
	}, "|"))
	// UTF8_CLUES as sets.
	utf8First2   map[rune]bool
	utf8First3   map[rune]bool
	utf8First4   map[rune]bool
	utf8Cont     map[rune]bool
	utf8ContStrc map[rune]bool
)

func init() {
	charmapEncode = make([]map[rune]byte, len(charmapTables))
	for i := range charmapTables {
		t := &charmapTables[i]
		charmapByName[t.name] = t
		enc := make(map[rune]byte, 256)
		for b, r := range t.decode {
			enc[r] = byte(b)
		}
		charmapEncode[i] = enc
	}
	sloppy1252 = charmapByName["sloppy-windows-1252"]
	parseBadnessAlternatives()
	utf8First2 = classSet(utf8Clues["utf8_first_of_2"])
	utf8First3 = classSet(utf8Clues["utf8_first_of_3"])
	utf8First4 = classSet(utf8Clues["utf8_first_of_4"])
	utf8Cont = classSet(utf8Clues["utf8_continuation"])
	utf8ContStrc = classSet(utf8Clues["utf8_continuation_strict"])
}

// classSet expands the contents of a regex character class as ftfy writes them (single
// characters and "a-b" ranges) into a set.
func classSet(class string) map[rune]bool { return expandRanges([]rune(class)) }

// expandRanges turns class contents (escapes already resolved) into a set.
func expandRanges(rs []rune) map[rune]bool {
	set := map[rune]bool{}
	for i := 0; i < len(rs); i++ {
		if i+2 < len(rs) && rs[i+1] == '-' {
			for r := rs[i]; r <= rs[i+2]; r++ {
				set[r] = true
			}
			i += 2
			continue
		}
		set[rs[i]] = true
	}
	return set
}

// badnessAlternatives are the alternatives of ftfy.badness.BADNESS_RE, in order, with VERBOSE
// whitespace removed. {name} stands for the contents of MOJIBAKE_CATEGORIES[name] inside a
// class, {s} for Python's Unicode \s (str.isspace) and {w} for its \w (str.isalnum or '_').
var badnessAlternatives = []string{
	`[{c1}]`,
	`[{bad}{lower_accented}{upper_accented}{box}{start_punctuation}{end_punctuation}{currency}{numeric}{law}][{bad}]`,
	`[a-zA-Z][{lower_common}{upper_common}][{bad}]`,
	`[{bad}][{lower_accented}{upper_accented}{box}{start_punctuation}{end_punctuation}{currency}{numeric}{law}]`,
	`[{lower_accented}{lower_common}{box}{end_punctuation}{currency}{numeric}][{upper_accented}]`,
	`[{box}{end_punctuation}{currency}{numeric}][{lower_accented}]`,
	`[{lower_accented}{box}{end_punctuation}][{currency}]`,
	`{s}[{upper_accented}][{currency}]`,
	`[{upper_accented}{box}][{numeric}{law}]`,
	`[{lower_accented}{upper_accented}{box}{currency}{end_punctuation}][{start_punctuation}][{numeric}]`,
	`[{lower_accented}{upper_accented}{currency}{numeric}{box}{law}][{end_punctuation}][{start_punctuation}]`,
	`[{currency}{numeric}{box}][{start_punctuation}]`,
	`[a-z][{upper_accented}][{start_punctuation}{currency}]`,
	`[{box}][{kaomoji}]`,
	`[{lower_accented}{upper_accented}{currency}{numeric}{start_punctuation}{end_punctuation}{law}][{box}]`,
	`[{box}][{end_punctuation}]`,
	`[{lower_accented}{upper_accented}][{start_punctuation}{end_punctuation}]{w}`,
	`[Œœ][^A-Za-z]`,
	`[{upper_accented}]°`,
	`[ÂÃÎÐ][€œŠš¢£Ÿž\xa0\xad®©°·»{start_punctuation}{end_punctuation}–—´]`,
	`×[²³]`,
	`[ØÙ][{common}{currency}{bad}{numeric}{start_punctuation}ŸŠ®°µ»][ØÙ][{common}{currency}{bad}{numeric}{start_punctuation}ŸŠ®°µ»]`,
	`à[²µ¹¼½¾]`,
	`√[±∂†≠®™´≤≥¥µø]`,
	`≈[°¢]`,
	`‚Ä[ìîïòôúùû†°¢π]`,
	`‚[âó][àä°ê]`,
	`вЂ`,
	`[ВГРС][{c1}{bad}{start_punctuation}{end_punctuation}{currency}°µ][ВГРС]`,
	`ГўВЂВ.[A-Za-z ]`,
	`Ã[\xa0¡]`,
	`[a-z]{s}?[ÃÂ][ ]`,
	`^[ÃÂ][ ]`,
	`[a-z.,?!{end_punctuation}]Â[ {start_punctuation}{end_punctuation}]`,
	`β€[™\xa0Ά\xad®°]`,
	`[ΒΓΞΟ][{c1}{bad}{start_punctuation}{end_punctuation}{currency}°][ΒΓΞΟ]`,
	`ā€`,
}

// The badness heuristic runs on every non-ASCII segment, so instead of one RE2 alternation
// (slow: 37 alternatives with large classes tried at every position) it is a small matcher:
// each alternative is a sequence of character predicates, indexed by the characters its
// first element accepts. The test TestBadnessMatcherMatchesRegexp checks it against the RE2
// form of the same pattern.

// badElem is one element of an alternative: a finite set (possibly negated) or a predicate.
type badElem struct {
	set      map[rune]bool
	negated  bool
	pred     func(rune) bool
	optional bool // followed by '?'
}

func (e *badElem) has(r rune) bool {
	if e.pred != nil {
		return e.pred(r)
	}
	return e.set[r] != e.negated
}

// badAlt is one alternative; anchored ones only match at the start of the text.
type badAlt struct {
	anchored bool
	elems    []badElem
}

var (
	badAlts  []badAlt
	badFirst map[rune][]int // rune -> alternatives whose first element accepts it
)

// parseBadnessAlternatives compiles badnessAlternatives.
func parseBadnessAlternatives() {
	spaceSet := map[rune]bool{}
	for _, r := range pySpace {
		spaceSet[r] = true
	}
	badFirst = map[rune][]int{}
	for i, src := range badnessAlternatives {
		var alt badAlt
		rs := []rune(src)
		for p := 0; p < len(rs); p++ {
			switch {
			case p == 0 && rs[p] == '^':
				alt.anchored = true
			case rs[p] == '[':
				end := p + 1
				for rs[end] != ']' {
					end++
				}
				alt.elems = append(alt.elems, parseBadClass(string(rs[p+1:end])))
				p = end
			case strings.HasPrefix(string(rs[p:]), "{s}"):
				alt.elems = append(alt.elems, badElem{set: spaceSet})
				p += 2
			case strings.HasPrefix(string(rs[p:]), "{w}"):
				alt.elems = append(alt.elems, badElem{pred: pyWord.contains})
				p += 2
			case rs[p] == '.':
				alt.elems = append(alt.elems, badElem{pred: func(r rune) bool { return r != '\n' }})
			case rs[p] == '?':
				alt.elems[len(alt.elems)-1].optional = true
			default:
				alt.elems = append(alt.elems, badElem{set: map[rune]bool{rs[p]: true}})
			}
		}
		first := alt.elems[0]
		if first.pred != nil || first.negated || first.optional {
			panic("badness alternative must start with a plain set: " + src)
		}
		for r := range first.set {
			badFirst[r] = append(badFirst[r], i)
		}
		badAlts = append(badAlts, alt)
	}
}

// parseBadClass parses the body of a class: an optional leading '^', {category} references,
// \xHH escapes, ranges "a-b" and single characters, as Python's re reads them.
func parseBadClass(body string) badElem {
	var e badElem
	if strings.HasPrefix(body, "^") {
		e.negated, body = true, body[1:]
	}
	var expanded []rune
	for len(body) > 0 {
		if body[0] == '{' {
			end := strings.IndexByte(body, '}')
			expanded = append(expanded, []rune(mojibakeCategories[body[1:end]])...)
			body = body[end+1:]
			continue
		}
		if strings.HasPrefix(body, `\x`) {
			v, _ := strconv.ParseUint(body[2:4], 16, 8)
			expanded = append(expanded, rune(v))
			body = body[4:]
			continue
		}
		r, size := utf8.DecodeRuneInString(body)
		expanded = append(expanded, r)
		body = body[size:]
	}
	e.set = expandRanges(expanded)
	return e
}

// matchElems reports whether elems match runes starting at p (with backtracking over '?').
func matchElems(elems []badElem, runes []rune, p int) bool {
	if len(elems) == 0 {
		return true
	}
	e := &elems[0]
	if p < len(runes) && e.has(runes[p]) && matchElems(elems[1:], runes, p+1) {
		return true
	}
	return e.optional && matchElems(elems[1:], runes, p)
}

// isBad is ftfy.badness.is_bad: whether BADNESS_RE matches anywhere in text.
func isBad(text string) bool {
	var runes []rune
	p := 0
	for _, r := range text {
		if alts, ok := badFirst[r]; ok {
			if runes == nil {
				runes = []rune(text)
			}
			for _, a := range alts {
				if (!badAlts[a].anchored || p == 0) && matchElems(badAlts[a].elems, runes, p) {
					return true
				}
			}
		}
		p++
	}
	return false
}

// fixEncoding is ftfy.fix_encoding: repeat one repair step until the text stops changing.
func fixEncoding(text string) string {
	for range maxFixIterations {
		fixed := fixEncodingOneStep(text)
		if fixed == text {
			break
		}
		text = fixed
	}
	return text
}

// fixEncodingOneStep is ftfy's _fix_encoding_one_step_and_explain without the explanation.
func fixEncodingOneStep(text string) string {
	if text == "" || isASCII(text) || !isBad(text) {
		return text
	}
	possibleLatin1 := false
	for i := range charmapTables {
		t := &charmapTables[i]
		encoded, ok := charmapEncodeString(text, i)
		if !ok {
			continue
		}
		if t.name == "latin-1" {
			possibleLatin1 = true
		}
		if t.name != "macroman" && alteredUTF8.MatchString(latin1String(encoded)) {
			encoded = restoreByteA0(encoded)
		}
		if t.sloppy {
			encoded = latin1Bytes(lossyUTF8.ReplaceAllLiteralString(latin1String(encoded), "\u00ef\u00bf\u00bd"))
		}
		var fixed string
		var err error
		if bytes.IndexByte(encoded, 0xED) >= 0 || bytes.IndexByte(encoded, 0xC0) >= 0 {
			fixed, err = decodeUTF8Variants(encoded)
		} else if utf8.Valid(encoded) {
			fixed = string(encoded)
		} else {
			err = errInvalidUTF8
		}
		if err == nil {
			return fixed
		}
	}
	if utf8DetectorSearch(text) {
		if fixed := decodeInconsistentUTF8(text); fixed != text {
			return fixed
		}
	}
	// ftfy checks for "windows-1252" among the possible encodings here, a name its list never
	// holds (it holds "sloppy-windows-1252"), so latin-1 text always goes on to this decode.
	if possibleLatin1 {
		if fixed, ok := decodeStrict1252(text); ok && fixed != text {
			return fixed
		}
	}
	if strings.ContainsFunc(text, func(r rune) bool { return r >= 0x80 && r <= 0x9f }) {
		return fixC1Controls(text)
	}
	return text
}

var errInvalidUTF8 = errors.New("invalid UTF-8")

func isASCII(text string) bool {
	for i := 0; i < len(text); i++ {
		if text[i] >= 0x80 {
			return false
		}
	}
	return true
}

// charmapEncodeString encodes text with charmapTables[i]; ok is false when a character has no
// byte (ftfy's possible_encoding is false).
func charmapEncodeString(text string, i int) ([]byte, bool) {
	enc := charmapEncode[i]
	out := make([]byte, 0, len(text))
	for _, r := range text {
		b, ok := enc[r]
		if !ok {
			return nil, false
		}
		out = append(out, b)
	}
	return out, true
}

// decodeStrict1252 is text.encode("latin-1").decode("windows-1252") with Python's strict
// cp1252 codec: bytes 0x81, 0x8D, 0x8F, 0x90, 0x9D are undefined there (the sloppy table maps
// them to themselves) and 0x1A is itself (the sloppy table maps it to U+FFFD).
func decodeStrict1252(text string) (string, bool) {
	var b strings.Builder
	for _, r := range text {
		if r > 0xff {
			return "", false
		}
		switch d := sloppy1252.decode[r]; {
		case r == 0x1a:
			b.WriteRune(r)
		case r >= 0x80 && r <= 0x9f && d == r:
			return "", false
		default:
			b.WriteRune(d)
		}
	}
	return b.String(), true
}

// latin1String maps each byte to the code point with the same number.
func latin1String(b []byte) string {
	rs := make([]rune, len(b))
	for i, c := range b {
		rs[i] = rune(c)
	}
	return string(rs)
}

// latin1Bytes is the inverse of latin1String.
func latin1Bytes(s string) []byte {
	out := make([]byte, 0, len(s))
	for _, r := range s {
		out = append(out, byte(r))
	}
	return out
}

// restoreByteA0 is ftfy.fixes.restore_byte_a0: "\xc3 " not followed by " ", "quele", "quela",
// "quilo" or "s " becomes "\xc3\xa0 " (A_GRAVE_WORD_RE), then each ALTERED_UTF8_RE match has
// its spaces replaced by 0xA0.
func restoreByteA0(b []byte) []byte {
	var out []byte
	for i := 0; i < len(b); i++ {
		if b[i] == 0xc3 && i+1 < len(b) && b[i+1] == ' ' {
			rest := b[i+2:]
			if !(bytes.HasPrefix(rest, []byte(" ")) || bytes.HasPrefix(rest, []byte("quele")) ||
				bytes.HasPrefix(rest, []byte("quela")) || bytes.HasPrefix(rest, []byte("quilo")) ||
				bytes.HasPrefix(rest, []byte("s "))) {
				out = append(out, 0xc3, 0xa0, ' ')
				i++
				continue
			}
		}
		out = append(out, b[i])
	}
	s := alteredUTF8.ReplaceAllStringFunc(latin1String(out), func(m string) string {
		return strings.ReplaceAll(m, " ", "\u00a0")
	})
	return latin1Bytes(s)
}

// decodeUTF8Variants is ftfy's "utf-8-variants" codec (strict): UTF-8, plus the Java-style
// null "\xc0\x80" and CESU-8 surrogate pairs. Like the Python regexes it copies, "$" also
// matches before a newline that ends the input, so "\xc0\n" at the end decodes as U+0000 and a
// CESU-8 pair whose last byte is that final newline still decodes.
func decodeUTF8Variants(b []byte) (string, error) {
	var sb strings.Builder
	for p := 0; p < len(b); {
		rest := b[p:]
		atEnd := func(k int) bool { return k == len(rest) || k == len(rest)-1 && rest[k] == '\n' }
		switch {
		case rest[0] == 0xc0 && (len(rest) > 1 && rest[1] == 0x80 || atEnd(1)):
			if len(rest) == 1 {
				return "", errInvalidUTF8
			}
			sb.WriteByte(0)
			p += 2
		case rest[0] == 0xed && (len(rest) > 1 && rest[1] >= 0xa0 && rest[1] <= 0xbf || atEnd(1)):
			if len(rest) >= 6 && rest[1] <= 0xaf && rest[2] >= 0x80 && rest[2] <= 0xbf &&
				rest[3] == 0xed && rest[4] >= 0xb0 && rest[4] <= 0xbf &&
				(rest[5] >= 0x80 && rest[5] <= 0xbf || len(rest) == 6 && rest[5] == '\n') {
				cp := rune(rest[1]&0x0f)<<16 + rune(rest[2]&0x3f)<<10 + rune(rest[4]&0x0f)<<6 +
					rune(rest[5]&0x3f) + 0x10000
				sb.WriteRune(cp)
				p += 6
				continue
			}
			return "", errInvalidUTF8
		default:
			r, size := utf8.DecodeRune(rest)
			if r == utf8.RuneError && size == 1 {
				return "", errInvalidUTF8
			}
			sb.Write(rest[:size])
			p += size
		}
	}
	return sb.String(), nil
}

// utf8DetectorMatch returns the end (rune index) of a UTF8_DETECTOR_RE match starting at rune
// index p of rs, or -1. The pattern is
//
//	(?<![utf8_continuation_strict])([first_of_2][cont]|[first_of_3][cont]{2}|[first_of_4][cont]{3})+
//
// Nothing follows the repeated group, so the backtracking match is the greedy one that takes,
// at each step, the first alternative that fits.
func utf8DetectorMatch(rs []rune, p int) int {
	if p > 0 && utf8ContStrc[rs[p-1]] {
		return -1
	}
	conts := func(q, n int) bool {
		if q+n > len(rs) {
			return false
		}
		for k := q; k < q+n; k++ {
			if !utf8Cont[rs[k]] {
				return false
			}
		}
		return true
	}
	q := p
	for q < len(rs) {
		switch {
		case utf8First2[rs[q]] && conts(q+1, 1):
			q += 2
		case utf8First3[rs[q]] && conts(q+1, 2):
			q += 3
		case utf8First4[rs[q]] && conts(q+1, 3):
			q += 4
		default:
			goto done
		}
	}
done:
	if q == p {
		return -1
	}
	return q
}

// utf8DetectorSearch reports whether UTF8_DETECTOR_RE matches anywhere in text.
func utf8DetectorSearch(text string) bool {
	rs := []rune(text)
	for p := range rs {
		if utf8DetectorMatch(rs, p) >= 0 {
			return true
		}
	}
	return false
}

// decodeInconsistentUTF8 is ftfy.fixes.decode_inconsistent_utf8: each UTF8_DETECTOR_RE match
// shorter than the whole text that is_bad flags is replaced by its fix_encoding.
func decodeInconsistentUTF8(text string) string {
	rs := []rune(text)
	var b strings.Builder
	last := 0
	for p := 0; p < len(rs); {
		q := utf8DetectorMatch(rs, p)
		if q < 0 {
			p++
			continue
		}
		sub := string(rs[p:q])
		b.WriteString(string(rs[last:p]))
		if q-p < len(rs) && isBad(sub) {
			b.WriteString(fixEncoding(sub))
		} else {
			b.WriteString(sub)
		}
		last, p = q, q
	}
	b.WriteString(string(rs[last:]))
	return b.String()
}
