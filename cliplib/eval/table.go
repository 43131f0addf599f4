package eval

import (
	"fmt"
	"slices"
	"strings"

	"github.com/clipkit/clipkit/cliplib/model"
)

// NotRunHere is what a table shows where no result with trained weights exists.
const NotRunHere = "not run here"

// Row is one line of the comparison table.
type Row struct {
	Model, Benchmark, Task, Metric string
	// Published is the published number (HasPublished false: none was copied from a source).
	Published    float64
	HasPublished bool
	Source       string
	// Ours is our measurement with trained weights (HasOurs false: none).
	Ours    float64
	HasOurs bool
	// Note explains a missing or partial number (NotRunHere, a subset, random weights only).
	Note string
}

// Metric keys of a task's rows.
func rowMetrics(b Benchmark, task string) []string {
	switch {
	case b.Retrieval:
		return []string{"i2t_r@1", "i2t_r@5", "i2t_r@10", "t2i_r@1", "t2i_r@5", "t2i_r@10"}
	case task == LinearProbeTask:
		return []string{MetricTop1}
	default:
		return []string{b.Main}
	}
}

// TableModels are the registered models with real weights (test configurations left out), in the
// registry's order.
func TableModels() []string {
	var out []string
	for _, n := range model.Names() {
		if !model.IsTestConfig(n) && !strings.HasPrefix(n, "tiny-") {
			out = append(out, n)
		}
	}
	return out
}

// BuildTable lines up, for each model and benchmark (zero-shot or retrieval, and linear probe),
// the published number beside ours. Results with random weights never fill the "ours" column:
// they measure nothing comparable. Published numbers for models that are not in models are left
// out.
func BuildTable(models []string, results []Result, published []Published) []Row {
	var rows []Row
	for _, m := range models {
		for _, b := range benchmarks {
			tasks := []string{ZeroShotTask}
			if b.Retrieval {
				tasks = []string{RetrievalTask}
			} else {
				tasks = append(tasks, LinearProbeTask)
			}
			for _, task := range tasks {
				for _, metric := range rowMetrics(b, task) {
					row := Row{Model: m, Benchmark: b.Name, Task: task, Metric: metric, Note: NotRunHere}
					pubMetric := metric
					if !b.Retrieval {
						pubMetric = "main"
					}
					if task != LinearProbeTask {
						for _, p := range published {
							if p.Model == m && p.Dataset == b.Name && p.Metric == pubMetric {
								row.Published, row.HasPublished, row.Source = p.Value, true, p.Source
							}
						}
					}
					random := false
					for _, r := range results {
						if r.Model != m || r.Benchmark != b.Name || r.Task != task {
							continue
						}
						v, ok := r.Metrics[metric]
						if !ok {
							continue
						}
						if r.RandomWeights {
							random = true
							continue
						}
						row.Ours, row.HasOurs = v, true
						row.Note = ""
						if r.Subset {
							row.Note = fmt.Sprintf("subset of %d images", r.Images)
						}
					}
					if !row.HasOurs && random {
						row.Note = NotRunHere + " (only random weights were run)"
					}
					rows = append(rows, row)
				}
			}
		}
	}
	return rows
}

func pct(v float64) string { return fmt.Sprintf("%.1f", 100*v) }

// Markdown renders rows as a Markdown table (numbers in percent) followed by the source files
// (each row's exact row and column of its source is in Row.Source).
// With onlyPublished it leaves out rows with neither a published number nor any run of ours.
func Markdown(rows []Row, onlyPublished bool) string {
	var sb strings.Builder
	sb.WriteString("| model | benchmark | task | metric | published (%) | ours (%) | note |\n| --- | --- | --- | --- | ---: | ---: | --- |\n")
	var sources []string
	for _, r := range rows {
		if onlyPublished && !r.HasPublished && !r.HasOurs && r.Note == NotRunHere {
			continue
		}
		pub, ours := "—", r.Note
		if r.HasPublished {
			src, _, _ := strings.Cut(r.Source, " row ")
			i := slices.Index(sources, src)
			if i < 0 {
				sources = append(sources, src)
				i = len(sources) - 1
			}
			pub = fmt.Sprintf("%s [%d]", pct(r.Published), i+1)
		}
		note := ""
		if r.HasOurs {
			ours, note = pct(r.Ours), r.Note
		}
		fmt.Fprintf(&sb, "| %s | %s | %s | %s | %s | %s | %s |\n", r.Model, r.Benchmark, r.Task, r.Metric, pub, ours, note)
	}
	if len(sources) > 0 {
		sb.WriteString("\nSources of the published numbers:\n\n")
		for i, s := range sources {
			fmt.Fprintf(&sb, "%d. %s\n", i+1, s)
		}
	}
	return sb.String()
}
