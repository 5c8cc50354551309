package main

import (
	"fmt"
	"io"
	"math"
	"path/filepath"
	"strings"
	"time"
)

// measureFalseDowns runs the node against targets that leave a fraction of
// probes unanswered (each probe is a fresh connection, so each stalls
// independently) and counts how often a peer that never went away was
// called down. It scales a day at the default settings (POLL_INTERVAL=5s,
// PROBE_TIMEOUT=5s) down to the interval and timeout given, which should
// keep their ratio: a stalled probe then costs the same share of slots.
func measureFalseDowns(o options, dir string, ts *targets, out io.Writer) error {
	addrs, err := freeAddrs(1)
	if err != nil {
		return err
	}
	addr := addrs[0]
	url := "http://" + addr
	env := []string{"NODE=mesh-cost", "LISTEN_ADDR=" + addr, "PEERS=" + strings.Join(ts.urls(), ","),
		"POLL_INTERVAL=" + o.interval.String(), "PROBE_TIMEOUT=" + o.timeout.String(), fmt.Sprintf("FAILURE_THRESHOLD=%d", o.threshold)}
	p, err := start(o.mesh, env, nil, filepath.Join(dir, "node.log"))
	if err != nil {
		return err
	}
	defer p.stop()
	if err := waitFor(30*time.Second, func() bool { _, err := getState(url); return err == nil }); err != nil {
		return fmt.Errorf("the node did not answer: %w", err)
	}
	time.Sleep(5 * o.interval)

	downs0, err := downsSoFar(url)
	if err != nil {
		return err
	}
	probes0, stalled0 := ts.total(), ts.stalled.Load()
	time.Sleep(o.window)
	downs1, err := downsSoFar(url)
	if err != nil {
		return err
	}
	probes, stalled, downs := ts.total()-probes0, ts.stalled.Load()-stalled0, downs1-downs0

	q := o.stall
	k := float64(o.threshold)
	perProbe := downs / float64(probes)
	predictedPerProbe := (1 - q) * math.Pow(q, k)
	// A stalled probe ends at its timeout, a whole interval later: the slot
	// it ends in is skipped, so on average a probe takes 1+q slots.
	probesPerDay := 86400 / 5.0 / (1 + q)
	fmt.Fprintf(out, "\nFalse downs: %d peers, POLL_INTERVAL=%s, PROBE_TIMEOUT=%s, FAILURE_THRESHOLD=%d, %.0f%% of probes stalled, for %s\n",
		o.peers, o.interval, o.timeout, o.threshold, q*100, o.window)
	fmt.Fprintf(out, "machine: %s\n", machine())
	fmt.Fprintf(out, "probes %d, stalled %d (%.2f%%), false downs %.0f\n", probes, stalled, 100*float64(stalled)/float64(probes), downs)
	fmt.Fprintf(out, "per probe: measured %.3g, predicted (1-q) q^%d = %.3g\n", perProbe, o.threshold, predictedPerProbe)
	fmt.Fprintf(out, "per peer per day at the defaults (%.0f probes a day): measured %.3g, predicted %.3g\n",
		probesPerDay, perProbe*probesPerDay, predictedPerProbe*probesPerDay)
	return nil
}

// downsSoFar sums mesh_transitions_total{status="down"} over every peer.
func downsSoFar(url string) (float64, error) {
	resp, err := client.Get(url + "/ping")
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return metricSum(url, "mesh_transitions_total{", `status="down"`), nil
}

// metricSum is the sum of the series of the node at url whose lines start
// with prefix and hold label; 0 if it cannot be read.
func metricSum(url, prefix, label string) float64 {
	resp, err := client.Get(url + "/metrics")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0
	}
	var sum float64
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, prefix) && strings.Contains(line, label) {
			var v float64
			if _, err := fmt.Sscan(line[strings.LastIndexByte(line, ' ')+1:], &v); err == nil {
				sum += v
			}
		}
	}
	return sum
}
