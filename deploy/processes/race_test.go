//go:build race

package processes

// raceEnabled: the binaries are built with the race detector too.
const raceEnabled = true
