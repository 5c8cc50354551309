package main

import (
	"context"
	"time"
)

// rhythm is the demo's schedule of outages, as its banner states it:
// every period one outage begins and lasts lasting, so the cluster is
// whole for period - lasting between two. The first begins after that
// gap, offset later (the shop's, half a period after the nodes').
type rhythm struct {
	every, lasting, offset time.Duration
}

// begins is when outage k (from 0) begins, counted from start.
func (r rhythm) begins(start time.Time, k int) time.Time {
	return start.Add(r.every - r.lasting + r.offset + time.Duration(k)*r.every)
}

// run calls outage at each beginning until ctx ends, on the schedule
// counted from now: an outage that takes longer to set up (a node slow to
// stop) does not push the next one later. outage returns false when ctx
// ended while it ran.
func (r rhythm) run(ctx context.Context, outage func(ctx context.Context) bool) error {
	start := time.Now()
	for k := 0; ; k++ {
		if !wait(ctx, time.Until(r.begins(start, k))) || !outage(ctx) {
			return ctx.Err()
		}
	}
}

// wait sleeps d or until ctx ends; it reports whether the time ran out.
func wait(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
