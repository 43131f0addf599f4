package tokenizer

import (
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// fullTokenize is Tokenize computed the unbounded way: every id of the text, then truncation.
func fullTokenize(tok *Tokenizer, text string) []int32 {
	ids := []int32{tok.sot}
	for _, id := range tok.Encode(text) {
		ids = append(ids, int32(id))
	}
	ids = append(ids, tok.eot)
	if len(ids) > tok.ctxLen {
		ids = ids[:tok.ctxLen]
		ids[tok.ctxLen-1] = tok.eot
	}
	out := make([]int32, tok.ctxLen)
	copy(out, ids)
	return out
}

func randomLetters(r *rand.Rand, n int, alphabet string) string {
	a := []rune(alphabet)
	var b strings.Builder
	for b.Len() < n {
		b.WriteRune(a[r.IntN(len(a))])
	}
	return b.String()
}

// TestTokenizeStopsEarlyWithTheSameIds: Tokenize stops once it has the 77 ids it keeps, and
// tokenises a very long piece from a prefix; on every kind of long input the ids equal those of
// tokenising everything and truncating.
func TestTokenizeStopsEarlyWithTheSameIds(t *testing.T) {
	tok, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct{ name, text string }{
		{"many words", strings.Repeat("a photo of a cat on the mat. ", 200)},
		{"long random letters", randomLetters(r, 50000, "abcdefghijklmnopqrstuvwxyz")},
		{"long run of one letter", strings.Repeat("a", 30000)},
		{"long random accented", randomLetters(r, 40000, "éèàüößñçæøåabc")},
		{"long random CJK", randomLetters(r, 30000, "猫犬鳥魚花山川")},
		{"long digits and punctuation", strings.Repeat("1234567890!?-", 3000)},
		{"word then long piece", "hello " + randomLetters(r, 20000, "xyzq")},
		{"short", "a photo of a cat"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, want := tok.Tokenize(tc.text), fullTokenize(tok, tc.text)
			if !slices.Equal(got, want) {
				t.Errorf("Tokenize differs from tokenising everything:\n got %v\nwant %v", got, want)
			}
		})
	}
}

// TestTokenizeOfAHugeLineIsBounded: one 16 MiB line with no spaces used to take seconds and over
// a gigabyte to produce 77 ids; it must now take well under a second of BPE and little memory
// beyond the text's own cleaned copies.
func TestTokenizeOfAHugeLineIsBounded(t *testing.T) {
	tok, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	text := randomLetters(rand.New(rand.NewPCG(3, 4)), 16<<20, "abcdefghijklmnopqrstuvwxyz")
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	ids := tok.Tokenize(text)
	d := time.Since(start)
	runtime.ReadMemStats(&after)
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("16 MiB piece: %v, %d MiB allocated", d, alloc>>20)
	if ids[76] != tok.eot || ids[1] == tok.eot {
		t.Errorf("ids %v: want a full, truncated row", ids)
	}
	if alloc > 256<<20 {
		t.Errorf("allocated %d MiB, want under 256 MiB", alloc>>20)
	}
}
