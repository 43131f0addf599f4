package widgets

import (
	"math"
	"strings"
)

// StubScores is a stand-in for a model, for checking the widget kit without one (notebook 00): a
// softmax over how many letters a-z of each prompt (counted with repeats, case-insensitively) occur
// in name, divided by softness (> 0). It returns one probability per prompt, in order; nil for no
// prompts. StubScoresJS computes the same in the page.
func StubScores(name string, prompts []string, softness float64) []float64 {
	if len(prompts) == 0 {
		return nil
	}
	name = strings.ToLower(name)
	scores := make([]float64, len(prompts))
	total := 0.0
	for i, p := range prompts {
		shared := 0
		for _, ch := range strings.ToLower(p) {
			if ch >= 'a' && ch <= 'z' && strings.ContainsRune(name, ch) {
				shared++
			}
		}
		scores[i] = math.Exp(float64(shared) / softness)
		total += scores[i]
	}
	for i := range scores {
		scores[i] /= total
	}
	return scores
}

// StubScoresJS is StubScores in JavaScript, a Panel's Render: it reads the prompts from the
// response (resp.prompts, from a Request returning {local: {prompts: ...}}), the softness from the
// control named "softness" and the lower-cased name from the panel's State ("name"), and redraws
// the first chart's bars.
const StubScoresJS = `
var name = ctx.state.name, prompts = resp.prompts, soft = values.softness, total = 0;
var scores = prompts.map(function (p) {
  var shared = 0, s = p.toLowerCase();
  for (var i = 0; i < s.length; i++) { var ch = s[i]; if (ch >= "a" && ch <= "z" && name.indexOf(ch) >= 0) { shared++; } }
  var e = Math.exp(shared / soft); total += e; return e;
});
ctx.bars(0, prompts, [scores.map(function (e) { return e / total; })], 3);`
