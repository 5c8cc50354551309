package main

import (
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// targets are N loopback HTTP servers that answer /ping as a Mesh node
// does, and note when each was probed. One http.Server serves them all; the
// local port tells which target a request reached.
type targets struct {
	stall   float64 // the chance that a probe is never answered
	srv     *http.Server
	byPort  map[int]*target
	list    []*target
	stalled atomic.Int64
}

type target struct {
	port int
	url  string

	mu        sync.Mutex
	ln        net.Listener // nil while killed
	recording bool
	arrivals  []time.Time // while recording

	last  atomic.Int64 // unix nanoseconds of the last probe
	count atomic.Int64
}

// newTargets starts n targets; stall is the chance that one leaves a probe
// unanswered.
func newTargets(n int, stall float64) (*targets, error) {
	ts := &targets{stall: stall, byPort: make(map[int]*target, n)}
	ts.srv = &http.Server{Handler: http.HandlerFunc(ts.serve), ReadHeaderTimeout: 5 * time.Second}
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			ts.close()
			return nil, fmt.Errorf("listen for target %d: %w", len(ts.list), err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		t := &target{port: port, url: fmt.Sprintf("http://127.0.0.1:%d", port), ln: ln}
		ts.byPort[port] = t
		ts.list = append(ts.list, t)
		go ts.srv.Serve(ln)
	}
	return ts, nil
}

func (ts *targets) serve(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	addr, _ := r.Context().Value(http.LocalAddrContextKey).(*net.TCPAddr)
	if t := ts.byPort[addr.Port]; t != nil {
		t.last.Store(now.UnixNano())
		t.count.Add(1)
		t.mu.Lock()
		if t.recording {
			t.arrivals = append(t.arrivals, now)
		}
		t.mu.Unlock()
	}
	if ts.stall > 0 && rand.Float64() < ts.stall {
		ts.stalled.Add(1)
		<-r.Context().Done() // never answer; the prober gives up at its timeout
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"pong":true}`))
}

// record starts (or stops) noting each probe's arrival, from empty.
func (ts *targets) record(on bool) {
	for _, t := range ts.list {
		t.mu.Lock()
		t.recording = on
		if on {
			t.arrivals = t.arrivals[:0]
		}
		t.mu.Unlock()
	}
}

func (ts *targets) total() int64 {
	var n int64
	for _, t := range ts.list {
		n += t.count.Load()
	}
	return n
}

// oldestProbe is how long ago the least recently probed target was probed.
func (ts *targets) oldestProbe(now time.Time) time.Duration {
	var oldest time.Duration
	for _, t := range ts.list {
		oldest = max(oldest, now.Sub(time.Unix(0, t.last.Load())))
	}
	return oldest
}

// kill closes a target's listener: new connections are refused, as by a
// machine whose node died.
func (t *target) kill() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ln == nil {
		return nil
	}
	err := t.ln.Close()
	t.ln = nil
	return err
}

// revive listens on the target's port again.
func (t *target) revive(srv *http.Server) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", t.port))
	if err != nil {
		return err
	}
	t.ln = ln
	go srv.Serve(ln)
	return nil
}

func (ts *targets) urls() []string {
	out := make([]string, len(ts.list))
	for i, t := range ts.list {
		out[i] = t.url
	}
	return out
}

func (ts *targets) close() { _ = ts.srv.Close() }
