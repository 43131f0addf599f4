// Command cpubench measures float32 CPU throughput of GoMLX backends on the shapes of CLIP's
// towers, and of PyTorch on the same shapes in the same run, so the figures are comparable.
//
// Two workloads are timed:
//
//   - matmul: [M, K] x [K, N] (default 768 x 768 x 3072, a ViT-B MLP projection of 768 tokens);
//   - block: one pre-LN CLIP transformer block, the project's own nn.ResidualAttentionBlock,
//     on [batch, tokens, width] activations (default 1 x 197 x 768, 12 heads, MLP 4·width,
//     exact GELU), i.e. one layer of the ViT-B/16 image tower.
//
// Each backend configuration given in -backends (cliplib/backend syntax: "go", "xla:cpu",
// "xla:/abs/path/plugin.so") runs every workload: one untimed call that compiles, then -iters
// timed calls, each including the host→device copy of the input and the device→host copy of the
// output, as the encoder does. Outputs of every backend are compared with the first one's.
//
// With -torch naming a Python that has torch (the reference environment), the Python script
// torch_cpu.py beside this file times the same workloads (torch.nn.MultiheadAttention, as
// open_clip uses) and its rows are added to the table.
//
// Usage (from the repository root):
//
//	go run ./tools/bench/cpubench -backends go,xla:cpu -torch /root/refenv/bin/python
//
// GFLOP/s counts only the multiply-adds of the matrix products (2 flops each); the element-wise
// work (layer norms, softmax, GELU) is not counted, for every engine alike.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/clipkit/clipkit/cliplib/backend"
	"github.com/clipkit/clipkit/cliplib/model/nn"
	"github.com/gomlx/gomlx/backends"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
)

// Config holds the shapes and run parameters of one benchmark run.
type Config struct {
	// M, K, N are the matmul dimensions: [M, K] x [K, N].
	M, K, N int
	// Batch, Tokens, Width, Heads are the transformer block's activation shape and head count;
	// the MLP hidden width is 4·Width.
	Batch, Tokens, Width, Heads int
	// Iters is the number of timed calls per workload (after one untimed compiling call).
	Iters int
	// Workloads selects "matmul", "block" or both.
	Workloads []string
}

// Result is one row of the report.
type Result struct {
	// Workload is "matmul" or "block"; Engine names the backend ("go", "xla:cpu", "torch").
	Workload, Engine string
	// Detail describes the engine (backend description, torch version and threads).
	Detail string
	// GFLOP is the work of one call, counting 2 flops per multiply-add of the matrix products.
	GFLOP float64
	// FirstMS is the duration of the first (compiling) call in milliseconds; 0 if unknown.
	FirstMS float64
	// BestMS and MedianMS summarise the timed calls, in milliseconds.
	BestMS, MedianMS float64
	// MaxAbsDiff is the largest |difference| of the output from the first backend's (NaN when not
	// compared), and RefMaxAbs the largest |value| of the first backend's output.
	MaxAbsDiff, RefMaxAbs float64
}

// GFLOPS is the throughput of the best call in GFLOP/s.
func (r Result) GFLOPS() float64 { return r.GFLOP / (r.BestMS / 1000) }

// MatMulGFLOP is the work of an [m, k] x [k, n] product in GFLOP.
func MatMulGFLOP(m, k, n int) float64 { return 2 * float64(m) * float64(k) * float64(n) / 1e9 }

// BlockGFLOP is the matrix-product work of one CLIP transformer block in GFLOP: the fused QKV
// projection (3W²), the output projection (W²) and the MLP (8W²) per token, plus the two
// attention products (2·T·W per token).
func BlockGFLOP(batch, tokens, width int) float64 {
	b, t, w := float64(batch), float64(tokens), float64(width)
	return (24*b*t*w*w + 4*b*t*t*w) / 1e9
}

// Validate reports the first inconsistent field of c.
func (c Config) Validate() error {
	for _, d := range []struct {
		name string
		v    int
	}{{"m", c.M}, {"k", c.K}, {"n", c.N}, {"batch", c.Batch}, {"tokens", c.Tokens}, {"width", c.Width},
		{"heads", c.Heads}, {"iters", c.Iters}} {
		if d.v <= 0 {
			return fmt.Errorf("-%s must be positive, got %d", d.name, d.v)
		}
	}
	if c.Width%c.Heads != 0 {
		return fmt.Errorf("-width %d is not divisible by -heads %d", c.Width, c.Heads)
	}
	for _, w := range c.Workloads {
		if w != "matmul" && w != "block" {
			return fmt.Errorf("unknown workload %q in -workloads (want matmul and/or block)", w)
		}
	}
	if len(c.Workloads) == 0 {
		return errors.New("-workloads is empty (want matmul and/or block)")
	}
	return nil
}

// inputs holds the host data shared by every backend, so their outputs can be compared.
type inputs struct {
	a, b    []float32            // matmul operands, [M, K] and [K, N]
	x       []float32            // block input, [Batch, Tokens, Width]
	weights map[string][]float32 // block parameters by torch name (under the block's scope)
	dims    map[string][]int
}

// blockParams lists the parameters of nn.ResidualAttentionBlock with their shapes for width w.
func blockParams(w int) map[string][]int {
	return map[string][]int{
		"ln_1.weight": {w}, "ln_1.bias": {w},
		"attn.in_proj_weight": {3 * w, w}, "attn.in_proj_bias": {3 * w},
		"attn.out_proj.weight": {w, w}, "attn.out_proj.bias": {w},
		"ln_2.weight": {w}, "ln_2.bias": {w},
		"mlp.c_fc.weight": {4 * w, w}, "mlp.c_fc.bias": {4 * w},
		"mlp.c_proj.weight": {w, 4 * w}, "mlp.c_proj.bias": {w},
	}
}

func randomInputs(c Config, seed uint64) *inputs {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	normal := func(n int, std float64) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(rng.NormFloat64() * std)
		}
		return v
	}
	in := &inputs{
		a:       normal(c.M*c.K, 1),
		b:       normal(c.K*c.N, 1/math.Sqrt(float64(c.K))),
		x:       normal(c.Batch*c.Tokens*c.Width, 1),
		weights: map[string][]float32{},
		dims:    blockParams(c.Width),
	}
	names := make([]string, 0, len(in.dims))
	for name := range in.dims {
		names = append(names, name)
	}
	slices.Sort(names) // deterministic draw order
	for _, name := range names {
		dims := in.dims[name]
		size := 1
		for _, d := range dims {
			size *= d
		}
		switch {
		case strings.HasPrefix(name, "ln_") && strings.HasSuffix(name, ".weight"):
			v := normal(size, 0.1)
			for i := range v {
				v[i]++
			}
			in.weights[name] = v
		case strings.HasSuffix(name, "bias"):
			in.weights[name] = normal(size, 0.02)
		default:
			in.weights[name] = normal(size, 1/math.Sqrt(float64(dims[1])))
		}
	}
	return in
}

// timeCalls runs call once untimed-for-stats (reporting its duration as the compile call) and
// then iters times, returning the first duration, the best and the median, in milliseconds, and
// the output of the last call.
func timeCalls(iters int, call func() ([]float32, error)) (first, best, median float64, out []float32, err error) {
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	start := time.Now()
	if out, err = call(); err != nil {
		return
	}
	first = ms(time.Since(start))
	times := make([]float64, iters)
	for i := range times {
		start = time.Now()
		if out, err = call(); err != nil {
			return
		}
		times[i] = ms(time.Since(start))
	}
	slices.Sort(times)
	return first, times[0], times[len(times)/2], out, nil
}

func runMatMul(b backends.Backend, c Config, in *inputs) (Result, []float32, error) {
	exec, err := NewExec(b, func(x, y *Node) *Node { return MatMul(x, y) })
	if err != nil {
		return Result{}, nil, err
	}
	defer exec.Finalize()
	at := tensors.FromFlatDataAndDimensions(in.a, c.M, c.K)
	bt := tensors.FromFlatDataAndDimensions(in.b, c.K, c.N)
	first, best, median, out, err := timeCalls(c.Iters, func() ([]float32, error) {
		res, err := exec.Exec(at, bt)
		if err != nil {
			return nil, err
		}
		defer res[0].FinalizeAll()
		return tensors.CopyFlatData[float32](res[0])
	})
	if err != nil {
		return Result{}, nil, err
	}
	return Result{Workload: "matmul", GFLOP: MatMulGFLOP(c.M, c.K, c.N), FirstMS: first, BestMS: best, MedianMS: median}, out, nil
}

func runBlock(b backends.Backend, c Config, in *inputs) (Result, []float32, error) {
	ctx := context.New()
	scope := ctx.In("block")
	for name, data := range in.weights {
		parts := strings.Split(name, ".")
		sub := scope
		for _, p := range parts[:len(parts)-1] {
			sub = sub.In(p)
		}
		sub.VariableWithValue(parts[len(parts)-1], tensors.FromFlatDataAndDimensions(data, in.dims[name]...))
	}
	exec, err := context.NewExec(b, ctx, func(ctx *context.Context, x *Node) *Node {
		return nn.ResidualAttentionBlock(ctx.In("block"), x, c.Heads, nil, nn.GELU, 1e-5)
	})
	if err != nil {
		return Result{}, nil, err
	}
	defer exec.Finalize()
	xt := tensors.FromFlatDataAndDimensions(in.x, c.Batch, c.Tokens, c.Width)
	first, best, median, out, err := timeCalls(c.Iters, func() ([]float32, error) {
		res, err := exec.Exec(xt)
		if err != nil {
			return nil, err
		}
		defer res[0].FinalizeAll()
		return tensors.CopyFlatData[float32](res[0])
	})
	if err != nil {
		return Result{}, nil, err
	}
	return Result{Workload: "block", GFLOP: BlockGFLOP(c.Batch, c.Tokens, c.Width), FirstMS: first, BestMS: best, MedianMS: median}, out, nil
}

// maxAbs returns max|a-b| (NaN if lengths differ) and max|a|.
func maxAbs(ref, got []float32) (diff, refMax float64) {
	if len(ref) != len(got) {
		return math.NaN(), math.NaN()
	}
	for i := range ref {
		diff = max(diff, math.Abs(float64(ref[i])-float64(got[i])))
		refMax = max(refMax, math.Abs(float64(ref[i])))
	}
	return diff, refMax
}

// runGoMLX runs every workload on every backend configuration.
func runGoMLX(c Config, configs []string, in *inputs) ([]Result, error) {
	var results []Result
	refs := map[string][]float32{}
	for _, cfg := range configs {
		b, err := backend.New(cfg)
		if err != nil {
			return results, err
		}
		for _, w := range c.Workloads {
			run := runMatMul
			if w == "block" {
				run = runBlock
			}
			r, out, err := runProtected(func() (Result, []float32, error) { return run(b, c, in) })
			if err != nil {
				b.Finalize()
				return results, fmt.Errorf("%s on %q: %w", w, cfg, err)
			}
			r.Engine, r.Detail = cfg, backend.Describe(b)
			r.MaxAbsDiff, r.RefMaxAbs = math.NaN(), math.NaN()
			if ref, ok := refs[w]; ok {
				r.MaxAbsDiff, r.RefMaxAbs = maxAbs(ref, out)
			} else {
				refs[w] = out
			}
			results = append(results, r)
		}
		b.Finalize()
	}
	return results, nil
}

// runProtected turns a GoMLX panic (graph-building errors are panics) into an error.
func runProtected(f func() (Result, []float32, error)) (r Result, out []float32, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%v", p)
		}
	}()
	return f()
}

// torchRow is one JSON line printed by torch_cpu.py.
type torchRow struct {
	Workload string  `json:"workload"`
	FirstMS  float64 `json:"first_ms"`
	BestMS   float64 `json:"best_ms"`
	MedianMS float64 `json:"median_ms"`
	Torch    string  `json:"torch"`
	Threads  int     `json:"threads"`
}

// runTorch runs torch_cpu.py (found beside this source file or in scriptDir) with python.
func runTorch(python, scriptDir string, c Config) ([]Result, error) {
	script := filepath.Join(scriptDir, "torch_cpu.py")
	if _, err := os.Stat(script); err != nil {
		return nil, fmt.Errorf("-torch: cannot find %s (run from the repository root or set -scripts): %w", script, err)
	}
	args := []string{script,
		"--m", fmt.Sprint(c.M), "--k", fmt.Sprint(c.K), "--n", fmt.Sprint(c.N),
		"--batch", fmt.Sprint(c.Batch), "--tokens", fmt.Sprint(c.Tokens), "--width", fmt.Sprint(c.Width),
		"--heads", fmt.Sprint(c.Heads), "--iters", fmt.Sprint(c.Iters),
		"--workloads", strings.Join(c.Workloads, ",")}
	cmd := exec.Command(python, args...)
	// OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE are set on some of these machines for old OpenBLAS
	// builds; torch does its products with MKL/oneDNN, but drop them so they cannot interfere.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "OPENBLAS_CORETYPE=") && !strings.HasPrefix(kv, "OPENBLAS_L2_SIZE=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("running %s %s: %w\n%s", python, script, err, stderr.String())
	}
	var results []Result
	dec := json.NewDecoder(&stdout)
	for {
		var row torchRow
		if err := dec.Decode(&row); err == io.EOF {
			break
		} else if err != nil {
			return nil, fmt.Errorf("parsing the output of %s: %w", script, err)
		}
		r := Result{Workload: row.Workload, Engine: "torch",
			Detail:  fmt.Sprintf("PyTorch %s, %d thread(s)", row.Torch, row.Threads),
			FirstMS: row.FirstMS, BestMS: row.BestMS, MedianMS: row.MedianMS,
			MaxAbsDiff: math.NaN(), RefMaxAbs: math.NaN()}
		switch row.Workload {
		case "matmul":
			r.GFLOP = MatMulGFLOP(c.M, c.K, c.N)
		case "block":
			r.GFLOP = BlockGFLOP(c.Batch, c.Tokens, c.Width)
		default:
			return nil, fmt.Errorf("%s printed an unknown workload %q", script, row.Workload)
		}
		results = append(results, r)
	}
	return results, nil
}

// Report writes the results as an aligned table, grouped by workload in the order of c.Workloads.
func Report(w io.Writer, c Config, results []Result) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "workload\tengine\tGFLOP/call\tfirst ms\tbest ms\tmedian ms\tGFLOP/s\tmax|diff| (max|ref|)\tdetail")
	for _, wl := range c.Workloads {
		for _, r := range results {
			if r.Workload != wl {
				continue
			}
			diff := "-"
			if !math.IsNaN(r.MaxAbsDiff) {
				diff = fmt.Sprintf("%.2g (%.3g)", r.MaxAbsDiff, r.RefMaxAbs)
			}
			fmt.Fprintf(tw, "%s\t%s\t%.2f\t%.0f\t%.1f\t%.1f\t%.1f\t%s\t%s\n", r.Workload, r.Engine, r.GFLOP,
				r.FirstMS, r.BestMS, r.MedianMS, r.GFLOPS(), diff, r.Detail)
		}
	}
	return tw.Flush()
}

func main() {
	var c Config
	flag.IntVar(&c.M, "m", 768, "matmul: rows of the left operand")
	flag.IntVar(&c.K, "k", 768, "matmul: contracted dimension")
	flag.IntVar(&c.N, "n", 3072, "matmul: columns of the right operand")
	flag.IntVar(&c.Batch, "batch", 1, "block: batch size")
	flag.IntVar(&c.Tokens, "tokens", 197, "block: tokens per sequence (197 = ViT-B/16 at 224 px)")
	flag.IntVar(&c.Width, "width", 768, "block: model width")
	flag.IntVar(&c.Heads, "heads", 12, "block: attention heads")
	flag.IntVar(&c.Iters, "iters", 5, "timed calls per workload and engine")
	workloads := flag.String("workloads", "matmul,block", "comma-separated workloads: matmul, block")
	configs := flag.String("backends", "go,xla:cpu", "comma-separated backend configurations (cliplib/backend syntax)")
	python := flag.String("torch", os.Getenv("CLIPKIT_TORCH_PYTHON"),
		"a Python with torch to time the same workloads with PyTorch CPU (default $CLIPKIT_TORCH_PYTHON; empty skips)")
	scripts := flag.String("scripts", filepath.Join("tools", "bench"), "directory holding torch_cpu.py")
	flag.Parse()
	c.Workloads = strings.Split(*workloads, ",")
	if err := c.Validate(); err != nil {
		fmt.Fprintln(os.Stderr, "cpubench:", err)
		os.Exit(2)
	}
	fmt.Printf("cpubench: %s/%s, %d CPU(s), GOMAXPROCS=%d\n", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.GOMAXPROCS(0))
	fmt.Printf("matmul [%d,%d]x[%d,%d]; block batch=%d tokens=%d width=%d heads=%d mlp=%d; %d timed call(s) each\n\n",
		c.M, c.K, c.K, c.N, c.Batch, c.Tokens, c.Width, c.Heads, 4*c.Width, c.Iters)
	results, err := runGoMLX(c, strings.Split(*configs, ","), randomInputs(c, 1))
	if err == nil && *python != "" {
		var tr []Result
		tr, err = runTorch(*python, *scripts, c)
		results = append(results, tr...)
	}
	if rerr := Report(os.Stdout, c, results); rerr != nil && err == nil {
		err = rerr
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "cpubench:", err)
		os.Exit(1)
	}
}
