package e2e

import (
	"context"
	"slices"
	"sync"
	"testing"
)

// The ranks of the tests asking for a share: the long ones first, so that
// they run from the start; then the short ones; and last those that take
// the whole machine, which would otherwise stop every other test from
// starting while they wait for the running ones to end.
const (
	rankLong = iota
	rankShort
	rankAlone
)

// shares is a budget handed out to the tests that ask, by rank and then in
// the order they asked. Unlike a semaphore, which serves its waiters in
// order only, a test that fits in what is free starts although a bigger
// one before it waits: the bigger one then starts when enough of the
// running ones have ended, and the machine is never idle meanwhile.
type shares struct {
	mu      sync.Mutex
	free    int
	waiting []*ask // by rank, then in the order asked
}

// ask is one test's request for load of the budget.
type ask struct {
	load, rank int
	granted    chan struct{} // closed once the share is the test's
}

// ask queues a request for load (at most the whole budget), and grants it
// at once if it fits.
func (s *shares) ask(load, rank int) *ask {
	a := &ask{load: min(load, machineBudget), rank: rank, granted: make(chan struct{})}
	s.mu.Lock()
	defer s.mu.Unlock()
	i := slices.IndexFunc(s.waiting, func(w *ask) bool { return w.rank > rank })
	if i < 0 {
		i = len(s.waiting)
	}
	s.waiting = slices.Insert(s.waiting, i, a)
	s.grant()
	return a
}

// wait returns once a's share is granted, or ctx's error when ctx ends
// first (a's request is then withdrawn).
func (s *shares) wait(ctx context.Context, a *ask) error {
	select {
	case <-a.granted:
		return nil
	case <-ctx.Done():
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-a.granted: // granted meanwhile: given back
		s.free += a.load
		s.grant()
	default:
		s.waiting = slices.DeleteFunc(s.waiting, func(w *ask) bool { return w == a })
	}
	return ctx.Err()
}

// release gives back a share of load.
func (s *shares) release(load int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.free += load
	s.grant()
}

// grant hands out what is free to the waiting requests that fit, in their
// order. Called with mu held.
func (s *shares) grant() {
	kept := s.waiting[:0]
	for _, a := range s.waiting {
		if a.load <= s.free {
			s.free -= a.load
			close(a.granted)
			continue
		}
		kept = append(kept, a)
	}
	clear(s.waiting[len(kept):])
	s.waiting = kept
}

// granted says whether a's share is granted, without waiting.
func granted(a *ask) bool {
	select {
	case <-a.granted:
		return true
	default:
		return false
	}
}

// The harness's own scheduling: a request that fits starts while a bigger
// one waits, requests are served by rank, and one withdrawn (its test
// ended while it waited) takes nothing.
func TestSharesServeByRankAndLetWhatFitsStart(t *testing.T) {
	s := &shares{free: machineBudget}
	running := s.ask(30, rankShort)
	big := s.ask(20, rankShort)
	small := s.ask(10, rankShort)
	if !granted(running) || granted(big) || !granted(small) {
		t.Fatalf("granted 30: %v, then 20: %v, then 10: %v; want the 10 to start beside the 30 while the 20 waits", granted(running), granted(big), granted(small))
	}
	alone := s.ask(machineBudget, rankAlone)
	long := s.ask(20, rankLong)
	s.release(small.load)
	if granted(long) || granted(big) {
		t.Fatal("granted with 10 free, wanting 20")
	}
	s.release(running.load)
	if !granted(long) || !granted(big) || granted(alone) {
		t.Fatalf("40 free: long granted %v, short %v, alone %v; want the long and the short", granted(long), granted(big), granted(alone))
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.wait(ctx, alone); err == nil {
		t.Fatal("waiting with its context ended gave no error")
	}
	s.release(long.load)
	s.release(big.load)
	if granted(alone) || s.free != machineBudget || len(s.waiting) != 0 {
		t.Fatalf("after the withdrawn request: granted %v, %d free, %d waiting; want none, all, none", granted(alone), s.free, len(s.waiting))
	}
}
