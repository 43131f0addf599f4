// Command servebench measures the model server's zero-shot latency as a live notebook control
// sees it: a warm `clipx serve`, a gallery of photos encoded once, then POST /v1/zeroshot with one
// new prompt per request (a text-cache miss: one text encoded) and with an unchanged request (a
// hit), directly on loopback and, with --jupyter, through Jupyter's jupyter-server-proxy as a
// browser widget does. It prints p50/p95 of the client's round trip and the server's own "ms".
//
//	go run ./tools/bench/servebench --model ViT-B/32 --backend xla:cpu --random-weights --n 12 --jupyter
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/clipkit/clipkit/nb/notebook"
	"github.com/clipkit/clipkit/nb/serve"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "servebench:", err)
		os.Exit(1)
	}
}

// result is one measured case: round-trip and server-side latencies in milliseconds.
type result struct {
	Path        string  `json:"path"`
	Case        string  `json:"case"`
	N           int     `json:"n"`
	P50         float64 `json:"p50_ms"`
	P95         float64 `json:"p95_ms"`
	ServerP50Ms float64 `json:"server_p50_ms"`
	MinMs       float64 `json:"min_ms"`
	MaxMs       float64 `json:"max_ms"`
}

func run() error {
	model := flag.String("model", "ViT-B/32", "model to serve")
	backend := flag.String("backend", "xla:cpu", "GoMLX backend")
	precision := flag.String("precision", "f32", "f32, bf16 or f16")
	random := flag.Bool("random-weights", false, "serve deterministic random weights (timing only)")
	images := flag.String("images", "", "folder of photos (default: the sample photos, ../shared/data/clip_test_images)")
	n := flag.Int("n", 12, "number of photos in the gallery")
	requests := flag.Int("requests", 30, "timed requests per case")
	jupyter := flag.Bool("jupyter", false, "also measure through jupyter-server-proxy (starts .venv/bin/jupyter server)")
	keep := flag.Bool("keep", false, "leave the server running afterwards (default: shut it down)")
	jsonOut := flag.String("json", "", "write the results as JSON to this file")
	flag.Parse()

	dir := *images
	if dir == "" {
		var err error
		if dir, err = notebook.ImagesDir(); err != nil {
			return err
		}
	}
	files, err := notebook.ImageFiles(dir)
	if err != nil {
		return err
	}
	if len(files) < *n {
		return fmt.Errorf("%s has %d photos, --n asks for %d", dir, len(files), *n)
	}
	files = files[:*n]

	t0 := time.Now()
	c, err := serve.Attach(serve.Options{Model: *model, Backend: *backend, Precision: *precision, RandomWeights: *random, Idle: 10 * time.Minute})
	if err != nil {
		return err
	}
	if !*keep {
		defer c.Shutdown()
	}
	h, err := c.Health()
	if err != nil {
		return err
	}
	fmt.Printf("server: %s on %s, %s, random weights %v, pid %d (attach/start %v)\n", h.Model, h.Backend, h.Precision, h.RandomWeights, h.PID, time.Since(t0).Round(time.Millisecond))
	t1 := time.Now()
	g, err := c.Gallery("servebench", files, nil)
	if err != nil {
		return err
	}
	fmt.Printf("gallery: %d photos from %s, encoded in %v (server %.0f ms)\n", g.N, dir, time.Since(t1).Round(time.Millisecond), g.Ms)

	type target struct{ name, url, query string }
	targets := []target{{"direct", c.URL() + "/", ""}}
	if *jupyter {
		j, err := serve.StartJupyter("")
		if err != nil {
			return err
		}
		defer j.Stop()
		targets = append(targets, target{"jupyter-server-proxy", j.ProxyBase(c.Port()), "?token=" + j.Token})
	}
	hc := &http.Client{}
	post := func(t target, req serve.ZeroShotRequest) (float64, float64, error) {
		body, _ := json.Marshal(req)
		start := time.Now()
		r, _ := http.NewRequest("POST", t.url+"v1/zeroshot"+t.query, bytes.NewReader(body))
		r.Header.Set("Authorization", "Bearer "+c.Token())
		r.Header.Set("Content-Type", "application/json")
		resp, err := hc.Do(r)
		if err != nil {
			return 0, 0, err
		}
		raw, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return 0, 0, err
		}
		var z serve.ZeroShotResponse
		if resp.StatusCode != 200 || json.Unmarshal(raw, &z) != nil || len(z.Probs) != g.N {
			return 0, 0, fmt.Errorf("%s: HTTP %d: %.300s", t.name, resp.StatusCode, raw)
		}
		return float64(time.Since(start).Microseconds()) / 1e3, z.Ms, nil
	}
	base := []string{"astronaut", "cat", "coffee", "horse", "rocket", "camera"}
	templates := []string{"a photo of a {}."}
	var results []result
	run := time.Now().UnixNano()
	for _, t := range targets {
		for _, cs := range []string{"miss (one new prompt)", "hit (unchanged prompts)"} {
			var wall, srv []float64
			for i := -3; i < *requests; i++ { // 3 untimed warm-up requests
				classes := append([]string(nil), base...)
				if cs[0] == 'm' {
					classes = append(classes, fmt.Sprintf("thing %d-%d %s", run, i, t.name))
				} else {
					classes = append(classes, "spaceship")
				}
				w, s, err := post(t, serve.ZeroShotRequest{Gallery: g.ID, Classes: classes, Templates: templates})
				if err != nil {
					return err
				}
				if i >= 0 {
					wall, srv = append(wall, w), append(srv, s)
				}
			}
			slices.Sort(wall)
			slices.Sort(srv)
			r := result{Path: t.name, Case: cs, N: len(wall), P50: pct(wall, 50), P95: pct(wall, 95), ServerP50Ms: pct(srv, 50),
				MinMs: wall[0], MaxMs: wall[len(wall)-1]}
			results = append(results, r)
			fmt.Printf("%-22s %-24s n=%d  round trip p50 %6.1f ms  p95 %6.1f ms  (min %.1f, max %.1f)  server p50 %6.1f ms\n",
				r.Path, r.Case, r.N, r.P50, r.P95, r.MinMs, r.MaxMs, r.ServerP50Ms)
		}
	}
	if *jsonOut != "" {
		b, _ := json.MarshalIndent(map[string]any{"model": h.Model, "backend": h.Backend, "precision": h.Precision,
			"random_weights": h.RandomWeights, "gallery": g.N, "images": filepath.Clean(dir), "results": results}, "", " ")
		return os.WriteFile(*jsonOut, append(b, '\n'), 0o644)
	}
	return nil
}

// pct returns the p-th percentile of sorted values (nearest rank).
func pct(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*p/100+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}
