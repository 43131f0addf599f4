package bench

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/clipkit/clipkit/cliplib"
	"github.com/clipkit/clipkit/cliplib/backend"
	"github.com/clipkit/clipkit/cliplib/encoder"
)

// WorkerRequest is one line of the interleaved-benchmark protocol (JSON, one object per line):
//
//	{"op":"load","model":"ViT-B/32","backend":"xla:cpu","precision":"f32","full_context":true}
//	{"op":"time","tower":"image","batch":8,"calls":2}
//	{"op":"quit"}
//
// A reference process (tools/bench/torch_bench.py --interleave-with) drives the worker: for each
// point it alternates a few timed calls here with the same calls in PyTorch, so both sides see the
// same machine load, and neither runs while the other is timed.
type WorkerRequest struct {
	Op          string `json:"op"`
	Model       string `json:"model,omitempty"`
	Backend     string `json:"backend,omitempty"`
	Precision   string `json:"precision,omitempty"`
	FullContext bool   `json:"full_context,omitempty"` // text towers run the full 77-token context
	Tower       string `json:"tower,omitempty"`
	Batch       int    `json:"batch,omitempty"`
	Calls       int    `json:"calls,omitempty"`       // timed calls (default 1)
	TextLength  int    `json:"text_length,omitempty"` // real tokens per prompt (default 7)
}

// WorkerReply answers one WorkerRequest.
type WorkerReply struct {
	OK         bool      `json:"ok"`
	Error      string    `json:"error,omitempty"`
	Backend    string    `json:"backend,omitempty"`     // load: the backend line (DescribeChoice)
	Machine    string    `json:"machine,omitempty"`     // load
	LoadMs     float64   `json:"load_ms,omitempty"`     // load: weights and executors, no compilation
	TextLength int       `json:"text_length,omitempty"` // time (text): the sequence length run
	LatMs      []float64 `json:"lat_ms,omitempty"`      // time: one latency per call, in milliseconds
}

// maxWorkerBatch bounds the batch a request may ask for (the input is allocated up front).
const maxWorkerBatch = 4096

// ServeWorker answers WorkerRequests read from r, one JSON reply per line on w, until "quit" or
// the end of r. One model is loaded at a time; a bad request gets an error reply and the worker
// goes on. The first call of each (tower, batch) compiles its graph: callers warm up first.
func ServeWorker(r io.Reader, w io.Writer) error {
	var m *cliplib.Model
	points := map[pointKey]pointCallResult{} // the loaded model's inputs, made once per point
	defer func() {
		if m != nil {
			m.Close()
		}
	}()
	enc := json.NewEncoder(w)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var req WorkerRequest
		var rep WorkerReply
		if err := json.Unmarshal(sc.Bytes(), &req); err != nil {
			rep.Error = fmt.Sprintf("bad request %q: %v", truncate(sc.Text(), 200), err)
		} else {
			switch req.Op {
			case "load":
				if m != nil {
					m.Close()
					m = nil
				}
				t0 := time.Now()
				var err error
				points = map[pointKey]pointCallResult{}
				m, err = cliplib.Load(req.Model, cliplib.Options{Backend: req.Backend, Precision: req.Precision, RandomWeights: true,
					Encoder: encoder.Options{FullTextLength: req.FullContext}})
				if err != nil {
					rep.Error = err.Error()
					break
				}
				rep.OK, rep.LoadMs = true, ms(time.Since(t0))
				rep.Backend = backend.DescribeChoice(m.Encoder().Backend(), m.Encoder().BackendChoice())
				rep.Machine = Machine()
			case "time":
				rep = workerTime(m, req, points)
			case "quit":
				return enc.Encode(WorkerReply{OK: true})
			default:
				rep.Error = fmt.Sprintf("unknown op %q (want load, time or quit)", req.Op)
			}
		}
		if err := enc.Encode(rep); err != nil {
			return err
		}
	}
	return sc.Err()
}

// pointKey names a benchmark point of the loaded model; pointCallResult is what pointCall made
// for it.
type pointKey struct {
	tower             string
	batch, textLength int
}

type pointCallResult struct {
	call       func() error
	textLength int
}

// workerTime runs req.Calls timed calls of one point on m, reusing the point's inputs from points
// (rounds of the same point come one after the other).
func workerTime(m *cliplib.Model, req WorkerRequest, points map[pointKey]pointCallResult) (rep WorkerReply) {
	switch {
	case m == nil:
		rep.Error = "no model loaded (send a load request first)"
		return rep
	case req.Batch < 1 || req.Batch > maxWorkerBatch:
		rep.Error = fmt.Sprintf("batch %d out of range [1, %d]", req.Batch, maxWorkerBatch)
		return rep
	}
	calls := max(req.Calls, 1)
	if calls > 1000 {
		rep.Error = fmt.Sprintf("calls %d out of range [1, 1000]", calls)
		return rep
	}
	tl := req.TextLength
	if tl <= 0 {
		tl = 7
	}
	key := pointKey{req.Tower, req.Batch, tl}
	p, ok := points[key]
	if !ok {
		call, textLength, err := pointCall(m, req.Tower, req.Batch, tl)
		if err != nil {
			rep.Error = err.Error()
			return rep
		}
		p = pointCallResult{call, textLength}
		points[key] = p
	}
	rep.TextLength = p.textLength
	call := p.call
	for i := 0; i < calls; i++ {
		t0 := time.Now()
		if err := call(); err != nil {
			rep.Error = err.Error()
			return rep
		}
		rep.LatMs = append(rep.LatMs, float64(time.Since(t0).Nanoseconds())/1e6)
	}
	rep.OK = true
	return rep
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
