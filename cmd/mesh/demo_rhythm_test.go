package main

import (
	"context"
	"slices"
	"testing"
	"testing/synctest"
	"time"
)

// The demo's banner says "Every 45s one node goes down for 25s": an
// outage begins every 45 s, whatever the last one took to set up, and the
// shop's half a period after the nodes'.
func TestTheDemosOutagesBeginEveryPeriod(t *testing.T) {
	for _, tc := range []struct {
		name  string
		r     rhythm
		setup time.Duration // how long an outage takes before its lasting begins (a node slow to stop)
		want  []time.Duration
	}{
		{"the nodes'", rhythm{every: 45 * time.Second, lasting: 25 * time.Second}, 0, []time.Duration{20 * time.Second, 65 * time.Second, 110 * time.Second}},
		{"a node slow to stop", rhythm{every: 45 * time.Second, lasting: 25 * time.Second}, 5 * time.Second, []time.Duration{20 * time.Second, 65 * time.Second, 110 * time.Second}},
		{"the shop's", rhythm{every: 45 * time.Second, lasting: 25 * time.Second, offset: 22500 * time.Millisecond}, 0, []time.Duration{42500 * time.Millisecond, 87500 * time.Millisecond, 132500 * time.Millisecond}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				start := time.Now()
				var began, ended []time.Duration
				ctx, cancel := context.WithCancel(t.Context())
				err := tc.r.run(ctx, func(ctx context.Context) bool {
					began = append(began, time.Since(start))
					time.Sleep(tc.setup)
					ok := wait(ctx, tc.r.lasting)
					ended = append(ended, time.Since(start))
					if len(began) == len(tc.want) {
						cancel()
					}
					return ok
				})
				if err != context.Canceled {
					t.Fatalf("run returned %v, want context.Canceled", err)
				}
				if !slices.Equal(began, tc.want) {
					t.Fatalf("outages began at %v, want %v", began, tc.want)
				}
				for i := range ended {
					if d := ended[i] - began[i]; d != tc.setup+tc.r.lasting {
						t.Fatalf("outage %d lasted %v, want %v", i, d, tc.setup+tc.r.lasting)
					}
				}
			})
		})
	}
}
