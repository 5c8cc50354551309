package actors

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rs/zerolog"
	"github.com/thejerf/suture/v4"

	"github.com/dupunkto/mesh/actors/domain"
	"github.com/dupunkto/mesh/config"
)

// recorder is a Reporter that keeps every result.
type recorder struct {
	mu      sync.Mutex
	results []domain.ProbeResult
}

func (r *recorder) Report(_ context.Context, res domain.ProbeResult) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.results = append(r.results, res)
	return nil
}

func (r *recorder) all() []domain.ProbeResult {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]domain.ProbeResult(nil), r.results...)
}

// clockPeer is an in-memory peer for schedule tests under synctest, where a
// real socket would keep the fake clock from moving. It answers 200 after
// delay, or never (until the probe's deadline) when hang is set.
type clockPeer struct {
	delay time.Duration
	hang  bool
}

func (c clockPeer) RoundTrip(req *http.Request) (*http.Response, error) {
	wait := c.delay
	if c.hang {
		wait = 1000 * time.Hour
	}
	select {
	case <-time.After(wait):
		return &http.Response{StatusCode: 200, Status: "200 OK", Body: io.NopCloser(strings.NewReader(`{"pong":true}`)), Header: http.Header{}, Request: req}, nil
	case <-req.Context().Done():
		return nil, req.Context().Err()
	}
}

func clockProber(name string, peer clockPeer, rep Reporter) *Prober {
	return NewProber(ProberConfig{
		Peer: config.Peer{Name: name, URL: "http://" + name}, Timeout: 500 * time.Millisecond,
		Client: &http.Client{Transport: peer}, Owner: rep, Log: zerolog.Nop(),
	})
}

// slotted is a 1 s probe scheduler for probers, at the offsets given.
type slotted struct {
	p      *Prober
	offset time.Duration
}

func onGrid(ps ...slotted) *ProbeScheduler {
	s := &ProbeScheduler{interval: time.Second}
	for _, p := range ps {
		s.add(p.p, p.offset)
	}
	return s
}

// offsets returns each result's start time relative to start, in ms.
func startOffsets(start time.Time, rs []domain.ProbeResult) []time.Duration {
	var out []time.Duration
	for _, r := range rs {
		out = append(out, r.At.Add(-r.RTT).Sub(start))
	}
	return out
}

func TestProberKeepsItsPhaseAndDoesNotDrift(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		rec := &recorder{}
		// Each answer takes 300 ms: a schedule counted from the end of the
		// last probe would drift by that much every round.
		go onGrid(slotted{clockProber("a", clockPeer{delay: 300 * time.Millisecond}, rec), 250 * time.Millisecond}).Serve(t.Context())
		time.Sleep(4*time.Second + 100*time.Millisecond)
		got := startOffsets(start, rec.all())
		want := []time.Duration{250 * time.Millisecond, 1250 * time.Millisecond, 2250 * time.Millisecond, 3250 * time.Millisecond}
		if len(got) != len(want) {
			t.Fatalf("probes started at %v, want %v", got, want)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("probes started at %v, want %v", got, want)
			}
		}
		for _, r := range rec.all() {
			if !r.OK || r.RTT != 300*time.Millisecond {
				t.Fatalf("result %+v, want ok with a 300ms round trip", r)
			}
		}
	})
}

func TestProberOverrunSkipsMissedSlots(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		rec := &recorder{}
		p := clockProber("slow", clockPeer{delay: 2500 * time.Millisecond}, rec)
		p.timeout = 10 * time.Second
		go onGrid(slotted{p, 0}).Serve(t.Context())
		time.Sleep(6 * time.Second)
		got := startOffsets(start, rec.all())
		// Probes at 0 (ends 2.5s), next slot on the grid after that is 3s (ends 5.5s), then 6s.
		if len(got) != 2 || got[0] != 0 || got[1] != 3*time.Second {
			t.Fatalf("probes started at %v, want [0s 3s]", got)
		}
	})
}

func TestHangingPeerFailsAtTheTimeoutAndDelaysNoOtherPeer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		hung, fine := &recorder{}, &recorder{}
		go onGrid(slotted{clockProber("hung", clockPeer{hang: true}, hung), 0},
			slotted{clockProber("fine", clockPeer{delay: time.Millisecond}, fine), 100 * time.Millisecond}).Serve(t.Context())
		time.Sleep(3 * time.Second)

		for i, r := range hung.all() {
			if r.OK || r.RTT != 500*time.Millisecond || !strings.Contains(r.Err.Error(), "timed out after 500ms") {
				t.Fatalf("hung probe %d: %+v, want a failure at the 500ms timeout", i, r)
			}
		}
		got := startOffsets(start, fine.all())
		want := []time.Duration{100 * time.Millisecond, 1100 * time.Millisecond, 2100 * time.Millisecond}
		if len(got) != 3 || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
			t.Fatalf("the healthy peer was probed at %v, want %v", got, want)
		}
	})
}

func TestProberPanicIsRestartedAndKeepsItsSchedule(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		rec := &recorder{}
		p := clockProber("a", clockPeer{delay: time.Millisecond}, rec)
		probes := 0
		p.beforeProbe = func() {
			probes++
			if probes == 2 {
				panic("injected panic")
			}
		}
		var panics atomic.Int32
		sup := suture.New("probers", suture.Spec{EventHook: func(e suture.Event) {
			if _, ok := e.(suture.EventServicePanic); ok {
				panics.Add(1)
			}
		}})
		sup.Add(onGrid(slotted{p, 200 * time.Millisecond}))
		go sup.Serve(t.Context())
		time.Sleep(3*time.Second + 500*time.Millisecond)
		if panics.Load() != 1 {
			t.Fatalf("%d panics seen by suture, want 1", panics.Load())
		}
		// The probe at 1.2s panicked, and took the scheduler with it; the
		// restarted scheduler keeps the peer's phase: 2.2s and 3.2s.
		got := startOffsets(start, rec.all())
		want := []time.Duration{200 * time.Millisecond, 2200 * time.Millisecond, 3200 * time.Millisecond}
		if len(got) != len(want) {
			t.Fatalf("probes at %v, want %v", got, want)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("probes at %v, want %v", got, want)
			}
		}
	})
}

func TestPhaseOffsetsDealPeersOverTheSlots(t *testing.T) {
	const n = 1000
	perSlot := map[time.Duration]int{}
	last := time.Duration(-1)
	for i := range n {
		off := PhaseOffset(i, n, time.Second)
		if off < 0 || off >= time.Second || off < last || off%(time.Second/SlotsPerInterval) != 0 {
			t.Fatalf("peer %d: offset %v is out of range, out of order or off the slots", i, off)
		}
		last = off
		perSlot[off]++
	}
	if len(perSlot) != SlotsPerInterval {
		t.Fatalf("1000 peers fill %d slots, want all %d", len(perSlot), SlotsPerInterval)
	}
	for off, k := range perSlot {
		if k != n/SlotsPerInterval {
			t.Fatalf("slot %v holds %d peers, want %d", off, k, n/SlotsPerInterval)
		}
	}
	// A few peers each get a slot of their own, spread over the interval.
	for i, want := range []time.Duration{0, 1600 * time.Millisecond, 3300 * time.Millisecond} {
		if got := PhaseOffset(i, 3, 5*time.Second); got != want {
			t.Fatalf("peer %d of 3 at 5s: offset %v, want %v", i, got, want)
		}
	}
}

// Probers that share a slot on one grid start their probes at the same
// instant, and a peer that hangs holds up none of the others in its slot.
func TestProbersInOneSlotStartTogetherAndAHangingPeerDelaysNone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		origin := time.Now()
		rec := &recorder{}
		var slot []slotted
		for i, peer := range []clockPeer{{delay: 10 * time.Millisecond}, {hang: true}, {delay: 20 * time.Millisecond}} {
			slot = append(slot, slotted{clockProber(string(rune('a'+i)), peer, rec), 0})
		}
		go onGrid(slot...).Serve(t.Context())
		time.Sleep(2*time.Second + 600*time.Millisecond)
		starts := map[string][]time.Duration{}
		for _, r := range rec.all() {
			starts[r.Subject.Name] = append(starts[r.Subject.Name], r.At.Add(-r.RTT).Sub(origin))
		}
		want := []time.Duration{0, time.Second, 2 * time.Second}
		for _, name := range []string{"a", "b", "c"} {
			if got := starts[name]; len(got) != len(want) || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
				t.Fatalf("%s's probes started at %v, want %v (all three peers are in slot 0)", name, got, want)
			}
		}
	})
}

// realProber probes a loopback URL with the production client.
func realProber(url string, timeout time.Duration, rep Reporter) *Prober {
	return NewProber(ProberConfig{Peer: config.Peer{Name: "peer", URL: url}, Timeout: timeout,
		Client: newHTTPClient(forProbes, timeout, nil), UserAgent: "mesh/test", Owner: rep, Log: zerolog.Nop()})
}

func TestProbeOverRealHTTP(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/ok/ping", func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, `{"pong": true}`) })
	mux.HandleFunc("/broken/ping", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "no", http.StatusInternalServerError) })
	mux.HandleFunc("/loop/ping", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, r.URL.Path, http.StatusFound) })
	srv := httptest.NewServer(mux)
	defer srv.Close()

	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	refused := "http://" + closed.Addr().String()
	closed.Close()

	cases := []struct {
		name, url, err string
	}{
		{"a 200 is a success", srv.URL + "/ok", ""},
		{"a 500 is a failure that names the status", srv.URL + "/broken", "answered 500 Internal Server Error"},
		{"a redirect is not followed", srv.URL + "/loop", "answered 302 Found (redirect to /loop/ping, not followed)"},
		{"a closed port is refused", refused, "connection refused"},
		{"an unresolvable name says so", "http://mesh-test.invalid", "no such host"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := realProber(tc.url, 2*time.Second, nil).probe(t.Context())
			if tc.err == "" {
				if !r.OK || r.Err != nil || r.RTT <= 0 {
					t.Fatalf("result %+v, want ok with a round-trip time", r)
				}
				return
			}
			if r.OK || r.Err == nil || !strings.Contains(r.Err.Error(), tc.err) {
				t.Fatalf("result %+v, want a failure mentioning %q", r, tc.err)
			}
		})
	}
}

func TestEveryProbeUsesAFreshConnection(t *testing.T) {
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("User-Agent") != "mesh/test" {
			t.Errorf("User-Agent %q", r.Header.Get("User-Agent"))
		}
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	p := realProber(srv.URL, 2*time.Second, nil)
	for range 5 {
		if r := p.probe(t.Context()); !r.OK {
			t.Fatalf("probe failed: %v", r.Err)
		}
	}
	if n := conns.Load(); n != 5 {
		t.Fatalf("5 probes used %d connections, want 5", n)
	}
}

func TestProbeOfAPeerThatAcceptsButNeverAnswers(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close() // hold it open, say nothing
		}
	}()
	r := realProber("http://"+ln.Addr().String(), 300*time.Millisecond, nil).probe(t.Context())
	if r.OK || !strings.Contains(r.Err.Error(), "timed out after 300ms") {
		t.Fatalf("result %+v, want a timeout", r)
	}
}
