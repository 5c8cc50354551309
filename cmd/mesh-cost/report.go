package main

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"time"
)

// probing is what one prober (the node, or the bare one) cost over a window.
type probing struct {
	cpu            time.Duration
	probes         int64
	perProbe       time.Duration
	rss            int64         // peak resident memory, bytes
	longestGap     time.Duration // the longest any target went unprobed
	lagP50, lagP99 time.Duration
	lagMax         time.Duration
}

type report struct {
	opts                       options
	node                       probing
	bare                       []probing // one per bareSchedules, in order
	lastSeenAge                time.Duration
	probingRSS                 int64       // the node's peak RSS by the end of the probing window
	phases                     []phasePeak // the node's peak RSS in each phase of the run, in order
	memory                     string      // the node's Go memory statistics then
	loadedFile, loadedAnon     int64       // its resident memory after the gzip /state load: file-backed, anonymous
	loadedMemory               string      // its Go memory statistics then
	stateGzip, statePlain      stateLoad
	stateBytes, stateGzipBytes int
	detections                 []time.Duration
}

// lagPercentiles says how late probes arrived against their schedule. The
// node's schedule is a fixed grid per peer (first + k x interval) that the
// harness cannot see, so each target's arrivals are held against the grid
// through its least late arrival: the lag of a probe is how much later than
// that it came. It counts scheduling delay and connection setup.
func lagPercentiles(ts *targets, interval time.Duration) (p50, p99, most time.Duration) {
	var lags []time.Duration
	for _, t := range ts.list {
		t.mu.Lock()
		a := append([]time.Time(nil), t.arrivals...)
		t.mu.Unlock()
		if len(a) < 2 {
			continue
		}
		offsets := make([]time.Duration, len(a))
		least := time.Duration(math.MaxInt64)
		for i, at := range a {
			since := at.Sub(a[0])
			k := (since + interval/2) / interval
			offsets[i] = since - k*interval
			least = min(least, offsets[i])
		}
		for _, off := range offsets {
			lags = append(lags, off-least)
		}
	}
	sort.Slice(lags, func(i, j int) bool { return lags[i] < lags[j] })
	return percentile(lags, 0.50), percentile(lags, 0.99), percentile(lags, 1)
}

func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[int(q*float64(len(sorted)-1))]
}

func (r *report) print(w io.Writer) {
	o := r.opts
	mark := func(ok bool) string {
		if ok {
			return "ok"
		}
		return "MISSED"
	}
	us := func(d time.Duration) string { return fmt.Sprintf("%.0f µs", float64(d.Nanoseconds())/1000) }
	ms := func(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d.Nanoseconds())/1e6) }
	mb := func(b int64) string { return fmt.Sprintf("%.1f MB", float64(b)/1e6) }

	fmt.Fprintf(w, "\nMesh cost: %d peers, POLL_INTERVAL=%s, PROBE_TIMEOUT=%s, FAILURE_THRESHOLD=%d, window %s\n", o.peers, o.interval, o.timeout, o.threshold, o.window)
	fmt.Fprintf(w, "machine: %s\n", machine())
	if o.nodeEnv != "" {
		fmt.Fprintf(w, "the node's extra environment: %s\n", o.nodeEnv)
	}
	fmt.Fprintln(w)
	// Columns: the node, then each bare prober.
	row := func(name string, cell func(probing) string, note string) {
		fmt.Fprintf(w, "%-34s %-14s", name, cell(r.node))
		for _, b := range r.bare {
			fmt.Fprintf(w, " %-14s", cell(b))
		}
		fmt.Fprintf(w, " %s\n", note)
	}
	fmt.Fprintf(w, "%-34s %-14s", "", "mesh node")
	for _, s := range bareSchedules {
		fmt.Fprintf(w, " %-14s", "bare "+s.name)
	}
	fmt.Fprintln(w)
	spread, together := r.bare[0], r.bare[len(r.bare)-1]
	vsSpread := float64(r.node.perProbe) / float64(spread.perProbe)
	vsTogether := float64(r.node.perProbe) / float64(together.perProbe)
	lagBound := o.interval / 50
	gapBound := o.interval * 3 / 2
	row("probes in the window", func(p probing) string { return fmt.Sprint(p.probes) }, "")
	row("CPU per probe", func(p probing) string { return us(p.perProbe) },
		fmt.Sprintf("node %.2fx all at once, target <= 1.5x: %s; %.2fx spread", vsTogether, mark(vsTogether <= 1.5), vsSpread))
	row("peak RSS, whole run", func(p probing) string { return mb(p.rss) }, "target mesh < 25 MB: "+mark(r.node.rss < 25e6))
	fmt.Fprintf(w, "%-34s %-14s %s\n", "peak RSS, end of probing window", mb(r.probingRSS), r.memory)
	fmt.Fprintf(w, "%-34s %-14s file-backed (the binary) %s, anonymous %s; %s\n", "RSS after the gzip /state load", mb(r.loadedFile+r.loadedAnon), mb(r.loadedFile), mb(r.loadedAnon), r.loadedMemory)
	var byPhase []string
	for _, ph := range r.phases {
		byPhase = append(byPhase, ph.name+" "+mb(ph.rss))
	}
	fmt.Fprintf(w, "%-34s %s\n", "peak RSS by phase", strings.Join(byPhase, ", "))
	row("probe lag p50", func(p probing) string { return ms(p.lagP50) }, "")
	row("probe lag p99", func(p probing) string { return ms(p.lagP99) }, "")
	row("probe lag max", func(p probing) string { return ms(p.lagMax) }, fmt.Sprintf("target node <= 2%% of the interval (%s): %s", lagBound, mark(r.node.lagMax <= lagBound)))
	row("longest a peer went unprobed", func(p probing) string { return ms(p.longestGap) }, fmt.Sprintf("target <= %s: %s", gapBound, mark(r.node.longestGap <= gapBound)))
	fmt.Fprintf(w, "%-34s %-16s (last_seen has whole seconds: up to 1 s more than the true age)\n", "oldest last_seen in /state", ms(r.lastSeenAge))

	fmt.Fprintf(w, "\n/state with %d peers: %d bytes, %d gzipped; %d clients for %s each\n", o.peers, r.stateBytes, r.stateGzipBytes, o.stateClients, o.stateFor)
	for _, l := range []struct {
		name string
		s    stateLoad
	}{{"gzip", r.stateGzip}, {"identity", r.statePlain}} {
		fmt.Fprintf(w, "  %-9s p50 %s  p99 %s  %.0f requests/s  (%d errors)  target p50 < 5 ms and > 2000/s: %s\n",
			l.name, ms(l.s.p50), ms(l.s.p99), l.s.perSec, l.s.errors, mark(l.s.p50 < 5*time.Millisecond && l.s.perSec > 2000 && l.s.errors == 0))
	}

	bound := time.Duration(o.threshold-1)*o.interval + o.interval + o.timeout
	within := 0
	sorted := append([]time.Duration(nil), r.detections...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
	for _, d := range sorted {
		if d <= bound {
			within++
		}
	}
	if len(sorted) > 0 {
		fmt.Fprintf(w, "\nkill-to-down over %d runs: min %s, median %s, max %s; bound (threshold-1) x interval + interval + timeout = %s; within: %d of %d: %s\n",
			len(sorted), ms(sorted[0]), ms(percentile(sorted, 0.5)), ms(sorted[len(sorted)-1]), bound, within, len(sorted), mark(within == len(sorted)))
	}
}
