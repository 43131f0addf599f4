package bench

import (
	"bufio"
	"encoding/json"
	"strings"
	"testing"

	"github.com/clipkit/clipkit/cliplib"
	"github.com/clipkit/clipkit/cliplib/internal/testutil"
)

// TestWorkerAnswersEveryRequest drives the interleaved-benchmark worker as the PyTorch driver
// does: load, timed calls of both towers, bad requests answered with errors (the worker goes on),
// and quit.
func TestWorkerAnswersEveryRequest(t *testing.T) {
	be := testutil.BackendConfig()
	reqs := []string{
		`{"op":"time","tower":"image","batch":1}`,
		`{"op":"load","model":"tiny-vit","backend":"` + be + `","full_context":true}`,
		`{"op":"time","tower":"image","batch":2,"calls":3}`,
		`{"op":"time","tower":"text","batch":2,"calls":2}`,
		`{"op":"time","tower":"audio","batch":1}`,
		`{"op":"time","tower":"image","batch":0}`,
		`not json`,
		`{"op":"load","model":"no-such-model"}`,
		`{"op":"fly"}`,
		`{"op":"quit"}`,
		`{"op":"time","tower":"image","batch":1}`, // after quit: never answered
	}
	var out strings.Builder
	if err := ServeWorker(strings.NewReader(strings.Join(reqs, "\n")+"\n"), &out); err != nil {
		t.Fatal(err)
	}
	var reps []WorkerReply
	sc := bufio.NewScanner(strings.NewReader(out.String()))
	for sc.Scan() {
		var r WorkerReply
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("reply %q: %v", sc.Text(), err)
		}
		reps = append(reps, r)
	}
	if len(reps) != len(reqs)-1 {
		t.Fatalf("got %d replies to %d requests (the last follows quit):\n%s", len(reps), len(reqs), out.String())
	}
	for i, tc := range []struct {
		ok      bool
		lats    int
		errWant string
	}{
		{false, 0, "no model loaded"},
		{true, 0, ""},
		{true, 3, ""},
		{true, 2, ""},
		{false, 0, `unknown tower "audio"`},
		{false, 0, "batch 0 out of range"},
		{false, 0, "bad request"},
		{false, 0, "no-such-model"},
		{false, 0, `unknown op "fly"`},
		{true, 0, ""},
	} {
		r := reps[i]
		if r.OK != tc.ok || len(r.LatMs) != tc.lats || !strings.Contains(r.Error, tc.errWant) {
			t.Errorf("request %s: reply %+v, want ok=%v with %d latencies and an error containing %q", reqs[i], r, tc.ok, tc.lats, tc.errWant)
		}
		for _, l := range r.LatMs {
			if l <= 0 {
				t.Errorf("request %s: latency %g ms", reqs[i], l)
			}
		}
	}
	if reps[1].Backend == "" || reps[1].LoadMs <= 0 {
		t.Errorf("load reply %+v lacks the backend or the load time", reps[1])
	}
	if reps[3].TextLength != 77 {
		t.Errorf("full_context text ran %d tokens, want 77", reps[3].TextLength)
	}
}

// TestTimeLoadSplitsEveryPhase times a tiny model from random weights: every phase is measured
// and the total is their sum.
func TestTimeLoadSplitsEveryPhase(t *testing.T) {
	rep, err := TimeLoad("tiny-vit", cliplib.Options{Backend: testutil.BackendConfig(), RandomWeights: true}, "a photo of a cat")
	if err != nil {
		t.Fatal(err)
	}
	for name, v := range map[string]float64{"read": rep.ReadMs, "place": rep.PlaceMs, "compile": rep.CompileMs,
		"first run": rep.FirstRunMs, "identity": rep.IdentityMs, "second run": rep.SecondRunMs} {
		if v <= 0 {
			t.Errorf("%s took %g ms, want a positive time", name, v)
		}
	}
	sum := rep.ReadMs + rep.PlaceMs + rep.CompileMs + rep.FirstRunMs
	if d := rep.ToFirstEmbeddingMs - sum; d > 1e-6 || d < -1e-6 {
		t.Errorf("total %g ms is not the sum of the phases %g ms", rep.ToFirstEmbeddingMs, sum)
	}
	if !strings.Contains(rep.String(), "to first embedding") {
		t.Errorf("report:\n%s", rep)
	}
	if _, err := TimeLoad("no-such-model", cliplib.Options{}, "x"); err == nil {
		t.Error("an unknown model loaded")
	}
}
