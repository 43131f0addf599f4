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
// When no configuration is given, $GOMLX_BACKEND is used, and when that is unset, "go". Unlike
// GoMLX's own default, this package never downloads PJRT plugins behind the user's back: XLA
// auto-install runs only when CLIPKIT_XLA_AUTOINSTALL=1 is set. The XLA backend is compiled in on
// linux/amd64 and darwin unless the build tag noxla is given.
package backend

import (
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/gomlx/gomlx/backends"
	_ "github.com/gomlx/gomlx/backends/simplego" // registers "go"
)

// Default is the configuration used when neither the caller nor $GOMLX_BACKEND names one.
const Default = "go"

// EnvVar is GoMLX's environment variable naming the backend configuration.
const EnvVar = backends.ConfigEnvVar

// AutoInstallEnv, when set to "1", lets GoMLX download missing PJRT plugins.
const AutoInstallEnv = "CLIPKIT_XLA_AUTOINSTALL"

// Resolve returns the configuration that New(config) would use: config itself, else
// $GOMLX_BACKEND, else Default.
func Resolve(config string) string {
	if config != "" {
		return config
	}
	if env := strings.TrimSpace(os.Getenv(EnvVar)); env != "" {
		return env
	}
	return Default
}

// New creates the backend for config (see the package doc); errors are returned, never panics.
func New(config string) (b backends.Backend, err error) {
	config = Resolve(config)
	name, _, _ := strings.Cut(config, ":")
	if !slices.Contains(Available(), name) {
		hint := ""
		if name == "xla" || name == "stablehlo" {
			hint = " (this binary was built without XLA: build without the noxla tag on linux/amd64 or darwin)"
		}
		return nil, fmt.Errorf("backend %q is not available%s; compiled-in backends: %s",
			config, hint, strings.Join(Available(), ", "))
	}
	if name != "go" {
		configureXLA()
	}
	defer func() {
		if r := recover(); r != nil {
			b, err = nil, fmt.Errorf("creating backend %q: %v", config, r)
		}
	}()
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
	return fmt.Sprintf("%s (%s, %d device(s))", b.Name(), b.Description(), b.NumDevices())
}

// configureXLA is set by xla.go when the XLA backend is compiled in.
var configureXLA = func() {}
