// Package backend chooses the GoMLX engine that runs the CLIP graphs.
//
// The configuration string has GoMLX's form "<name>[:<options>]":
//
//	go                  the pure-Go simplego backend (the default: works everywhere, no install)
//	go:parallelism=4    simplego with options
//	xla:cpu             XLA through the PJRT CPU plugin
//	xla:cuda            XLA through the PJRT CUDA plugin (NVIDIA GPUs)
//	xla:/abs/path.so    XLA through the PJRT plugin at that path (e.g. the one a jax-cuda wheel ships)
//
// When no configuration is given, $GOMLX_BACKEND is used, and when that is unset the fastest
// backend that works here is chosen automatically (Choose), in this order:
//
//  1. xla:cuda — a CUDA PJRT plugin is installed and an NVIDIA GPU is visible (/dev/nvidia0);
//  2. xla:cpu  — the XLA CPU PJRT plugin is installed (scripts/install-xla-cpu.sh);
//  3. go       — simplego, which works everywhere.
//
// A candidate whose plugin fails to start is skipped (the reason is kept in Choice.Reason).
// GOMLX_BACKEND=go forces simplego. Unlike GoMLX's own default, this package never downloads
// PJRT plugins behind the user's back: XLA auto-install runs only when CLIPKIT_XLA_AUTOINSTALL=1
// is set. The XLA backend is compiled in on linux/amd64 and darwin unless the build tag noxla is
// given.
package backend

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/gomlx/gomlx/backends"
	_ "github.com/gomlx/gomlx/backends/simplego" // registers "go"
)

// Default is the configuration that always works, the last of the automatic choices.
const Default = "go"

// Auto is the configuration meaning "choose automatically" (the same as an empty one with
// $GOMLX_BACKEND unset).
const Auto = "auto"

// EnvVar is GoMLX's environment variable naming the backend configuration.
const EnvVar = backends.ConfigEnvVar

// AutoInstallEnv, when set to "1", lets GoMLX download missing PJRT plugins.
const AutoInstallEnv = "CLIPKIT_XLA_AUTOINSTALL"

// Choice is a backend configuration and why it was chosen.
type Choice struct {
	// Config is the GoMLX backend configuration ("go", "xla:cpu", "xla:cuda", ...).
	Config string
	// Reason says where Config came from, in a few words: "requested", "from $GOMLX_BACKEND", or
	// for an automatic choice "auto: " and what was found (and what was skipped).
	Reason string
	// Auto is set when nothing named a backend and Config was chosen automatically.
	Auto bool
}

// String is the one line programs print: "xla:cpu (auto: XLA CPU plugin installed)".
func (c Choice) String() string { return c.Config + " (" + c.Reason + ")" }

// Resolve returns the configuration that New(config) would try first: config itself, else
// $GOMLX_BACKEND, else the automatic choice (see Choose).
func Resolve(config string) string { return Choose(config).Config }

// Choose decides the backend configuration for config: config itself when given (other than
// Auto), else $GOMLX_BACKEND when set, else the fastest candidate installed here (see the package
// doc). It only looks for plugins; New also falls back when a chosen plugin fails to start.
func Choose(config string) Choice {
	config = strings.TrimSpace(config)
	if config != "" && config != Auto {
		return Choice{Config: config, Reason: "requested"}
	}
	if env := strings.TrimSpace(os.Getenv(EnvVar)); env != "" && env != Auto {
		return Choice{Config: env, Reason: "from $" + EnvVar}
	}
	cands := autoCandidates()
	return cands[0]
}

// autoCandidates lists the automatic choices here in order of preference.
func autoCandidates() []Choice {
	return candidates(installedPlugins(), gpuVisible(), slices.Contains(Available(), "xla"))
}

// candidates lists the automatic choices, fastest first, given the installed PJRT plugins (name
// to path), whether a GPU is visible and whether XLA is compiled in. The last is always Default.
func candidates(plugins map[string]string, gpu, xlaCompiled bool) []Choice {
	var out []Choice
	if xlaCompiled {
		if path, ok := plugins["cuda"]; ok && gpu {
			out = append(out, Choice{Config: "xla:cuda", Reason: "auto: CUDA PJRT plugin " + path + " and an NVIDIA GPU found", Auto: true})
		}
		if path, ok := plugins["cpu"]; ok {
			out = append(out, Choice{Config: "xla:cpu", Reason: "auto: XLA CPU plugin " + path + " found", Auto: true})
		}
	}
	reason := "auto: no XLA plugin installed (scripts/install-xla-cpu.sh adds the fast CPU one)"
	switch {
	case !xlaCompiled:
		reason = "auto: this binary was built without XLA"
	case len(out) > 0:
		reason = "auto: the XLA plugins failed to start"
	}
	return append(out, Choice{Config: Default, Reason: reason, Auto: true})
}

// findPlugins lists the installed PJRT plugins by name ("cpu", "cuda") with their paths; set by
// xla.go when XLA is compiled in. It never downloads anything.
var findPlugins = func() map[string]string { return nil }

// installedPlugins is findPlugins, run once per process (it opens every plugin it finds), after
// the compilation cache has had its chance to wrap the CPU plugin (the path then stays the
// plugin's file, not go-xla's "_preloaded_").
var installedPlugins = sync.OnceValue(func() map[string]string {
	enableCompileCache()
	plugins := findPlugins()
	if c := compileCacheState(); c.Enabled && plugins != nil {
		plugins["cpu"] = c.Plugin
	}
	return plugins
})

// gpuVisible reports whether an NVIDIA GPU device node is present.
var gpuVisible = func() bool {
	_, err := os.Stat("/dev/nvidia0")
	return err == nil
}

// New creates the backend for config (see the package doc); errors are returned, never panics.
func New(config string) (backends.Backend, error) {
	b, _, err := Open(config)
	return b, err
}

// Open creates the backend for config like New and also returns the Choice it made. With no
// configuration (config and $GOMLX_BACKEND empty) it tries the automatic candidates in order and
// returns the first that starts; the Choice's Reason then names any candidate that failed.
func Open(config string) (backends.Backend, Choice, error) {
	c := Choose(config)
	if !c.Auto {
		b, err := create(c.Config)
		return b, c, err
	}
	var failed []string
	for _, cand := range autoCandidates() {
		b, err := create(cand.Config)
		if err == nil {
			if len(failed) > 0 {
				cand.Reason += "; skipped " + strings.Join(failed, "; ")
			}
			return b, cand, nil
		}
		failed = append(failed, fmt.Sprintf("%s: %v", cand.Config, err))
	}
	return nil, c, fmt.Errorf("no backend could be created: %s", strings.Join(failed, "; "))
}

// create makes the backend for an explicit configuration.
func create(config string) (b backends.Backend, err error) {
	name, _, _ := strings.Cut(config, ":")
	if !slices.Contains(Available(), name) {
		hint := ""
		if name == "xla" || name == "stablehlo" {
			hint = " (this binary was built without XLA: build without the noxla tag on linux/amd64 or darwin)"
		}
		return nil, fmt.Errorf("backend %q is not available%s; compiled-in backends: %s",
			config, hint, strings.Join(Available(), ", "))
	}
	defer func() {
		if r := recover(); r != nil {
			b, err = nil, fmt.Errorf("creating backend %q: %v", config, r)
		}
	}()
	// XLA configurations go through newXLA (xla.go), registered in GoMLX's place.
	b, err = backends.NewWithConfig(config)
	if err != nil {
		return nil, fmt.Errorf("creating backend %q: %w%s", config, err, xlaHint(name))
	}
	return b, nil
}

func xlaHint(name string) string {
	if name == "go" {
		return ""
	}
	return "; PJRT plugins are searched in $PJRT_PLUGIN_LIBRARY_PATH, ~/.local/lib/go-xla and /usr/local/lib/go-xla, " +
		"or give an absolute plugin path (xla:/path/to/pjrt_c_api_cpu_plugin.so); for the CPU plugin run " +
		"scripts/install-xla-cpu.sh, or set " + AutoInstallEnv + "=1 to let GoMLX download plugins"
}

// Available lists the compiled-in backend names, sorted.
func Available() []string {
	names := backends.List()
	slices.Sort(names)
	return names
}

// Describe returns a one-line description of b: its configuration name and device.
func Describe(b backends.Backend) string {
	desc := b.Description()
	if c := compileCacheState(); c.Enabled {
		// go-xla names a plugin registered from its API table "_preloaded_": name the file instead.
		desc = strings.Replace(desc, "(_preloaded_)", "("+c.Plugin+", compile cache "+c.Dir+")", 1)
	}
	return fmt.Sprintf("%s (%s, %d device(s))", b.Name(), desc, b.NumDevices())
}

// CPUDevices is the number of devices an xla:cpu backend has. XLA's CPU plugin creates four by
// default, and its pool of threads for the work inside one operation has at least one thread per
// device, so on a machine with fewer than four cores the default ran four such threads on two
// cores: A/B'd call by call on a 2-core machine, one device (one thread per core, as XLA has on
// larger machines) made RN50's image tower at batch 1 1.16× faster and MobileCLIP-S0's 1.08×
// (docs/performance.md has every point). The towers run on one device; $NPROC, XLA's own
// setting, still sets the size of the pool.
const CPUDevices = 1

// DescribeChoice is the one line programs print about the backend: Describe(b) and why it was
// chosen, e.g. `xla (xla:cpu - PJRT "cpu" plugin ..., 1 device(s)); auto: XLA CPU plugin ... found`.
func DescribeChoice(b backends.Backend, c Choice) string {
	if c.Reason == "" {
		return Describe(b)
	}
	return Describe(b) + "; " + c.Reason
}
