package actors

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// Benchmarks; BENCHMARKS.md has the figures and the commands.

func peerNames(n int) []string {
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("node-%04d.mesh.example:4000", i)
	}
	return names
}

// BenchmarkOwnerReport measures the state owner's throughput: probe results
// applied and published per second, from 1000 peers reporting at once.
func BenchmarkOwnerReport(b *testing.B) {
	const peers = 1000
	names := peerNames(peers)
	o := NewOwner(OwnerConfig{Node: "me", Peers: names, Threshold: 4, Boot: time.Now(), Log: zerolog.Nop()})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go o.Serve(ctx)

	b.ReportAllocs()
	b.ResetTimer()
	var wg sync.WaitGroup
	const senders = 8
	for s := range senders {
		wg.Go(func() {
			for i := s; i < b.N; i += senders {
				_ = o.Report(ctx, ProbeResult{Peer: names[i%peers], At: time.Now(), OK: i%7 != 0, RTT: time.Millisecond})
			}
		})
	}
	wg.Wait()
	// The last results are queued; wait until the owner has applied them all.
	done := make(chan struct{})
	o2 := ProbeResult{Peer: names[0], At: time.Now(), OK: true}
	go func() {
		_ = o.Report(ctx, o2)
		for len(o.results) > 0 {
			time.Sleep(10 * time.Microsecond)
		}
		close(done)
	}()
	<-done
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "results/s")
}

// snapshotWith builds a snapshot of n peers, all up, and n relays that each
// hold a view of n peers: the largest /state a cluster of n+1 nodes serves.
func snapshotWith(n int) *Snapshot {
	names := peerNames(n)
	now := time.Now()
	seen := Time{now}
	view := PeerView{Status: StatusUp, Since: Time{now.Add(-time.Hour)}, LastSeen: &seen, RTT: Millis(1234 * time.Microsecond)}
	s := &Snapshot{Node: "me", Relay: map[string]*RelayCopy{}}
	views := map[string]PeerView{}
	for _, name := range names {
		s.Peers = append(s.Peers, &PeerEntry{Name: name, View: view})
		views[name] = view
	}
	for _, name := range names {
		s.Relay[name] = &RelayCopy{ReceivedAt: Time{now}, Peers: views}
	}
	return s
}

// BenchmarkStateJSON measures encoding /state for 10, 100 and 1000 peers
// with as many relays, each relay holding a view of as many peers.
// "one-change" is the steady state: one peer's entry changed since the last
// snapshot, as after a probe. "cold" encodes every entry and relay afresh,
// as for a snapshot whose every part is new (not something a node does).
func BenchmarkStateJSON(b *testing.B) {
	for _, n := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("peers=%d/one-change", n), func(b *testing.B) {
			s := snapshotWith(n)
			s.JSON() // the fragments of earlier snapshots are already encoded
			b.ReportAllocs()
			var size, i int
			for b.Loop() {
				peers := slices.Clone(s.Peers)
				old := peers[i%n]
				peers[i%n] = &PeerEntry{Name: old.Name, View: old.View, History: old.History}
				i++
				s = &Snapshot{Node: s.Node, Peers: peers, Relay: s.Relay}
				size = len(s.JSON())
			}
			b.ReportMetric(float64(size), "bytes")
		})
		b.Run(fmt.Sprintf("peers=%d/cold", n), func(b *testing.B) {
			s := snapshotWith(n)
			b.ReportAllocs()
			for b.Loop() {
				fresh := &Snapshot{Node: s.Node, Relay: map[string]*RelayCopy{}}
				for _, e := range s.Peers {
					fresh.Peers = append(fresh.Peers, &PeerEntry{Name: e.Name, View: e.View})
				}
				for name, c := range s.Relay {
					fresh.Relay[name] = &RelayCopy{ReceivedAt: c.ReceivedAt, Peers: c.Peers}
				}
				_ = fresh.JSON()
			}
		})
	}
}

// BenchmarkProberRound measures one round of probes over 100 peers on
// loopback: every prober probes once, concurrently, each on a fresh
// connection, as the node does every interval.
func BenchmarkProberRound(b *testing.B) {
	const peers = 100
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"pong":true}`))
	}))
	defer srv.Close()
	client := NewProbeClient(5 * time.Second)
	probers := make([]*Prober, peers)
	for i := range probers {
		probers[i] = NewProber(ProberConfig{Peer: fmt.Sprint(i), URL: srv.URL, Interval: time.Second, Timeout: 5 * time.Second, Client: client, UserAgent: "mesh/bench", Log: zerolog.Nop()})
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		var wg sync.WaitGroup
		for _, p := range probers {
			wg.Go(func() {
				if r := p.probe(ctx); !r.OK {
					b.Error(r.Err)
				}
			})
		}
		wg.Wait()
	}
	b.ReportMetric(float64(b.N*peers)/b.Elapsed().Seconds(), "probes/s")
}
