package actors

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
)

// MessageSink takes messages to deliver, without blocking; the webhook is one.
type MessageSink interface {
	Enqueue(Message)
}

// NotifierConfig is what the notifier is built from.
type NotifierConfig struct {
	// Followups are the gaps between still-down reminders; the last repeats.
	Followups []time.Duration
	Out       MessageSink
	Log       zerolog.Logger
}

// Notifier turns the state owner's transitions into chat messages and keeps
// one reminder chain per peer that is down. It does no I/O: it hands its
// messages to the webhook actor, so a slow chat service never delays a
// reminder's schedule.
type Notifier struct {
	cfg NotifierConfig

	// The inbox: transitions the owner handed over, not yet processed. A
	// slice under a lock rather than a channel, so that Transition never
	// blocks the owner however far behind the notifier is; it is bounded by
	// the probe rate, and the notifier empties it without I/O.
	mu      sync.Mutex
	pending []Transition
	wake    chan struct{}

	// chains is owned by Serve: at most one reminder chain per peer.
	chains map[string]*chain

	// progress is what the state file keeps of the chains, published after
	// each pass so the state file writer can read it without waiting.
	progress atomic.Pointer[map[string]ReminderProgress]
}

// ReminderProgress is how far one outage's reminder chain has got.
type ReminderProgress struct {
	DownSince time.Time
	Sent      int // reminders sent so far
}

// chain is the reminder schedule of one outage.
type chain struct {
	downSince time.Time
	sent      int       // reminders sent so far
	next      time.Time // when the next one is due
}

// NewNotifier returns a notifier; subscribe it to the state owner.
func NewNotifier(cfg NotifierConfig) *Notifier {
	return &Notifier{cfg: cfg, wake: make(chan struct{}, 1), chains: make(map[string]*chain)}
}

func (n *Notifier) String() string { return "notifier" }

// Restore resumes the reminder chain of an outage a previous run announced:
// the down message is not sent again, and reminders carry on from the
// schedule counted from downSince. sent < 0 means the previous run did not
// say how far it got: the slots already past count as sent. Call it before
// Serve.
func (n *Notifier) Restore(peer string, downSince time.Time, sent int, now time.Time) {
	c := &chain{downSince: downSince, next: downSince.Add(n.gap(0))}
	for i := 0; (sent < 0 && !c.next.After(now)) || i < sent; i++ {
		c.sent++
		c.next = c.next.Add(n.gap(c.sent))
	}
	n.chains[peer] = c
	n.publish()
}

// Progress returns how far each running reminder chain has got.
func (n *Notifier) Progress() map[string]ReminderProgress {
	if p := n.progress.Load(); p != nil {
		return *p
	}
	return nil
}

func (n *Notifier) publish() {
	p := make(map[string]ReminderProgress, len(n.chains))
	for peer, c := range n.chains {
		p[peer] = ReminderProgress{DownSince: c.downSince, Sent: c.sent}
	}
	n.progress.Store(&p)
}

// Transition queues a transition. It never blocks.
func (n *Notifier) Transition(t Transition) {
	n.mu.Lock()
	n.pending = append(n.pending, t)
	n.mu.Unlock()
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

// Serve handles transitions as they come and sends reminders when due.
func (n *Notifier) Serve(ctx context.Context) error {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		var due <-chan time.Time
		if next := n.process(time.Now()); !next.IsZero() {
			timer.Reset(time.Until(next))
			due = timer.C
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-n.wake:
		case <-due:
		}
	}
}

// process handles the queued transitions and the reminders due by now, in
// the order they happened, and returns when the next reminder is due (zero
// when no peer is down).
func (n *Notifier) process(now time.Time) time.Time {
	n.mu.Lock()
	ts := n.pending
	n.pending = nil
	n.mu.Unlock()

	for _, t := range ts {
		n.remind(t.At) // a reminder due before this transition goes out before it
		if !t.Notifies() {
			continue
		}
		switch {
		case t.To == StatusDown:
			// A new outage replaces any chain the peer had: never two at once.
			n.chains[t.Peer] = &chain{downSince: t.At, next: t.At.Add(n.gap(0))}
			n.cfg.Out.Enqueue(downMessage(t.Peer, t.At))
		case t.To == StatusUp && t.From == StatusDown:
			delete(n.chains, t.Peer) // the recovery cancels the chain
			n.cfg.Out.Enqueue(recoveryMessage(t.Peer, t.At.Sub(t.DownSince), t.At))
		}
	}
	n.remind(now)
	n.publish()

	var next time.Time
	for _, c := range n.chains {
		if next.IsZero() || c.next.Before(next) {
			next = c.next
		}
	}
	return next
}

// remind sends the reminders due at or before now, in peer order for the
// same instant. A chain that missed several (the node was busy or away)
// sends one, not a burst, and moves on to its next slot in the future.
func (n *Notifier) remind(now time.Time) {
	peers := make([]string, 0, len(n.chains))
	for p, c := range n.chains {
		if !c.next.After(now) {
			peers = append(peers, p)
		}
	}
	slices.SortFunc(peers, func(a, b string) int {
		if c := n.chains[a].next.Compare(n.chains[b].next); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	for _, p := range peers {
		c := n.chains[p]
		n.cfg.Out.Enqueue(reminderMessage(p, now.Sub(c.downSince), now))
		for !c.next.After(now) {
			c.sent++
			c.next = c.next.Add(n.gap(c.sent))
		}
	}
}

// gap returns the wait before reminder i (0-based); the last gap repeats.
func (n *Notifier) gap(i int) time.Duration {
	return n.cfg.Followups[min(i, len(n.cfg.Followups)-1)]
}
