package tokenizer

import (
	"bufio"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// padded returns ids followed by zeros up to ContextLength.
func padded(ids ...int32) []int32 {
	out := make([]int32, ContextLength)
	copy(out, ids)
	return out
}

// TestKnownTokenizations checks token ids produced by OpenAI's simple_tokenizer.py (full sequences
// with SOT/EOT, padded with 0 to 77).
func TestKnownTokenizations(t *testing.T) {
	tok := mustDefault(t)
	cifar := map[string]int32{"airplane": 16451, "automobile": 25258, "bird": 3329, "cat": 2368,
		"deer": 8700, "dog": 1929, "frog": 11438, "horse": 4558, "ship": 1158, "truck": 4629}
	tests := []struct {
		text string
		want []int32
	}{
		{"Hello World!", []int32{49406, 3306, 1002, 256, 49407}},
		{"a photo of a cat", []int32{49406, 320, 1125, 539, 320, 2368, 49407}},
		{"a photo of a dog", []int32{49406, 320, 1125, 539, 320, 1929, 49407}},
		{"Hello, world!", []int32{49406, 3306, 267, 1002, 256, 49407}},
		{"A PHOTO of  a Cat!", []int32{49406, 320, 1125, 539, 320, 2368, 256, 49407}},
		{"don't stop 42 times", []int32{49406, 847, 713, 1691, 275, 273, 1661, 49407}},
		{"cafe uber naive", []int32{49406, 4979, 10668, 43362, 49407}},
		{"hello-world, 3.14 (test)", []int32{49406, 3306, 268, 1002, 267, 274, 269, 272, 275, 263, 1628, 264, 49407}},
		{"café über naïve", []int32{49406, 15304, 6522, 1516, 1097, 35689, 563, 49407}},
		{"  spaced   out  ", []int32{49406, 10336, 538, 620, 49407}},
		{"", []int32{49406, 49407}},
		{"a diagram", []int32{49406, 320, 22697, 49407}},
		{"a dog", []int32{49406, 320, 1929, 49407}},
		{"a cat", []int32{49406, 320, 2368, 49407}},
		{`a photo of the number: "7".`, []int32{49406, 320, 1125, 539, 518, 2842, 281, 257, 278, 2811, 49407}},
		{"itap of a goldfish.", []int32{49406, 529, 2728, 539, 320, 40293, 269, 49407}},
		{"a black and white photo of the big automobile.", []int32{49406, 320, 1449, 537, 1579, 1125, 539, 518, 1205, 25258, 269, 49407}},
		{"New York City's skyline at dusk", []int32{49406, 686, 2705, 1305, 568, 14606, 536, 19708, 49407}},
		{"A\n'll 11p223RF☆ho!!to?'d'd''d of a cat to-$''d.", []int32{49406, 320, 1342, 272, 272, 335, 273, 273, 274, 16368, 13439, 2971, 748, 531, 13610, 323, 1896, 8445, 323, 539, 320, 2368, 531, 12, 3, 8445, 323, 269, 49407}},
		// Confirmed by the fixture made with real ftfy: ftfy
		// uncurls ’ before BPE.
		{"Don’t panic", []int32{49406, 847, 713, 14124, 49407}},
		// "<|startoftext|>" as (49406, 49406, 49407) holds for OpenAI's
		// tokenizer only; open_clip's literal is <start_of_text>, so "<|startoftext|>" is
		// ordinary text there (these ids are in reference.jsonl) and <start_of_text> is SOT.
		{"<|startoftext|>", []int32{49406, 27, 347, 993, 6659, 4160, 91, 285, 49407}},
		{"<start_of_text>", []int32{49406, 49406, 49407}},
	}
	for c, id := range cifar {
		tests = append(tests, struct {
			text string
			want []int32
		}{"a photo of a " + c + ".", []int32{49406, 320, 1125, 539, 320, id, 269, 49407}})
	}
	for _, tc := range tests {
		if got := tok.Tokenize(tc.text); !slices.Equal(got, padded(tc.want...)) {
			t.Errorf("Tokenize(%q) =\n %v\nwant\n %v", tc.text, got, padded(tc.want...))
		}
	}
}

// TestTruncationKeepsEOTLast checks open_clip's truncation: "cat"×100 has 102 ids with SOT and
// EOT; the result keeps SOT and the first 75 "cat" ids, then EOT.
func TestTruncationKeepsEOTLast(t *testing.T) {
	tok := mustDefault(t)
	text := strings.Repeat("cat ", 100)
	if n := len(tok.Encode(text)); n != 100 {
		t.Fatalf("Encode: %d ids, want 100", n)
	}
	got := tok.Tokenize(text)
	want := make([]int32, ContextLength)
	want[0] = SOT
	for i := 1; i < ContextLength-1; i++ {
		want[i] = 2368
	}
	want[ContextLength-1] = EOT
	if !slices.Equal(got, want) {
		t.Errorf("Tokenize(cat×100) = %v, want %v", got, want)
	}
	// Exactly 75 words fit without truncation; 76 are truncated.
	for _, n := range []int{75, 76} {
		ids := tok.Tokenize(strings.Repeat("cat ", n))
		if ids[76] != EOT || ids[75] != 2368 {
			t.Errorf("%d words: ids[75:] = %v, want [2368 %d]", n, ids[75:], EOT)
		}
	}
}

// TestWithContextLength checks other context lengths and the error for lengths below 2.
func TestWithContextLength(t *testing.T) {
	tok := mustDefault(t)
	for _, n := range []int{0, 1, -5} {
		if _, err := tok.WithContextLength(n); err == nil || !strings.Contains(err.Error(), strconv.Itoa(n)) {
			t.Errorf("WithContextLength(%d): error %v, want one naming %d", n, err, n)
		}
	}
	t2, err := tok.WithContextLength(2)
	if err != nil {
		t.Fatal(err)
	}
	if got := t2.Tokenize("a photo of a cat"); !slices.Equal(got, []int32{SOT, EOT}) {
		t.Errorf("context 2: %v, want [SOT EOT]", got)
	}
	t100, err := tok.WithContextLength(100)
	if err != nil {
		t.Fatal(err)
	}
	got := t100.Tokenize("a cat")
	if len(got) != 100 || !slices.Equal(got[:4], []int32{SOT, 320, 2368, EOT}) || slices.Max(got[4:]) != 0 {
		t.Errorf("context 100: %v", got)
	}
	if tok.ContextLength() != ContextLength || t100.ContextLength() != 100 {
		t.Errorf("ContextLength() = %d, %d", tok.ContextLength(), t100.ContextLength())
	}
	if rows := t100.TokenizeBatch([]string{"a", "b"}); len(rows) != 2 || len(rows[1]) != 100 {
		t.Errorf("TokenizeBatch with context 100: shape [%d][%d]", len(rows), len(rows[1]))
	}
}

// TestVocabularyLayout checks the id layout of the CLIP vocabulary (openai/CLIP
// simple_tokenizer.py: 256 byte tokens, their </w> forms, the 48894 merges, then SOT and EOT).
func TestVocabularyLayout(t *testing.T) {
	tok := mustDefault(t)
	if tok.VocabSize() != VocabSize || tok.SOT() != SOT || tok.EOT() != EOT {
		t.Fatalf("VocabSize/SOT/EOT = %d/%d/%d", tok.VocabSize(), tok.SOT(), tok.EOT())
	}
	for id, want := range map[int]string{0: "!", 93: "~", 94: "¡", 187: "ÿ", 188: "Ā", 255: "Ń",
		256: "!</w>", 511: "Ń</w>", 512: "in", 513: "th", 49405: "jekyll</w>",
		49406: "<start_of_text>", 49407: "<end_of_text>"} {
		if tok.vocab[id] != want {
			t.Errorf("vocab[%d] = %q, want %q", id, tok.vocab[id], want)
		}
	}
	m := bytesToUnicode()
	for b, want := range map[int]rune{0: 0x100, 32: 0x120, 127: 0x121, 160: 0x142, 173: 0x143, 33: '!', 255: 'ÿ'} {
		if m[b] != want {
			t.Errorf("bytes_to_unicode[%d] = %U, want %U", b, m[b], want)
		}
	}
	if len(tok.merges) != NumMerges {
		t.Errorf("%d merge rules, want %d", len(tok.merges), NumMerges)
	}
}

// TestEmbeddedVocabSHA256 pins the embedded vocabulary file.
func TestEmbeddedVocabSHA256(t *testing.T) {
	sum := sha256.Sum256(embeddedVocab)
	if got := hex.EncodeToString(sum[:]); got != VocabSHA256 {
		t.Errorf("embedded bpe_simple_vocab_16e6.txt.gz sha256 = %s, want %s", got, VocabSHA256)
	}
	if len(embeddedVocab) != 1356917 {
		t.Errorf("embedded vocabulary is %d bytes, want 1356917", len(embeddedVocab))
	}
}

// fixtureTexts returns the texts of the named fixtures.
func fixtureTexts(t testing.TB, names ...string) []string {
	var texts []string
	for _, name := range names {
		for _, r := range readFixture(t, name) {
			texts = append(texts, r.Text)
		}
	}
	return texts
}

// TestLoadMatchesDefault loads the vocabulary from a file, gzip-compressed and plain, and checks
// that it tokenizes every fixture text like Default.
func TestLoadMatchesDefault(t *testing.T) {
	dir := t.TempDir()
	gzPath := filepath.Join(dir, "bpe_simple_vocab_16e6.txt.gz")
	if err := os.WriteFile(gzPath, embeddedVocab, 0o644); err != nil {
		t.Fatal(err)
	}
	plainPath := filepath.Join(dir, "bpe.txt")
	if err := os.WriteFile(plainPath, gunzip(t, embeddedVocab), 0o644); err != nil {
		t.Fatal(err)
	}
	def := mustDefault(t)
	texts := fixtureTexts(t, "reference.jsonl")
	for _, path := range []string{gzPath, plainPath} {
		tok, err := Load(path)
		if err != nil {
			t.Fatalf("Load(%s): %v", path, err)
		}
		for _, text := range texts {
			if a, b := tok.Tokenize(text), def.Tokenize(text); !slices.Equal(a, b) {
				t.Fatalf("Load(%s).Tokenize(%q) = %v, Default gives %v", path, text, a, b)
			}
		}
	}
}

func gunzip(t testing.TB, data []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(strings.NewReader(string(data)))
	if err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	if _, err := bufio.NewReader(zr).WriteTo(&sb); err != nil {
		t.Fatal(err)
	}
	return []byte(sb.String())
}

// writeHF writes a HuggingFace-format vocab.json and merges.txt for the OpenAI vocabulary, the
// way HF's CLIP files are laid out: byte-level token strings to ids, the specials as
// <|startoftext|>/<|endoftext|>, and merges.txt with a "#version: 0.2" header.
func writeHF(t *testing.T, dir string) (vocabPath, mergesPath string) {
	t.Helper()
	lines := strings.Split(string(gunzip(t, embeddedVocab)), "\n")[1 : 1+NumMerges]
	def := mustDefault(t)
	v := make(map[string]int, len(def.vocab))
	for id, tok := range def.vocab {
		v[tok] = id
	}
	delete(v, sotLiteral)
	delete(v, eotLiteral)
	v[sotLiteralHF], v[eotLiteralHF] = SOT, EOT
	data, err := json.Marshal(v) // keys sorted: not in id order, as in HF's files
	if err != nil {
		t.Fatal(err)
	}
	vocabPath, mergesPath = filepath.Join(dir, "vocab.json"), filepath.Join(dir, "merges.txt")
	if err := os.WriteFile(vocabPath, data, 0o644); err != nil {
		t.Fatal(err)
	}
	merges := "#version: 0.2\n" + strings.Join(lines, "\n") + "\n"
	if err := os.WriteFile(mergesPath, []byte(merges), 0o644); err != nil {
		t.Fatal(err)
	}
	return vocabPath, mergesPath
}

// TestLoadHFMatchesOpenAI checks that the HF vocab.json/merges.txt pair of the same vocabulary
// gives identical ids for every fixture text.
func TestLoadHFMatchesOpenAI(t *testing.T) {
	vocabPath, mergesPath := writeHF(t, t.TempDir())
	hf, err := LoadHF(vocabPath, mergesPath)
	if err != nil {
		t.Fatal(err)
	}
	def := mustDefault(t)
	if hf.SOT() != SOT || hf.EOT() != EOT || hf.VocabSize() != VocabSize {
		t.Fatalf("HF SOT/EOT/VocabSize = %d/%d/%d", hf.SOT(), hf.EOT(), hf.VocabSize())
	}
	for _, text := range fixtureTexts(t, "reference.jsonl", "random.jsonl") {
		if a, b := hf.Tokenize(text), def.Tokenize(text); !slices.Equal(a, b) {
			t.Fatalf("LoadHF.Tokenize(%q) = %v, Default gives %v", text, a, b)
		}
	}
}

// TestLoadErrorsNameTheInput checks that bad files give errors naming the file and the problem.
func TestLoadErrorsNameTheInput(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	plain := string(gunzip(t, embeddedVocab))
	lines := strings.Split(plain, "\n")
	badLine := slices.Clone(lines)
	badLine[7] = "a b c"
	emptyLine := slices.Clone(lines)
	emptyLine[9] = ""
	cases := []struct {
		path string
		want string
	}{
		{filepath.Join(dir, "missing.txt.gz"), "no such file"},
		{write("short.txt", strings.Join(lines[:1000], "\n")), "expected a header and at least 48894 merge lines"},
		{write("badline.txt", strings.Join(badLine, "\n")), "badline.txt:8: merge line \"a b c\" has 3 fields"},
		{write("emptyline.txt", strings.Join(emptyLine, "\n")), "emptyline.txt:10: merge line \"\" has 0 fields"},
		{write("badgzip.gz", "\x1f\x8bnot gzip"), "bad gzip data"},
		{write("latin1.txt", "\xff\xfe"), "not UTF-8"},
	}
	for _, c := range cases {
		_, err := Load(c.path)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), filepath.Base(c.path)) {
			t.Errorf("Load(%s): error %v, want one naming the file and %q", c.path, err, c.want)
		}
	}

	vocabPath, mergesPath := writeHF(t, dir)
	hfCases := []struct {
		vocab, merges, want string
	}{
		{write("v1.json", "[1,2]"), mergesPath, "expected a JSON object from token to id"},
		{write("v2.json", `{"a": 0, "b": 0}`), mergesPath, "belongs to two tokens"},
		{write("v3.json", `{"a": 0, "b": 5}`), mergesPath, "expected ids 0…1"},
		{write("v4.json", `{"a": 0, "b": 1}`), mergesPath, "lacks the byte symbol"},
		{vocabPath, write("m1.txt", "#version: 0.2\nq q q\n"), "m1.txt:2: merge line"},
		{vocabPath, write("m2.txt", "#version: 0.2\nĠ Ġ\n"), "the merged token \"ĠĠ\" is not in the vocabulary"},
		{filepath.Join(dir, "none.json"), mergesPath, "no such file"},
	}
	for _, c := range hfCases {
		if _, err := LoadHF(c.vocab, c.merges); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("LoadHF(%s, %s): error %v, want %q", c.vocab, c.merges, err, c.want)
		}
	}
}

// TestDecode checks open_clip's decode semantics: "</w>" becomes a space, invalid UTF-8 becomes
// U+FFFD per maximal subpart, unknown ids become U+FFFD.
func TestDecode(t *testing.T) {
	tok := mustDefault(t)
	if got := tok.Decode(tok.Encode("Hello World!")); got != "hello world ! " {
		t.Errorf("Decode(Encode(Hello World!)) = %q, want %q", got, "hello world ! ")
	}
	if got := tok.Decode([]int{SOT, 320, 2368, EOT}); got != "<start_of_text>a cat <end_of_text>" {
		t.Errorf("Decode with specials = %q", got)
	}
	if got := tok.Decode([]int{-1, 320, VocabSize}); got != "\uFFFDa \uFFFD" {
		t.Errorf("Decode with unknown ids = %q", got)
	}
	ids := tok.Encode("猫の写真 🐱")
	if got := tok.Decode(ids); got != "猫の写真 🐱 " {
		t.Errorf("Decode(Encode(CJK, emoji)) = %q", got)
	}
	// A lone first byte of a 4-byte sequence: one U+FFFD, as in Python.
	if got := tok.Decode([]int{int(tok.byteTok[0xf0]), int(tok.byteTok[0x9f])}); got != "\uFFFD" {
		t.Errorf("Decode(bytes F0 9F) = %q, want one U+FFFD", got)
	}
}

// TestDecodeUTF8ReplaceMatchesPython checks the maximal-subpart replacement against the results
// of Python 3.11's bytes.decode("utf-8", errors="replace").
func TestDecodeUTF8ReplaceMatchesPython(t *testing.T) {
	for in, want := range map[string]string{
		"\xe2\x82":             "\uFFFD",
		"\xff\xfe":             "\uFFFD\uFFFD",
		"\xed\xa0\x80":         "\uFFFD\uFFFD\uFFFD",
		"\xf0\x9f\x98":         "\uFFFD",
		"\xc0\xaf":             "\uFFFD\uFFFD",
		"a\xe2\x82b":           "a\uFFFDb",
		"\xf4\x90\x80\x80":     "\uFFFD\uFFFD\uFFFD\uFFFD",
		"\xe0\x80\x80":         "\uFFFD\uFFFD\uFFFD",
		"\xf0\x9f\x98\x80\x80": "😀\uFFFD",
		"ok \uFFFD":            "ok \uFFFD",
	} {
		if got := decodeUTF8Replace([]byte(in)); got != want {
			t.Errorf("decodeUTF8Replace(%+q) = %+q, want %+q", in, got, want)
		}
	}
}

// TestInvalidUTF8InputIsReadLikePython checks that invalid UTF-8 input is tokenized as the text
// Python gets from bytes.decode("utf-8", "replace").
func TestInvalidUTF8InputIsReadLikePython(t *testing.T) {
	tok := mustDefault(t)
	a := tok.Tokenize("cat\xe2\x82 dog\xff")
	b := tok.Tokenize("cat\uFFFD dog\uFFFD")
	if !slices.Equal(a, b) {
		t.Errorf("invalid UTF-8: %v, want %v", a, b)
	}
}

// TestLowerDiffersFromGo shows the two places where Python's str.lower differs from Go's
// strings.ToLower, and that pyLower follows Python.
func TestLowerDiffersFromGo(t *testing.T) {
	for _, c := range []struct{ in, python string }{
		{"İ", "i\u0307"},
		{"İSTANBUL", "i\u0307stanbul"},
		{"ΟΔΟΣ", "οδος"},
		{"ΟΔΟΣ ΟΔΟΣ.", "οδος οδος."},
		{"Σ", "σ"},
		{"ΑΣΑ", "ασα"},
		{"Α\u0301Σ", "α\u0301ς"},
	} {
		if got := pyLower(c.in); got != c.python {
			t.Errorf("pyLower(%q) = %+q, want %+q", c.in, got, c.python)
		}
	}
	if strings.ToLower("İ") == "i\u0307" || strings.ToLower("ΟΔΟΣ") == "οδος" {
		t.Errorf("Go's strings.ToLower now agrees with Python on İ/Σ; update pyLower's doc")
	}
}

// TestHTMLUnescapeDiffersFromGoStdlib shows why html.UnescapeString is not used: it keeps
// references to HTML5-invalid code points that Python's html.unescape drops.
func TestHTMLUnescapeDiffersFromGoStdlib(t *testing.T) {
	long := "&" + strings.Repeat("a", 40) + ";"
	for in, python := range map[string]string{
		"&#1;": "", "&#11;": "", "&#xfffe;": "", "a&#x1fffe;b": "ab",
		"&notit;": "¬it;", "&amp": "&", "&copyx": "©x", "&#128;": "€", "&#0;": "\uFFFD",
		"&#x110000;": "\uFFFD", "&#65": "A", "&#99999999999999999999;": "\uFFFD", "&#;": "&#;",
		long: long, "&ampamp;": "&amp;", "&fjlig;": "fj", "&#13;": "\r",
	} {
		if got := htmlUnescape(in); got != python {
			t.Errorf("htmlUnescape(%q) = %+q, want %+q", in, got, python)
		}
	}
	for _, in := range []string{"&#1;", "&#11;", "&#xfffe;"} {
		if html.UnescapeString(in) == htmlUnescape(in) {
			t.Errorf("html.UnescapeString(%q) now agrees with Python; update htmlUnescape's doc", in)
		}
	}
}

// TestNFCCombiningClassesMatchPython compares the canonical combining class of every code point
// in golang.org/x/text/unicode/norm with the reference Python's unicodedata (python_ccc.txt).
// Decompositions agree everywhere (single code points are NFC/NFD-stable alike); the classes
// differ only for the 10 code points Unicode 15.0 added, which the package doc lists.
func TestNFCCombiningClassesMatchPython(t *testing.T) {
	f, err := os.Open(filepath.Join(testdataDir, "python_ccc.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	py := map[rune]uint8{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		var cp, ccc int
		fields := strings.Fields(line)
		c64, err1 := strconv.ParseInt(fields[0], 16, 32)
		ccc, err2 := strconv.Atoi(fields[1])
		if err1 != nil || err2 != nil {
			t.Fatalf("python_ccc.txt: bad line %q", line)
		}
		cp = int(c64)
		py[rune(cp)] = uint8(ccc)
	}
	known := map[rune]bool{0x10EFD: true, 0x10EFE: true, 0x10EFF: true, 0x11F41: true, 0x11F42: true,
		0x1E08F: true, 0x1E4EC: true, 0x1E4ED: true, 0x1E4EE: true, 0x1E4EF: true}
	var diffs []string
	for r := rune(0); r <= unicode.MaxRune; r++ {
		if r >= 0xD800 && r <= 0xDFFF {
			continue
		}
		if g := norm.NFC.PropertiesString(string(r)).CCC(); g != py[r] && !known[r] {
			diffs = append(diffs, strconv.FormatInt(int64(r), 16))
		}
	}
	if len(diffs) > 0 {
		t.Errorf("combining classes differ from Python beyond the documented 10 at U+%v", diffs)
	}
}

// TestTablesAreConsistent checks the generated tables against facts they must satisfy whatever
// their Unicode version.
func TestTablesAreConsistent(t *testing.T) {
	// Go's unicode (15.0 in Go 1.26) is older than the regex module's tables: they agree on
	// every code point Go assigns, and differ only on code points assigned later.
	goAssigns := func(r rune) bool {
		return unicode.In(r, unicode.L, unicode.M, unicode.N, unicode.P, unicode.S, unicode.Z, unicode.Cc, unicode.Cf, unicode.Co)
	}
	newLetters, newNumbers := 0, 0
	for r := rune(0); r <= unicode.MaxRune; r++ {
		cls := preClass(r)
		if unicode.IsLetter(r) != (cls == classLetter) || unicode.IsNumber(r) != (cls == classNumber) {
			if goAssigns(r) {
				t.Errorf("U+%04X: Go (Unicode %s) says letter=%v number=%v, the regex module's class is %d",
					r, unicode.Version, unicode.IsLetter(r), unicode.IsNumber(r), cls)
			}
			if cls == classLetter {
				newLetters++
			}
			if cls == classNumber {
				newNumbers++
			}
		}
	}
	t.Logf("code points the regex module classes as letters/numbers that Go %s leaves unassigned: %d/%d",
		unicode.Version, newLetters, newNumbers)
	if preClass(' ') != classSkip || preClass(0x345) != classSkip || preClass('!') != classOther {
		t.Error("pre-tokeniser classes of ' ', U+0345, '!'")
	}
	if len(html5Map) != 2231 {
		t.Errorf("%d HTML5 entities, want 2231", len(html5Map))
	}
	for _, tbl := range charmapTables {
		for b := 0; b < 0x80; b++ {
			want := rune(b)
			if b == 0x1a && tbl.sloppy {
				want = 0xfffd
			}
			if tbl.decode[b] != want {
				t.Errorf("%s: byte %#x decodes to %U, want %U", tbl.name, b, tbl.decode[b], want)
			}
		}
	}
}

// TestConcurrentTokenize runs Tokenize and TokenizeBatch from several goroutines (run with
// -race) and checks the results against a sequential run.
func TestConcurrentTokenize(t *testing.T) {
	tok, err := Load(writeTemp(t, embeddedVocab)) // fresh cache
	if err != nil {
		t.Fatal(err)
	}
	texts := fixtureTexts(t, "reference.jsonl")
	want := make([][]int32, len(texts))
	def := mustDefault(t)
	for i, s := range texts {
		want[i] = def.Tokenize(s)
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; i < len(texts); i += 2 {
				if got := tok.Tokenize(texts[i]); !slices.Equal(got, want[i]) {
					t.Errorf("goroutine %d: Tokenize(%q) differs", g, texts[i])
					return
				}
			}
		}()
	}
	wg.Wait()
	rows := tok.TokenizeBatch(texts)
	for i := range rows {
		if !slices.Equal(rows[i], want[i]) {
			t.Fatalf("TokenizeBatch row %d (%q) = %v, want %v", i, texts[i], rows[i], want[i])
		}
	}
}

func writeTemp(t *testing.T, data []byte) string {
	p := filepath.Join(t.TempDir(), "vocab.txt.gz")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestWordCacheIsBounded fills a small cache far past its bound.
func TestWordCacheIsBounded(t *testing.T) {
	c := newWordCache(64)
	for i := range 10000 {
		c.put("w"+strconv.Itoa(i), []int32{int32(i)})
	}
	if n := c.len(); n > 64 || n == 0 {
		t.Errorf("cache holds %d pieces, want 1…64", n)
	}
	if ids, ok := c.get("w9999"); !ok || ids[0] != 9999 {
		t.Errorf("most recent piece missing: %v %v", ids, ok)
	}
	off := newWordCache(0)
	off.put("a", []int32{1})
	if _, ok := off.get("a"); ok {
		t.Error("a zero-size cache stored a piece")
	}
}

// badnessRegexp is BADNESS_RE written for RE2, kept to check the hand-written matcher.
func badnessRegexp(t *testing.T) *regexp.Regexp {
	class := func(rr runeRanges) string {
		var b strings.Builder
		for _, p := range rr {
			fmt.Fprintf(&b, `\x{%x}-\x{%x}`, p[0], p[1])
		}
		return b.String()
	}
	var spaces runeRanges
	for _, r := range pySpace {
		spaces = append(spaces, [2]rune{r, r})
	}
	repl := []string{"{s}", "[" + class(spaces) + "]", "{w}", "[" + class(pyWord) + "]"}
	for name, c := range mojibakeCategories {
		if strings.ContainsAny(c, `\]^[`) {
			t.Fatalf("category %s has a character RE2 would read as class syntax", name)
		}
		repl = append(repl, "{"+name+"}", c)
	}
	return regexp.MustCompile(strings.NewReplacer(repl...).Replace(strings.Join(badnessAlternatives, "|")))
}

// TestBadnessMatcherMatchesRegexp compares isBad with the RE2 form of BADNESS_RE on every fixture
// text and on every window of up to 4 code points of the curated ones (the alternatives are 1
// to 4 characters long, so windows hit each alternative's matches in isolation).
func TestBadnessMatcherMatchesRegexp(t *testing.T) {
	re := badnessRegexp(t)
	texts := fixtureTexts(t, "reference.jsonl")
	for _, e := range []string{"Ã ", "a Ã ", "aÃ ", "Ã\u00a0", "ŒX", "Œ1", "ГўВЂВ\nx", "ГўВЂВ\u00a0x", "éé«1"} {
		texts = append(texts, e)
	}
	n := 0
	for _, text := range texts {
		rs := []rune(text)
		check := func(s string) {
			n++
			if got, want := isBad(s), re.MatchString(s); got != want {
				t.Errorf("isBad(%+q) = %v, BADNESS_RE says %v", s, got, want)
			}
		}
		check(text)
		if len(rs) > 200 {
			continue
		}
		for i := range rs {
			for j := i + 1; j <= min(i+4, len(rs)); j++ {
				check(string(rs[i:j]))
			}
		}
	}
	for _, text := range fixtureTexts(t, "random.jsonl") {
		n++
		if got, want := isBad(text), re.MatchString(text); got != want {
			t.Errorf("isBad(%+q) = %v, BADNESS_RE says %v", text, got, want)
		}
	}
	t.Logf("%d strings compared", n)
}

// TestBPEHeapMatchesRounds checks that the O(n log n) BPE used for long words gives the same
// ids as open_clip's round-by-round loop, on random words of many lengths and alphabets
// (including runs that exercise overlapping pairs like "a a a").
func TestBPEHeapMatchesRounds(t *testing.T) {
	tok := mustDefault(t)
	if !tok.wellFounded {
		t.Fatal("the CLIP merge list should be well-founded")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	alphabets := []string{"abcdefghijklmnopqrstuvwxyz", "aab", "a", "eé", "日本語猫", "0123456789",
		"!?.,;:-_", "qwxz", "thein"}
	count := 300
	if testing.Short() {
		count = 60
	}
	for i := range count {
		rs := []rune(alphabets[i%len(alphabets)])
		n := 1 + rng.IntN(400)
		var b strings.Builder
		for range n {
			b.WriteRune(rs[rng.IntN(len(rs))])
		}
		piece := b.String()
		word := make([]int32, 0, len(piece))
		for j := 0; j < len(piece)-1; j++ {
			word = append(word, tok.byteTok[piece[j]])
		}
		word = append(word, tok.byteEndTok[piece[len(piece)-1]])
		rounds := tok.bpeRounds(slices.Clone(word))
		if len(word) < 2 {
			continue
		}
		heap := tok.bpeHeap(slices.Clone(word))
		if !slices.Equal(rounds, heap) {
			t.Fatalf("piece %q: heap BPE %v, rounds %v", piece, heap, rounds)
		}
	}
	if isWellFounded([][2]string{{"a", "b"}, {"ab", "c"}}, 2) != true ||
		isWellFounded([][2]string{{"ab", "c"}, {"a", "b"}}, 2) != false ||
		isWellFounded([][2]string{{"a", "b"}, {"a", "b"}}, 1) != false {
		t.Error("isWellFounded on small lists")
	}
}
