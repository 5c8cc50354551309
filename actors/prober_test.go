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

func clockProber(name string, peer clockPeer, offset time.Duration, rep Reporter) *Prober {
	return NewProber(ProberConfig{
		Peer: config.Peer{Name: name, URL: "http://" + name}, Interval: time.Second, Timeout: 500 * time.Millisecond, Offset: offset,
		Client: &http.Client{Transport: peer}, Owner: rep, Log: zerolog.Nop(),
	})
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
		go clockProber("a", clockPeer{delay: 300 * time.Millisecond}, 250*time.Millisecond, rec).Serve(t.Context())
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
		p := clockProber("slow", clockPeer{delay: 2500 * time.Millisecond}, 0, rec)
		p.cfg.Timeout = 10 * time.Second
		go p.Serve(t.Context())
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
		go clockProber("hung", clockPeer{hang: true}, 0, hung).Serve(t.Context())
		go clockProber("fine", clockPeer{delay: time.Millisecond}, 100*time.Millisecond, fine).Serve(t.Context())
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
		p := clockProber("a", clockPeer{delay: time.Millisecond}, 200*time.Millisecond, rec)
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
		sup.Add(p)
		go sup.Serve(t.Context())
		time.Sleep(3*time.Second + 500*time.Millisecond)
		if panics.Load() != 1 {
			t.Fatalf("%d panics seen by suture, want 1", panics.Load())
		}
		// The probe at 1.2s panicked; the restarted prober picks its phase up
		// again: 1.2s right away (its slot is still due), then 2.2s and 3.2s.
		got := startOffsets(start, rec.all())
		want := []time.Duration{200 * time.Millisecond, 1200 * time.Millisecond, 2200 * time.Millisecond, 3200 * time.Millisecond}
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

func TestPhaseOffsetsSpreadPeersOverTheInterval(t *testing.T) {
	const n = 1000
	seen := map[time.Duration]bool{}
	for i := range n {
		off := PhaseOffset(i, n, time.Second)
		if off < 0 || off >= time.Second || seen[off] {
			t.Fatalf("peer %d: offset %v is out of range or shared", i, off)
		}
		seen[off] = true
	}
	if PhaseOffset(1, n, time.Second) != time.Millisecond {
		t.Fatalf("1000 peers over 1s should be 1ms apart")
	}
}

// realProber probes a loopback URL with the production client.
func realProber(url string, timeout time.Duration, rep Reporter) *Prober {
	return NewProber(ProberConfig{Peer: config.Peer{Name: "peer", URL: url}, Interval: time.Hour, Timeout: timeout,
		Client: newHTTPClient(forProbes, timeout), UserAgent: "mesh/test", Owner: rep, Log: zerolog.Nop()})
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
