package tokenizer

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// fixtureRow is one line of testdata/tokenizer/{reference,random}.jsonl, written by
// tools/reference/make_tokenizer_fixtures.py from open_clip's SimpleTokenizer with real ftfy.
type fixtureRow struct {
	Cat   string  `json:"cat"`
	Text  string  `json:"text"`
	Fixed string  `json:"fixed"` // ftfy.fix_text(text)
	Clean string  `json:"clean"` // open_clip's _clean_lower(text): what the pre-tokeniser sees
	IDs   []int32 `json:"ids"`   // open_clip tokenize(text)[0], 77 ids
}

// testdataDir is the repository's testdata/tokenizer, two levels above this package.
const testdataDir = "../../testdata/tokenizer"

func readFixture(t testing.TB, name string) []fixtureRow {
	t.Helper()
	return readFixtureFile(t, filepath.Join(testdataDir, name))
}

func readFixtureFile(t testing.TB, path string) []fixtureRow {
	t.Helper()
	name := filepath.Base(path)
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("reading fixture (made by tools/reference/make_tokenizer_fixtures.py): %v", err)
	}
	defer f.Close()
	var rows []fixtureRow
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for line := 1; sc.Scan(); line++ {
		var r fixtureRow
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("%s:%d: %v", name, line, err)
		}
		rows = append(rows, r)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return rows
}

func mustDefault(t testing.TB) *Tokenizer {
	t.Helper()
	tok, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// checkRows compares every stage for every row and returns the number of rows that failed.
func checkRows(t *testing.T, tok *Tokenizer, rows []fixtureRow) {
	t.Helper()
	failedByCat := map[string]int{}
	for i, r := range rows {
		var bad []string
		if got := fixText(toValidUTF8(r.Text)); got != r.Fixed {
			bad = append(bad, "fix_text")
			t.Errorf("row %d [%s] %+q: ftfy.fix_text\n got  %+q\n want %+q", i, r.Cat, r.Text, got, r.Fixed)
		}
		if got := cleanText(r.Text); got != r.Clean {
			bad = append(bad, "clean")
			t.Errorf("row %d [%s] %+q: clean\n got  %+q\n want %+q", i, r.Cat, r.Text, got, r.Clean)
		}
		if got := tok.Tokenize(r.Text); !slices.Equal(got, r.IDs) {
			bad = append(bad, "ids")
			t.Errorf("row %d [%s] %+q: ids\n got  %v\n want %v", i, r.Cat, r.Text, got, r.IDs)
		}
		if len(bad) > 0 {
			failedByCat[r.Cat]++
		}
	}
	if len(failedByCat) > 0 {
		t.Errorf("failed rows by category: %v", failedByCat)
	}
}

// TestReferenceFixtureMatchesOpenCLIP proves that every curated string (≥300, all categories
// of the fixture script) gets exactly open_clip's 77 ids, and that the intermediate ftfy and
// cleaning outputs match Python's too.
func TestReferenceFixtureMatchesOpenCLIP(t *testing.T) {
	rows := readFixture(t, "reference.jsonl")
	if len(rows) < 300 {
		t.Fatalf("reference.jsonl has %d rows, expected at least 300", len(rows))
	}
	checkRows(t, mustDefault(t), rows)
}

// TestRandomFixtureMatchesOpenCLIP does the same for the seeded random strings (mixed scripts,
// entities, control characters and generated mojibake).
func TestRandomFixtureMatchesOpenCLIP(t *testing.T) {
	checkRows(t, mustDefault(t), readFixture(t, "random.jsonl"))
}

// TestBigRandomFixture checks a larger random fixture that is not committed (20,000 strings:
// random code points from every plane, mixed scripts, generated mojibake). Opt-in:
//
//	/root/refenv/bin/python tools/reference/make_tokenizer_fixtures.py --big /tmp/big.jsonl
//	CLIP_TOKENIZER_BIG_FIXTURE=/tmp/big.jsonl go test ./cliplib/tokenizer -run BigRandom
func TestBigRandomFixture(t *testing.T) {
	path := os.Getenv("CLIP_TOKENIZER_BIG_FIXTURE")
	if path == "" {
		t.Skip("set CLIP_TOKENIZER_BIG_FIXTURE to a file written by make_tokenizer_fixtures.py --big")
	}
	checkRows(t, mustDefault(t), readFixtureFile(t, path))
}
