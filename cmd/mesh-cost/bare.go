package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/dupunkto/mesh/actors"
)

// bareSchedule says where in the interval a bare prober starts target i of n.
type bareSchedule struct {
	name  string
	about string
	first func(i, n int, interval time.Duration) time.Duration
}

// bareSchedules are the bare probers measured beside the node, in one run.
var bareSchedules = []bareSchedule{
	{"spread", "each target on its own moment, spread evenly", func(i, n int, interval time.Duration) time.Duration {
		return time.Duration(int64(interval) * int64(i) / int64(n))
	}},
	{"slotted", "in the node's slots", actors.PhaseOffset},
	{"together", "all at once", func(int, int, time.Duration) time.Duration { return 0 }},
}

// runBare is the yardstick: the least a Go program can do to probe the same
// targets on a schedule, a GET /ping on a fresh connection with net/http
// and nothing else, no bookkeeping, no logs. It runs as its own process
// (mesh-cost bare) so that its CPU and memory are measured as the node's
// are; MESH_COST_SCHEDULE names one of bareSchedules.
func runBare() int {
	urls := strings.Split(os.Getenv("MESH_COST_TARGETS"), ",")
	interval, err := time.ParseDuration(os.Getenv("MESH_COST_INTERVAL"))
	if err != nil || len(urls) == 0 {
		return 2
	}
	i := slices.IndexFunc(bareSchedules, func(s bareSchedule) bool { return s.name == os.Getenv("MESH_COST_SCHEDULE") })
	if i < 0 {
		return 2
	}
	schedule := bareSchedules[i].first
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	client := &http.Client{
		Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true},
		Timeout:   5 * time.Second,
	}
	var wg sync.WaitGroup
	start := time.Now()
	for i, url := range urls {
		first := start.Add(schedule(i, len(urls), interval))
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
