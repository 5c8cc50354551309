package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/dupunkto/mesh/actors/domain"
	"github.com/dupunkto/mesh/actors/wire"
)

var client = &http.Client{Timeout: 10 * time.Second}

// getState reads the node's /state as any reader would.
func getState(url string) (*domain.Snapshot, error) {
	resp, err := client.Get(url + "/state")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	return wire.DecodeState(b)
}

// seesAllUp reports whether the node at url lists peers peers, all up. It
// reads the node's own view alone: in a large cluster the relays make
// /state heavy.
func seesAllUp(url string, peers int) bool {
	s, err := getStateAt(url + "/state?relays=none")
	if err != nil || s.Len() != peers {
		return false
	}
	for p := range s.Peers() {
		if p.View().Status != domain.StatusUp {
			return false
		}
	}
	return true
}

// status is what s says of peer name; "" when it does not list it.
func status(s *domain.Snapshot, name string) domain.Status {
	v, _ := s.Peer(name)
	return v.Status
}

// freeAddrs returns n distinct free loopback addresses. Every listener is
// held until all are chosen: one closed at once may be handed out again
// (at a hundred nodes it was, and every node refused its PEERS).
func freeAddrs(n int) ([]string, error) {
	var out []string
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer l.Close()
		out = append(out, l.Addr().String())
	}
	return out, nil
}

func measureNode(o options, dir string, ts *targets, r *report) error {
	addrs, err := freeAddrs(2)
	if err != nil {
		return err
	}
	addr, debug := addrs[0], addrs[1]
	url := "http://" + addr
	env := []string{
		"NODE=mesh-cost", "LISTEN_ADDR=" + addr, "DEBUG_ADDR=" + debug,
		"PEERS=" + strings.Join(ts.urls(), ","),
		"POLL_INTERVAL=" + o.interval.String(), "PROBE_TIMEOUT=" + o.timeout.String(),
		fmt.Sprintf("FAILURE_THRESHOLD=%d", o.threshold),
	}
	env = append(env, strings.Fields(o.nodeEnv)...)
	logFile := filepath.Join(dir, "node.log")
	p, err := start(o.mesh, env, nil, logFile)
	if err != nil {
		return err
	}
	defer p.stop()
	pid := p.cmd.Process.Pid
	phases := &phasePeaks{pid: pid}

	if err := waitFor(30*time.Second+time.Duration(o.peers)*10*time.Millisecond, func() bool { return seesAllUp(url, o.peers) }); err != nil {
		log, _ := os.ReadFile(logFile)
		return fmt.Errorf("waiting for every peer up: %w\nnode log:\n%s", err, tail(log, 20))
	}
	time.Sleep(3 * o.interval)
	if err := phases.end("start"); err != nil {
		return err
	}

	// Probing: nothing else asks the node anything but one /state a second,
	// to check last_seen as a reader would.
	var lastSeenAge time.Duration
	var mu sync.Mutex
	r.node, err = window(o, pid, ts, func(ctx context.Context) {
		if o.profile != "" {
			go saveProfile("http://"+debug, "profile", o.window, o.profile)
		}
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			s, err := getState(url)
			now := time.Now()
			if err != nil {
				continue
			}
			for p := range s.Peers() {
				if seen := p.View().LastSeen; !seen.IsZero() {
					mu.Lock()
					lastSeenAge = max(lastSeenAge, now.Sub(seen))
					mu.Unlock()
				}
			}
		}
	})
	if err != nil {
		return err
	}
	mu.Lock()
	r.lastSeenAge = lastSeenAge
	mu.Unlock()
	if err := phases.end("probing"); err != nil {
		return err
	}
	r.probingRSS = phases.highest()
	r.memory = memoryBreakdown(url)
	if err := phases.end("a /metrics read"); err != nil {
		return err
	}

	// The /state load, with a heap profile taken while it runs, when the
	// node's memory is at its peak.
	loaded := make(chan struct{})
	go func() {
		defer close(loaded)
		r.stateGzip = loadState(url, o.stateClients, o.stateFor, true)
	}()
	if o.memprofile != "" {
		time.Sleep(o.stateFor / 2)
		saveProfile("http://"+debug, "heap", 0, o.memprofile)
	}
	<-loaded
	if r.loadedFile, r.loadedAnon, err = residentSplit(pid); err != nil {
		return err
	}
	if err := phases.end("gzip /state load"); err != nil {
		return err
	}
	r.loadedMemory = memoryBreakdown(url)
	if err := phases.end("a /metrics read"); err != nil {
		return err
	}
	r.statePlain = loadState(url, o.stateClients, o.stateFor, false)
	r.stateBytes, r.stateGzipBytes = stateSizes(url)
	if err := phases.end("plain /state load"); err != nil {
		return err
	}

	if r.detections, err = detect(o, ts, url); err != nil {
		return err
	}
	if err := phases.end("kills"); err != nil {
		return err
	}
	r.phases = phases.peaks
	r.node.rss = phases.highest() // over everything above
	return nil
}

// memoryBreakdown reads where the node's memory is from its own /metrics.
func memoryBreakdown(url string) string {
	resp, err := client.Get(url + "/metrics")
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var parts []string
	for _, line := range strings.Split(string(b), "\n") {
		for _, name := range []string{"go_memstats_heap_inuse_bytes", "go_memstats_stack_inuse_bytes", "go_memstats_heap_idle_bytes", "go_memstats_heap_released_bytes", "go_goroutines"} {
			if v, ok := strings.CutPrefix(line, name+" "); ok {
				parts = append(parts, strings.TrimPrefix(strings.TrimSuffix(name, "_bytes"), "go_memstats_")+"="+v)
			}
		}
	}
	return strings.Join(parts, " ")
}

// saveProfile writes a profile from the node's DEBUG_ADDR listener to
// path: the heap now, or the CPU over d (d > 0).
func saveProfile(debugURL, kind string, d time.Duration, path string) {
	url := debugURL + "/debug/pprof/" + kind
	if d > 0 {
		url += fmt.Sprintf("?seconds=%d", max(1, int(d.Seconds())-1))
	}
	resp, err := (&http.Client{Timeout: d + time.Minute}).Get(url)
	if err != nil {
		fmt.Fprintln(os.Stderr, "mesh-cost:", kind, "profile:", err)
		return
	}
	defer resp.Body.Close()
	f, err := os.Create(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "mesh-cost:", kind, "profile:", err)
		return
	}
	defer f.Close()
	_, _ = io.Copy(f, resp.Body)
}

// stateLoad is /state under concurrent readers.
type stateLoad struct {
	requests int
	errors   int
	p50, p99 time.Duration
	perSec   float64
}

// loadState has clients GET /state back to back for d. With gzip, they ask
// for it as browsers do, and read the compressed bytes without unpacking
// them, so that the load generator costs the shared CPUs little.
func loadState(url string, clients int, d time.Duration, gzip bool) stateLoad {
	tr := &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: clients}
	c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	defer tr.CloseIdleConnections()
	var mu sync.Mutex
	var lat []time.Duration
	var errs int
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			var mine []time.Duration
			var bad int
			for time.Now().Before(deadline) {
				req, _ := http.NewRequest("GET", url+"/state", nil)
				if gzip {
					req.Header.Set("Accept-Encoding", "gzip")
				}
				start := time.Now()
				resp, err := c.Do(req)
				if err == nil {
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						err = fmt.Errorf("%s", resp.Status)
					}
				}
				if err != nil {
					bad++
					continue
				}
				mine = append(mine, time.Since(start))
			}
			mu.Lock()
			lat = append(lat, mine...)
			errs += bad
			mu.Unlock()
		})
	}
	wg.Wait()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	return stateLoad{requests: len(lat), errors: errs, p50: percentile(lat, 0.50), p99: percentile(lat, 0.99), perSec: float64(len(lat)) / d.Seconds()}
}

func stateSizes(url string) (plain, gzipped int) {
	for _, enc := range []string{"identity", "gzip"} {
		req, _ := http.NewRequest("GET", url+"/state", nil)
		req.Header.Set("Accept-Encoding", enc)
		resp, err := (&http.Client{Transport: &http.Transport{DisableCompression: true}}).Do(req)
		if err != nil {
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if enc == "gzip" {
			gzipped = len(b)
		} else {
			plain = len(b)
		}
	}
	return plain, gzipped
}

// detect kills one target at a time and measures how long the node takes to
// show it down in /state, then revives it and waits for it to be up again.
func detect(o options, ts *targets, url string) ([]time.Duration, error) {
	var out []time.Duration
	for run := range o.detections {
		t := ts.list[(run*7919)%len(ts.list)]
		name := strings.TrimPrefix(t.url, "http://")
		killed := time.Now()
		if err := t.kill(); err != nil {
			return out, err
		}
		bound := time.Duration(o.threshold-1)*o.interval + o.interval + o.timeout
		var seen time.Duration
		err := waitFor(3*bound, func() bool {
			s, err := getState(url)
			if err == nil && status(s, name) == domain.StatusDown {
				seen = time.Since(killed)
				return true
			}
			return false
		})
		if err != nil {
			return out, fmt.Errorf("detection run %d: %s never seen down", run+1, name)
		}
		out = append(out, seen)
		if err := t.revive(ts.srv); err != nil {
			return out, err
		}
		if err := waitFor(3*bound, func() bool {
			s, err := getState(url)
			return err == nil && status(s, name) == domain.StatusUp
		}); err != nil {
			return out, fmt.Errorf("detection run %d: %s never seen up again", run+1, name)
		}
	}
	return out, nil
}

func waitFor(d time.Duration, cond func() bool) error {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %s", d)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil
}

func tail(b []byte, n int) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
