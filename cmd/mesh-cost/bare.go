package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"
)

// runBare is the yardstick: the least a Go program can do to probe the same
// targets on the same schedule, a GET /ping on a fresh connection with
// net/http and nothing else, no bookkeeping, no logs. It runs as its own
// process (mesh-cost bare) so that its CPU and memory are measured as the
// node's are.
func runBare() int {
	urls := strings.Split(os.Getenv("MESH_COST_TARGETS"), ",")
	interval, err := time.ParseDuration(os.Getenv("MESH_COST_INTERVAL"))
	if err != nil || len(urls) == 0 {
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	client := &http.Client{
		Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true},
		Timeout:   5 * time.Second,
	}
	var wg sync.WaitGroup
	start := time.Now()
	for i, url := range urls {
		// The same spread over the interval as the node's probers.
		first := start.Add(time.Duration(int64(interval) * int64(i) / int64(len(urls))))
		wg.Go(func() {
			next := first
			for {
				select {
				case <-ctx.Done():
					return
				case <-time.After(time.Until(next)):
				}
				if resp, err := client.Get(url + "/ping"); err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				for next = next.Add(interval); !next.After(time.Now()); next = next.Add(interval) {
				}
			}
		})
	}
	wg.Wait()
	return 0
}
