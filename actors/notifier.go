package actors

import (
	"cmp"
	"context"
	"maps"
	"slices"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/dupunkto/mesh/actors/domain"
	"github.com/dupunkto/mesh/actors/mailbox"
)

// MessageSink takes messages to deliver, without blocking; the webhook is one.
type MessageSink interface {
	Enqueue(Message)
}

// Inbox is the notifier's mailbox of the state owner's transitions.
type Inbox = mailbox.Mailbox[domain.Transition]

// NewInbox returns the notifier's inbox, sized for a node of that many peers.
//
// Its size: a peer changes status at most twice in threshold+1 probes (down,
// then up), and the notifier empties its inbox without I/O in microseconds.
// Sixteen transitions a peer is eight full flaps of every peer at once
// before the notifier gets to run; only a notifier starved of CPU for
// minutes fills it. If it does, transitions that announce nothing (unknown
// to up at boot) give way first; a dropped one is logged and counted.
func NewInbox(peers int, metrics *Metrics, log zerolog.Logger) *Inbox {
	return mailbox.New(mailbox.Config[domain.Transition]{
		Size: max(16*peers, 256),
		Policy: func(queued []domain.Transition, incoming domain.Transition) int {
			if !incoming.Notifies() {
				return -1
			}
			return slices.IndexFunc(queued, func(t domain.Transition) bool { return !t.Notifies() })
		},
		Dropped: func(t domain.Transition, queued int) {
			log.Error().Str(t.Subject.Kind.String(), t.Subject.Name).Str("status", string(t.To)).Int("queued", queued).Msg("notifier inbox full: transition dropped")
			metrics.MailboxDropped("notifier")
		},
	})
}

// Outage is a peer that a previous run left down: its reminder chain
// carries on without a second down message.
type Outage struct {
	Subject   domain.Subject
	DownSince time.Time
	// Sent is how many reminders the outage had; < 0 when the previous run
	// did not say, and the slots already past count as sent.
	Sent int
}

// NotifierConfig is what the notifier is built from.
type NotifierConfig struct {
	// Followups are the gaps between still-down reminders; the last repeats.
	Followups Schedule
	Inbox     *Inbox // from NewInbox, given to the state owner too
	Out       MessageSink
	// Outages are the outages a previous run announced, resumed as of Now.
	Outages []Outage
	Now     time.Time
	// State says whether this node is isolated, and the cluster's verdicts;
	// Changes wakes the notifier when they change. Both nil: never isolated.
	State   interface{ Snapshot() *domain.Snapshot }
	Changes *Signal
	// Settle is how long after an isolation ends the notifier waits before
	// it decides on the messages it held: long enough for the relays to
	// come again and the verdicts to count more than this node's view (the
	// cluster rule's Fresh).
	Settle  time.Duration
	Metrics *Metrics // counts the messages sent; nil counts nothing
	Log     zerolog.Logger
}

// Notifier turns the state owner's transitions into chat messages and keeps
// one reminder chain per peer that is down. It does no I/O: it hands its
// messages to the webhook actor, so a slow chat service never delays a
// reminder's schedule.
type Notifier struct {
	cfg NotifierConfig

	// chains is owned by Serve: at most one reminder chain per peer.
	chains map[string]*chain
	// held are the down messages of outages that began while this node
	// was isolated, by peer, owned by Serve: sent when the isolation ends
	// if the outage is still on and the cluster confirms it, else dropped.
	held map[string]Message
	// back is when the isolation ended, while held messages wait on Settle.
	back time.Time

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
	subject   domain.Subject
	downSince time.Time
	sent      int       // reminders sent so far
	next      time.Time // when the next one is due
	// silent: its down message was dropped (see release), so its
	// reminders and its recovery are not sent either.
	silent bool
}

// NewNotifier returns a notifier that reads cfg.Inbox.
func NewNotifier(cfg NotifierConfig) *Notifier {
	n := &Notifier{cfg: cfg, chains: make(map[string]*chain), held: map[string]Message{}}
	for _, o := range cfg.Outages {
		n.restore(o)
	}
	n.publish()
	return n
}

func (n *Notifier) String() string { return "notifier" }

// restore resumes the reminder chain of an outage a previous run announced:
// the down message is not sent again, and reminders carry on from the
// schedule counted from its start. When the previous run did not say how
// far it got, the slots already past count as sent.
func (n *Notifier) restore(o Outage) {
	sent := o.Sent
	if sent < 0 {
		sent = n.cfg.Followups.dueBy(o.DownSince, n.cfg.Now)
	}
	n.chains[o.Subject.Name] = &chain{subject: o.Subject, downSince: o.DownSince, sent: sent, next: n.cfg.Followups.due(o.DownSince, sent)}
}

// Progress returns how far each running reminder chain has got. A nil
// notifier (webhooks off) has none.
func (n *Notifier) Progress() map[string]ReminderProgress {
	if n == nil {
		return nil
	}
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

// Serve handles transitions as they come and sends reminders when due.
func (n *Notifier) Serve(ctx context.Context) error {
	return serveOnSchedule(ctx, n.process, n.cfg.Inbox.Ready(), n.cfg.Changes.C())
}

// process handles the queued transitions and the reminders due by now, in
// the order they happened, and returns when it must look again: the next
// reminder, or the end of the settling after an isolation (zero when no
// peer is down and nothing is held).
func (n *Notifier) process(now time.Time) time.Time {
	var snap *domain.Snapshot
	if n.cfg.State != nil {
		snap = n.cfg.State.Snapshot()
	}
	isolated := snap != nil && snap.Isolated()
	for _, t := range n.cfg.Inbox.TakeAll() {
		n.remind(t.At, isolated) // a reminder due before this transition goes out before it
		if !t.Notifies() {
			continue
		}
		switch {
		case t.To == domain.StatusDown:
			// A new outage replaces any chain the peer had: never two at once.
			n.chains[t.Subject.Name] = &chain{subject: t.Subject, downSince: t.At, next: n.cfg.Followups.due(t.At, 0)}
			if isolated {
				n.held[t.Subject.Name] = downMessage(t.Subject, t.At)
				continue
			}
			n.send(downMessage(t.Subject, t.At))
		case t.To == domain.StatusUp && t.From == domain.StatusDown:
			c := n.chains[t.Subject.Name]
			delete(n.chains, t.Subject.Name) // the recovery cancels the chain
			if c != nil && c.silent {
				n.cfg.Metrics.MessageSuppressed(MessageRecovery, SuppressedIsolated)
				continue
			}
			if _, ok := n.held[t.Subject.Name]; ok {
				// Over before this node was back: neither is worth a message.
				delete(n.held, t.Subject.Name)
				n.cfg.Metrics.MessageSuppressed(MessageDown, SuppressedIsolated)
				n.cfg.Metrics.MessageSuppressed(MessageRecovery, SuppressedIsolated)
				continue
			}
			n.send(recoveryMessage(t.Subject, t.At.Sub(t.DownSince), t.At))
		}
	}
	var next time.Time
	switch {
	case isolated:
		n.back = time.Time{}
	case len(n.held) == 0:
	case n.back.IsZero():
		n.back = now
		next = now.Add(n.cfg.Settle)
	case now.Sub(n.back) < n.cfg.Settle:
		next = n.back.Add(n.cfg.Settle)
	default:
		n.release(snap)
		n.back = time.Time{}
	}
	n.remind(now, isolated)
	n.publish()

	for _, c := range n.chains {
		if next.IsZero() || c.next.Before(next) {
			next = c.next
		}
	}
	return next
}

// release ends what the isolation held, once it has settled: a down
// message goes out if the outage is still on and the cluster confirms it
// (without relaying, the node's own view is all the cluster there is);
// else it is dropped, and so are the reminders and recovery of that outage.
func (n *Notifier) release(snap *domain.Snapshot) {
	for _, peer := range slices.Sorted(maps.Keys(n.held)) {
		m := n.held[peer]
		delete(n.held, peer)
		v, ok := snap.Verdicts().Of(peer)
		if _, on := n.chains[peer]; on && ok && v.Status() == domain.ClusterDown {
			n.send(m)
			continue
		}
		n.cfg.Metrics.MessageSuppressed(MessageDown, SuppressedIsolated)
		if c, on := n.chains[peer]; on {
			c.silent = true
		}
		n.cfg.Log.Info().Str(m.Subject.Kind.String(), peer).Msg("a down message held while this node was cut off is dropped: the cluster does not confirm the outage")
	}
}

// send hands a message to the webhook, and counts it.
func (n *Notifier) send(m Message) {
	n.cfg.Out.Enqueue(m)
	n.cfg.Metrics.MessageSent(m.Kind)
}

// remind sends the reminders due at or before now, in peer order for the
// same instant. A chain that missed several (the node was busy or away)
// sends one, not a burst, and moves on to its next slot in the future.
func (n *Notifier) remind(now time.Time, isolated bool) {
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
		_, held := n.held[p]
		if isolated || held || c.silent {
			// Its down message is held, or was dropped: so is this.
			n.cfg.Metrics.MessageSuppressed(MessageReminder, SuppressedIsolated)
		} else {
			n.send(reminderMessage(c.subject, now.Sub(c.downSince), now))
		}
		c.sent = n.cfg.Followups.dueBy(c.downSince, now) // every slot up to now, however many were missed
		c.next = n.cfg.Followups.due(c.downSince, c.sent)
	}
}
