package tokenizer

import "sort"

// Types of the generated tables in tables_gen.go, and the lookups built from them once.
//
// The tables come from the Python reference environment (see the header of tables_gen.go)
// rather than from Go's unicode package, because the three Python components the tokenizer
// copies each carry their own Unicode version: str.lower/str.isspace/unicodedata are Unicode
// 14.0 in Python 3.11, the `regex` module's \p{L}/\p{N} are newer (Unicode 16+), and Go's
// unicode package is 15.0 (and changes with the Go release). Generated tables make the Go
// tokenizer agree with the reference on every code point, independent of the Go version.

// runeRanges is a sorted list of inclusive code point ranges.
type runeRanges [][2]rune

// contains reports whether r lies in one of the ranges (binary search).
func (rr runeRanges) contains(r rune) bool {
	i := sort.Search(len(rr), func(i int) bool { return rr[i][1] >= r })
	return i < len(rr) && rr[i][0] <= r
}

// lowerPair maps a code point to its one-code-point Python lower case.
type lowerPair struct{ from, to rune }

// lowerMultiPair maps a code point to its multi-code-point Python lower case.
type lowerMultiPair struct {
	from rune
	to   string
}

// entityPair is one HTML entity: name (without the leading '&') and replacement text.
type entityPair struct{ name, value string }

// charmapTable is a single-byte codec: decode[b] is the code point byte b stands for.
type charmapTable struct {
	name   string
	sloppy bool
	decode [256]rune
}

// Pre-tokeniser character classes.
const (
	classOther  uint8 = iota // `[^\s\p{L}\p{N}]`
	classLetter              // `[\p{L}]`
	classNumber              // `[\p{N}]`
	classSkip                // matched by no alternative; regex.findall skips it
)

var (
	// bmpClass holds the pre-tokeniser class of every code point below 0x10000.
	bmpClass [0x10000]uint8
	// skipSet holds the (few) skipped code points.
	skipSet = map[rune]bool{}
	// lowerMap holds Python's str.lower() for every code point it changes, except U+03A3
	// (Final_Sigma is context dependent, see pyLower).
	lowerMap = map[rune]string{}
	// spaceSet is Python's str.isspace().
	spaceSet = map[rune]bool{}
	// foldSets[c-'a'] is the set of code points the IGNORECASE pattern accepts for letter c.
	foldSets [26]map[rune]bool
	// html5Map is html.entities.html5.
	html5Map map[string]string
	// ftfyEntityMap is ftfy.chardata.HTML_ENTITIES: "&name;" to replacement.
	ftfyEntityMap map[string]string
	// ftfyControlSet is ftfy.chardata.CONTROL_CHARS.
	ftfyControlSet = map[rune]bool{}
)

func init() {
	for _, p := range preLetter {
		for r := p[0]; r <= p[1] && r < 0x10000; r++ {
			bmpClass[r] = classLetter
		}
	}
	for _, p := range preNumber {
		for r := p[0]; r <= p[1] && r < 0x10000; r++ {
			bmpClass[r] = classNumber
		}
	}
	for _, r := range preSkip {
		skipSet[r] = true
		if r < 0x10000 {
			bmpClass[r] = classSkip
		}
	}
	for _, p := range pyLowerSingle {
		lowerMap[p.from] = string(p.to)
	}
	for _, p := range pyLowerMulti {
		lowerMap[p.from] = p.to
	}
	delete(lowerMap, 'Σ')
	for _, r := range pySpace {
		spaceSet[r] = true
	}
	for i, rs := range foldASCII {
		foldSets[i] = map[rune]bool{}
		for _, r := range rs {
			foldSets[i][r] = true
		}
	}
	html5Map = make(map[string]string, len(html5Entities))
	ftfyEntityMap = make(map[string]string, len(html5Entities)+len(ftfyUpperEntities))
	for _, e := range html5Entities {
		html5Map[e.name] = e.value
		if e.name[len(e.name)-1] == ';' {
			ftfyEntityMap["&"+e.name] = e.value
		}
	}
	for _, e := range ftfyUpperEntities {
		ftfyEntityMap[e.name] = e.value
	}
	for _, r := range ftfyControl {
		ftfyControlSet[r] = true
	}
}

// preClass returns the pre-tokeniser class of r.
func preClass(r rune) uint8 {
	if r < 0x10000 {
		return bmpClass[r]
	}
	switch {
	case preLetter.contains(r):
		return classLetter
	case preNumber.contains(r):
		return classNumber
	case skipSet[r]:
		return classSkip
	}
	return classOther
}

// isPySpace reports whether Python's str.isspace() is true for r.
func isPySpace(r rune) bool {
	if r < 0x80 {
		return r == ' ' || (r >= '\t' && r <= '\r') || (r >= 0x1c && r <= 0x1f)
	}
	return spaceSet[r]
}
