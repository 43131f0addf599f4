//go:build ((linux && amd64) || darwin) && !noxla

package backend

import (
	"os"

	"github.com/gomlx/go-xla/pkg/pjrt"
	"github.com/gomlx/gomlx/backends/xla" // registers "xla" (and aliases)
)

func init() {
	// pjrt.AvailablePlugins only searches the plugin directories (never downloads).
	findPlugins = pjrt.AvailablePlugins
	configureXLA = func() {
		xla.EnableAutoInstall(os.Getenv(AutoInstallEnv) == "1")
	}
}
