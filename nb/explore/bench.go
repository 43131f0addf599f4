package explore

import (
	"os"
	"path/filepath"

	"github.com/clipkit/clipkit/cliplib/bench"
	"github.com/clipkit/clipkit/nb/notebook"
)

// The functions below run a cliplib/bench measurement with a progress bar, once per key: each
// GoNB cell is a new process, so a later cell calling with the same key reads the stored result
// (notebook.Cached) instead of measuring again. Put everything that changes the result into key
// (nb.SessionKey adds the kernel session, backend and smoke mode). cfg.Progress is replaced.

// MemoryRun is a benchmark with memory per point, and the process memory after all of it.
type MemoryRun struct {
	*bench.MemoryReport
	// After is the process memory after every point was measured.
	After Memory
}

// Benchmark runs bench.Run(cfg) once per key.
func Benchmark(key string, cfg bench.Config) (*bench.Report, error) {
	return notebook.Cached(key, func() (*bench.Report, error) {
		p := notebook.NewProgress("Benchmark points", points(cfg))
		cfg.Progress = func(bench.Result) { p.Add(1) }
		defer p.Done()
		return bench.Run(cfg)
	})
}

// BenchmarkWithMemory runs bench.RunWithMemory(cfg) once per key, then reads the process memory.
func BenchmarkWithMemory(key string, cfg bench.Config) (MemoryRun, error) {
	return notebook.Cached(key, func() (MemoryRun, error) {
		p := notebook.NewProgress("Benchmark points", points(cfg))
		cfg.Progress = func(bench.Result) { p.Add(1) }
		rep, err := bench.RunWithMemory(cfg)
		p.Done()
		if err != nil {
			return MemoryRun{}, err
		}
		mem, err := ProcessMemory()
		return MemoryRun{MemoryReport: rep, After: mem}, err
	})
}

// points is the number of points cfg measures.
func points(cfg bench.Config) int {
	return max(1, len(cfg.Models)) * max(1, len(cfg.Towers)) * max(1, len(cfg.Batches)) * max(1, len(cfg.Precisions))
}

// Batching runs bench.Batching for each of cfgs (one report each, in order) once per key.
func Batching(key string, cfgs ...bench.BatchingConfig) ([]*bench.BatchingReport, error) {
	return notebook.Cached(key, func() ([]*bench.BatchingReport, error) {
		total := 0
		for _, c := range cfgs {
			total += len(c.MaxBatches)
		}
		p := notebook.NewProgress("Batching benchmark points", total)
		defer p.Done()
		var out []*bench.BatchingReport
		for _, c := range cfgs {
			c.Progress = func(bench.BatchingResult) { p.Add(1) }
			rep, err := bench.Batching(c)
			if err != nil {
				return nil, err
			}
			out = append(out, rep)
		}
		return out, nil
	})
}

// TextLengths runs bench.CompareTextLengths(cfg) once per key.
func TextLengths(key string, cfg bench.TextLengthConfig) (*bench.TextLengthReport, error) {
	return notebook.Cached(key, func() (*bench.TextLengthReport, error) {
		p := notebook.NewProgress("Batch sizes", len(cfg.Batches))
		cfg.Progress = func(bench.TextLengthResult) { p.Add(1) }
		defer p.Done()
		return bench.CompareTextLengths(cfg)
	})
}

// ZeroShotWorkload runs bench.ZeroShotWorkload(cfg) once per key.
func ZeroShotWorkload(key string, cfg bench.ZeroShotConfig) (*bench.ZeroShotReport, error) {
	return notebook.Cached(key, func() (*bench.ZeroShotReport, error) {
		p := notebook.NewProgress("Requests", cfg.Requests*(1+len(cfg.Precisions)))
		cfg.Progress = func(string) { p.Add(1) }
		defer p.Done()
		return bench.ZeroShotWorkload(cfg)
	})
}

// EnvBenchJSON names a saved benchmark report (clipx bench --json) that BenchmarkReport reads
// instead of measuring.
const EnvBenchJSON = "CLIP_BENCH_JSON"

// BenchmarkReport returns the report of $CLIP_BENCH_JSON when set; otherwise it runs
// Benchmark(key, cfg) and saves the report as indented JSON to name in notebook.CacheDir() (for
// other tools; replaced atomically).
func BenchmarkReport(key string, cfg bench.Config, name string) (*bench.Report, error) {
	if p := os.Getenv(EnvBenchJSON); p != "" {
		return bench.ReadReport(p)
	}
	r, err := Benchmark(key, cfg)
	if err != nil {
		return nil, err
	}
	dir, err := notebook.CacheDir()
	if err != nil {
		return nil, err
	}
	return r, notebook.SaveJSON(filepath.Join(dir, name), r)
}
