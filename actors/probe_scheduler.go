package actors

import (
	"context"
	"fmt"
	"runtime/debug"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/dupunkto/mesh/config"
)

// SlotsPerInterval is how many start times an interval has. Waking up is
// most of what a probe costs the CPU (a bare net/http prober probing 1000
// loopback peers a second costs 1.6x as much per probe when it spreads
// them evenly as when it starts them all at once; BENCHMARKS.md), so the
// probes of a slot start together on one wake-up. Fifty slots keep each
// burst to a fiftieth of the peers, short enough that the last probe of a
// slot still starts well within 2 % of the interval of the slot.
const SlotsPerInterval = 50

// PhaseOffset gives peer i of n its slot: the peers are dealt evenly over
// the interval's SlotsPerInterval slots, in order.
func PhaseOffset(i, n int, interval time.Duration) time.Duration {
	if n <= 0 {
		return 0
	}
	slot := int64(i) * SlotsPerInterval / int64(n)
	return time.Duration(int64(interval) * slot / SlotsPerInterval)
}

// ProbersConfig is what a node's probe scheduler is built from.
type ProbersConfig struct {
	Peers     []config.Peer
	Targets   []config.Target
	Interval  time.Duration
	Timeout   time.Duration
	UserAgent string
	Cut       Cut // nil: the network as it is
	Owner     Reporter
	Metrics   *Metrics // nil counts nothing
	Log       zerolog.Logger
}

// ProbeScheduler starts every peer's probes on one grid: each peer has a
// slot in the interval (PhaseOffset), and the scheduler, one goroutine,
// wakes once per slot and starts a goroutine for the probe of each peer
// whose slot it is. A thousand peers cost 50 wake-ups a second, not a
// thousand, and a thousand goroutine stacks fewer. The grid is fixed to the
// clock, not to when probes end, so it does not drift.
type ProbeScheduler struct {
	interval time.Duration
	probers  []*Prober
	offsets  []time.Duration // each prober's slot
}

// NewProbers returns the scheduler of one prober per peer and per target,
// dealt over one grid; the peers share one probe client, the targets
// another (which follows redirects on the same host).
func NewProbers(cfg ProbersConfig) *ProbeScheduler {
	client := newHTTPClient(forProbes, cfg.Timeout, cfg.Cut)
	s := &ProbeScheduler{interval: cfg.Interval}
	n := len(cfg.Peers) + len(cfg.Targets) // all dealt over one grid
	for i, peer := range cfg.Peers {
		s.add(NewProber(ProberConfig{Peer: peer, Timeout: cfg.Timeout, Client: client, UserAgent: cfg.UserAgent,
			Owner: cfg.Owner, Metrics: cfg.Metrics, Log: cfg.Log}), PhaseOffset(i, n, cfg.Interval))
	}
	if len(cfg.Targets) > 0 {
		targets, dial := newHTTPClient(forTargets, cfg.Timeout, cfg.Cut), dialer(cfg.Timeout, cfg.Cut)
		for i, t := range cfg.Targets {
			s.add(NewTargetProber(TargetProberConfig{Target: t, Timeout: cfg.Timeout, Client: targets, Dial: dial, UserAgent: cfg.UserAgent,
				Owner: cfg.Owner, Metrics: cfg.Metrics, Log: cfg.Log}), PhaseOffset(len(cfg.Peers)+i, n, cfg.Interval))
		}
	}
	return s
}

// add puts p on the grid at offset; only before Serve.
func (s *ProbeScheduler) add(p *Prober, offset time.Duration) {
	s.probers = append(s.probers, p)
	s.offsets = append(s.offsets, offset)
}

func (s *ProbeScheduler) String() string { return "probe-scheduler" }

// Serve starts probes until ctx ends. A probe that panics takes the
// scheduler down with it, for suture to restart and log; the probers keep
// their places on the grid. Serve returns only once every probe it started
// has ended, so that a restarted scheduler never finds one still busy.
func (s *ProbeScheduler) Serve(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	var probes sync.WaitGroup
	defer probes.Wait()
	defer cancel()
	panics := make(chan any, 1)

	now := time.Now()
	for i, p := range s.probers {
		if p.next.IsZero() {
			p.next = now.Add(s.offsets[i]) // the same now for all: a slot's timers are one
		}
	}
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case v := <-panics:
			panic(v)
		case <-timer.C:
		}
		now := time.Now()
		var wake time.Time
		for _, p := range s.probers {
			if !p.next.After(now) {
				// Its slot has come. A probe still running (a peer slower
				// than the interval) keeps it; this slot is skipped.
				if p.busy.CompareAndSwap(false, true) {
					probes.Go(func() { s.probe(ctx, p, panics) })
				}
				p.next = nextSlot(p.next, now, s.interval)
			}
			if wake.IsZero() || p.next.Before(wake) {
				wake = p.next
			}
		}
		if !wake.IsZero() {
			timer.Reset(time.Until(wake))
		}
	}
}

// probe runs one probe of p, and hands a panic to the scheduler.
func (s *ProbeScheduler) probe(ctx context.Context, p *Prober, panics chan<- any) {
	defer p.busy.Store(false)
	defer func() {
		if v := recover(); v != nil {
			select {
			case panics <- fmt.Sprintf("probe of %s panicked: %v\n%s", p.subject.Name, v, debug.Stack()):
			default: // one is on its way already
			}
		}
	}()
	p.run(ctx)
}

// nextSlot returns the first slot after now on the grid last + k*interval.
func nextSlot(last, now time.Time, interval time.Duration) time.Time {
	next := last.Add(interval)
	if !next.After(now) {
		missed := now.Sub(next)/interval + 1
		next = next.Add(missed * interval)
	}
	return next
}
