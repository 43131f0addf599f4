package main

// Help texts of flags that several commands share.
const (
	// backendUsage is the help of a --backend flag resolved by backend.New (the automatic order).
	backendUsage = "GoMLX backend (default $GOMLX_BACKEND, else the fastest installed: xla:cuda, xla:cpu, go)"
	// jsonUsage is the help of a --json flag written by writeJSON.
	jsonUsage = "write the report as JSON to this file ('-' for stdout)"
)
