//go:build ((linux && amd64) || darwin) && !noxla

package backend

import (
	"os"
	"strings"

	"github.com/gomlx/go-xla/pkg/pjrt"
	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/xla" // registers "xla" (and aliases)
)

func init() {
	// pjrt.AvailablePlugins only searches the plugin directories (never downloads).
	findPlugins = pjrt.AvailablePlugins
	openXLACPU = func(config string) (backends.Backend, error) {
		plugin, options, _ := strings.Cut(config, ",")
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
	configureXLA = func() {
		xla.EnableAutoInstall(os.Getenv(AutoInstallEnv) == "1")
	}
}
