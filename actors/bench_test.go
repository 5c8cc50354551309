package actors

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/dupunkto/mesh/actors/domain"
	"github.com/dupunkto/mesh/config"
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
	o := NewOwner(OwnerConfig{Node: "me", Subjects: peerSubjects(names...), Threshold: 4, Boot: time.Now(), Log: zerolog.Nop()})
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
				_ = o.Report(ctx, domain.ProbeResult{Subject: domain.Peer(names[i%peers]), At: time.Now(), OK: i%7 != 0, RTT: time.Millisecond})
			}
		})
	}
	wg.Wait()
	// The last results are queued; wait until the owner has applied them all.
	done := make(chan struct{})
	o2 := domain.ProbeResult{Subject: domain.Peer(names[0]), At: time.Now(), OK: true}
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
	client := newHTTPClient(forProbes, 5*time.Second, nil)
	probers := make([]*Prober, peers)
	for i := range probers {
		peer := config.Peer{Name: fmt.Sprint(i), URL: srv.URL}
		probers[i] = NewProber(ProberConfig{Peer: peer, Timeout: 5 * time.Second, Client: client, UserAgent: "mesh/bench", Log: zerolog.Nop()})
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
