//go:build ((linux && amd64) || darwin) && !noxla

package backend

import (
	"os"
	"slices"
	"strings"

	"github.com/gomlx/go-xla/pkg/pjrt"
	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/xla"
)

func init() {
	// pjrt.AvailablePlugins only searches the plugin directories (never downloads).
	findPlugins = pjrt.AvailablePlugins
	// GoMLX registers xla.New under these names; newXLA replaces it, so that every XLA backend of
	// the process goes through it, whether made by New here or by GoMLX's backends.New and
	// backends.NewWithConfig elsewhere.
	for _, name := range []string{xla.BackendName, "stablehlo", "hlo", "shlo"} {
		if slices.Contains(backends.List(), name) {
			backends.Register(name, newXLA)
		}
	}
}

// newXLA creates an XLA backend from its configuration (what follows "xla:": "cpu",
// "cpu,options", "cuda", a plugin path, or "" for GoMLX's first installed plugin) as xla.New
// does, and also:
//   - downloads no plugin unless $CLIPKIT_XLA_AUTOINSTALL=1;
//   - puts the compilation cache in front of the CPU plugin, before go-xla loads the plain one;
//   - gives the CPU plugin CPUDevices devices.
func newXLA(config string) (backends.Backend, error) {
	xla.EnableAutoInstall(os.Getenv(AutoInstallEnv) == "1")
	plugin, options, _ := strings.Cut(config, ",")
	if plugin != "" && plugin != "cpu" {
		return xla.New(config)
	}
	enableCompileCache()
	if plugin == "" {
		// GoMLX takes the first plugin it finds; name it, to know whether it is the CPU one.
		if found := xla.GetAvailablePlugins(); len(found) > 0 {
			plugin = found[0]
			config = strings.TrimSuffix(plugin+","+options, ",")
		}
	}
	if plugin != "cpu" {
		return xla.New(config)
	}
	return xla.NewWithOptions(config, pjrt.NamedValuesMap{"cpu_device_count": int64(CPUDevices)})
}
