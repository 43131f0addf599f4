package bench

import (
	"bufio"
	"encoding/json"
	"strings"
	"testing"

	"github.com/clipkit/clipkit/cliplib"
	"github.com/clipkit/clipkit/cliplib/internal/testutil"
	"github.com/clipkit/clipkit/cliplib/model"
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
		"first run": rep.FirstRunMs, "weight conversion": rep.ConvertMs, "identity": rep.IdentityMs,
		"second run": rep.SecondRunMs} {
		if v <= 0 {
			t.Errorf("%s took %g ms, want a positive time", name, v)
		}
	}
	sum := rep.ReadMs + rep.PlaceMs + rep.CompileMs + rep.FirstRunMs
	if d := rep.ToFirstEmbeddingMs - sum; d > 1e-6 || d < -1e-6 {
		t.Errorf("total %g ms is not the sum of the phases %g ms", rep.ToFirstEmbeddingMs, sum)
	}
	if rep.CompileCache == "" || !strings.Contains(rep.String(), "compile cache: ") {
		t.Errorf("the report says nothing about the compilation cache:\n%s", rep)
	}
	if !strings.Contains(rep.String(), "to first embedding") {
		t.Errorf("report:\n%s", rep)
	}
	if _, err := TimeLoad("no-such-model", cliplib.Options{}, "x"); err == nil {
		t.Error("an unknown model loaded")
	}
}

// TestFLOPsPerItemOfViTB32 checks the count against ViT-B/32's worked out by hand: image tower
// 49·3072·768 multiply-adds for the patch embedding plus 12 layers of 12·50·768² + 2·50²·768, about
// 4.41 G (the "4.4 GFLOPs" usually quoted for it, which counts multiply-adds); text tower at 77
// tokens 12 layers of 12·77·512² + 2·77²·512, about 2.93 G. Convolutional families stay at 0.
func TestFLOPsPerItemOfViTB32(t *testing.T) {
	cfg, err := model.Lookup("ViT-B/32")
	if err != nil {
		t.Fatal(err)
	}
	got := FLOPsPerItem(cfg, "image", 0) / 2e9 // multiply-adds, in billions
	if got < 4.3 || got > 4.5 {
		t.Errorf("ViT-B/32 image tower: %.3g G multiply-adds, want ≈ 4.4", got)
	}
	text := FLOPsPerItem(cfg, "text", 77) / 2e9
	if text < 2.8 || text > 3.1 {
		t.Errorf("ViT-B/32 text tower at 77 tokens: %.3g G multiply-adds, want ≈ 2.9", text)
	}
	rn, _ := model.Lookup("RN50")
	if f := FLOPsPerItem(rn, "image", 0); f != 0 {
		t.Errorf("RN50 image: %g, want 0 (not modelled)", f)
	}
}
