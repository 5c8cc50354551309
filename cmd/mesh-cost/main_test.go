package main

import (
	"bytes"
	"os"
	"regexp"
	"strconv"
	"testing"
)

// The harness re-executes itself as the bare prober; in a test, the test
// binary is what runs.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "bare" {
		os.Exit(runBare())
	}
	os.Exit(m.Run())
}

// A small, fast run of the whole harness: the node and the bare prober probe
// every target, /state is loaded, and a killed target is detected. It checks
// that the harness works, not the figures, which depend on the machine.
func TestHarnessMeasuresANodeAndTheBareProber(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the mesh binary")
	}
	var out, errOut bytes.Buffer
	code := run([]string{"--peers", "20", "--interval", "200ms", "--timeout", "500ms", "--threshold", "2",
		"--window", "1s", "--state-for", "300ms", "--state-clients", "2", "--detections", "2"}, &out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out.String(), errOut.String())
	}
	probes := regexp.MustCompile(`probes in the window\s+(\d+)\s+(\d+)`).FindStringSubmatch(out.String())
	if probes == nil {
		t.Fatalf("no probe counts in the report:\n%s", out.String())
	}
	for _, n := range probes[1:] {
		// 20 targets every 200ms over 1s: about 100 each.
		if v, _ := strconv.Atoi(n); v < 50 {
			t.Errorf("only %d probes in the window:\n%s", v, out.String())
		}
	}
	// Whether detection met its bound depends on how busy the machine is;
	// that both runs saw the killed target go down does not.
	if !regexp.MustCompile(`kill-to-down over 2 runs: min`).MatchString(out.String()) {
		t.Errorf("no detection figures in the report:\n%s", out.String())
	}
}
