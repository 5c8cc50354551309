package main

import (
	"fmt"
	"io"
	"math"
	"sort"
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
}

type report struct {
	opts                       options
	node, bare                 probing
	lastSeenAge                time.Duration
	probingRSS                 int64  // the node's peak RSS by the end of the probing window
	memory                     string // the node's Go memory statistics then
	stateGzip, statePlain      stateLoad
	stateBytes, stateGzipBytes int
	detections                 []time.Duration
}

// lagPercentiles says how late probes arrived against their schedule. The
// node's schedule is a fixed grid per peer (first + k x interval) that the
// harness cannot see, so each target's arrivals are held against the grid
// through its least late arrival: the lag of a probe is how much later than
// that it came. It counts scheduling delay and connection setup.
func lagPercentiles(ts *targets, interval time.Duration) (p50, p99 time.Duration) {
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
	return percentile(lags, 0.50), percentile(lags, 0.99)
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
	fmt.Fprintf(w, "machine: %s\n\n", machine())
	ratio := float64(r.node.perProbe) / float64(r.bare.perProbe)
	fmt.Fprintf(w, "%-34s %-16s %-16s %s\n", "", "mesh node", "bare net/http", "")
	fmt.Fprintf(w, "%-34s %-16d %-16d\n", "probes in the window", r.node.probes, r.bare.probes)
	fmt.Fprintf(w, "%-34s %-16s %-16s %.2fx  target <= 1.3x: %s\n", "CPU per probe", us(r.node.perProbe), us(r.bare.perProbe), ratio, mark(ratio <= 1.3))
	fmt.Fprintf(w, "%-34s %-16s %-16s target mesh < 40 MB: %s\n", "peak RSS, whole run", mb(r.node.rss), mb(r.bare.rss), mark(r.node.rss < 40e6))
	fmt.Fprintf(w, "%-34s %-16s %s\n", "peak RSS, end of probing window", mb(r.probingRSS), r.memory)
	fmt.Fprintf(w, "%-34s %-16s %-16s\n", "probe lag p50", ms(r.node.lagP50), ms(r.bare.lagP50))
	fmt.Fprintf(w, "%-34s %-16s %-16s\n", "probe lag p99", ms(r.node.lagP99), ms(r.bare.lagP99))
	gapBound := o.interval * 3 / 2
	fmt.Fprintf(w, "%-34s %-16s %-16s target <= %s: %s\n", "longest a peer went unprobed", ms(r.node.longestGap), ms(r.bare.longestGap), gapBound, mark(r.node.longestGap <= gapBound))
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
