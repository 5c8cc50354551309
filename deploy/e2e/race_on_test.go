//go:build race

package e2e

// raceEnabled builds the node binary with the race detector when the suite
// runs with -race, so a data race in a real node fails the end-to-end tests.
const raceEnabled = true
