package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
)

// demoTargets are the demo's two targets (TARGETS), on one listener of
// their own: a shop at /shop that goes down every so often (it answers
// 503), and the listener's port itself, a TCP target that stays up. Every
// node probes both, so the page and the chat show how a service's outage
// looks from every vantage point. It is a suture service of the demo.
type demoTargets struct {
	ln     net.Listener
	rhythm rhythm         // of the shop's outages
	log    zerolog.Logger // set before Serve

	down atomic.Bool // the shop answers 503; set by Serve's outage loop
}

// newDemoTargets listens on addr.
func newDemoTargets(addr string, r rhythm) (*demoTargets, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	return &demoTargets{ln: ln, rhythm: r}, nil
}

// urls are the TARGETS entries of the demo's nodes.
func (d *demoTargets) urls() []string {
	return []string{"http://" + d.ln.Addr().String() + "/shop", "tcp://" + d.ln.Addr().String()}
}

func (d *demoTargets) String() string { return "demo-targets" }

// Serve answers until ctx ends, and takes the shop down on its rhythm,
// half a period after the nodes' outages begin.
func (d *demoTargets) Serve(ctx context.Context) error {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /shop", func(w http.ResponseWriter, _ *http.Request) {
		if d.down.Load() {
			http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "the demo's shop is open")
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(d.ln) }()

	_ = d.rhythm.run(ctx, func(ctx context.Context) bool {
		d.log.Warn().Str("target", d.urls()[0]).Str("duration", d.rhythm.lasting.String()).Msg("demo: the shop goes down")
		d.down.Store(true)
		defer d.down.Store(false)
		if !wait(ctx, d.rhythm.lasting) {
			return false
		}
		d.log.Info().Str("target", d.urls()[0]).Msg("demo: the shop is back")
		return true
	})
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return ctx.Err()
}
