//go:build ((linux && amd64) || darwin) && !noxla

package backend

import (
	"os"

	"github.com/gomlx/gomlx/backends/xla" // registers "xla" (and aliases)
)

func init() {
	configureXLA = func() {
		xla.EnableAutoInstall(os.Getenv(AutoInstallEnv) == "1")
	}
}
