package main

import (
	"bytes"
	"os"
	"regexp"
	"strconv"
	"strings"
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
	// The node, then the bare probers: spread, slotted, all at once.
	probes := regexp.MustCompile(`probes in the window\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)`).FindStringSubmatch(out.String())
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

// The false-down mode: with half the probes stalled and a threshold of 2,
// peers that never went away are called down, and the report says how
// often against the prediction.
func TestHarnessCountsFalseDownsUnderStalledProbes(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the mesh binary")
	}
	var out, errOut bytes.Buffer
	code := run([]string{"--stall", "0.5", "--peers", "10", "--interval", "100ms", "--timeout", "100ms", "--threshold", "2", "--window", "2s"}, &out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out.String(), errOut.String())
	}
	m := regexp.MustCompile(`false downs (\d+)`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("no false-down count in the report:\n%s", out.String())
	}
	// About 130 probes at odds of 1 in 8: a count of zero would mean stalls
	// did not reach the node.
	if n, _ := strconv.Atoi(m[1]); n == 0 {
		t.Errorf("no false downs with half the probes stalled:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "predicted (1-q) q^2") {
		t.Errorf("no prediction in the report:\n%s", out.String())
	}
}

// A small cluster run: the nodes settle, and a killed node gets exactly
// one down message and, restarted, one recovery (the run fails
// otherwise). It checks the harness, not the figures.
func TestHarnessRunsAClusterAndItsOneDownMessage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the mesh binary")
	}
	var out, errOut bytes.Buffer
	code := run([]string{"--cluster", "3", "--interval", "500ms", "--timeout", "2s", "--window", "1s"}, &out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out.String(), errOut.String())
	}
	for _, want := range []string{"peers called down over the window: ", "the chat, about the killed node: 1 down, 1 recovery, 0 other messages"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the report does not say %q:\n%s", want, out.String())
		}
	}
}
