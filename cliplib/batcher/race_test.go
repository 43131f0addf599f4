//go:build race

package batcher

// raceEnabled is true under the race detector, which makes model execution about 20x slower:
// tests then use fewer inputs.
const raceEnabled = true
