package actors

import (
	"context"
	"maps"
	"slices"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/dupunkto/mesh/actors/domain"
)

// ClusterNotifierConfig is what the cluster notifier is built from.
type ClusterNotifierConfig struct {
	Node string
	// Nodes is how many nodes the cluster has: this one and its peers.
	Nodes int
	// Followups are the gaps between still-down reminders; the last repeats.
	Followups Schedule
	// PartialAfter is how long a minority of a peer's observers must see
	// it down before one message says so.
	PartialAfter time.Duration
	// Slot is how long a node waits for each node before it in the
	// election (see position) for that node's announcement to reach it.
	Slot time.Duration
	// Fresh is how long an announcement counts after the relay that
	// carried it arrived: the cluster rule's Fresh, the same window in
	// which the relay's views count in the verdicts.
	Fresh time.Duration
	State interface{ Snapshot() *domain.Snapshot }
	// Changes wakes the notifier when the verdicts or the relays changed.
	Changes *Signal
	// Announcing is woken when this node's announcements changed (the
	// relay sender), so that they leave at once rather than at the end of
	// the round; nil wakes nobody.
	Announcing Waker
	Out        MessageSink
	// Saved are the announcements a previous run made and heard of.
	Saved []AnnouncementRecord
	Now   time.Time // when the node started
	// Metrics counts the messages sent and suppressed; nil counts nothing.
	Metrics *Metrics
	Log     zerolog.Logger
}

// AnnouncementRecord is an announcement as the state file keeps it: one
// this node made (By is the node itself) or one it heard of.
type AnnouncementRecord struct {
	Peer string
	By   string
	domain.Announcement
}

// ClusterNotifier sends the messages of ALERTS=cluster: it follows the
// cluster's verdicts, not this node's own view, and of all the nodes that
// follow the same episode only one sends its messages (see position). It
// does no I/O; its messages go to the webhook actor.
type ClusterNotifier struct {
	cfg ClusterNotifierConfig

	// Owned by Serve.
	episodes map[string]*episode // by peer
	// ownDown is, for each peer this node itself sees down, when that
	// began and whether the cluster confirmed it while it lasted.
	ownDown map[string]ownDown
	// quietUntil is the end of the warm-up after start, or after this node
	// was isolated: until it has held relays for a whole Fresh window, it
	// cannot tell whether another node announced an episode, so it
	// announces none and ends none.
	quietUntil time.Time
	// wasIsolated: the last snapshot said this node was isolated. While it
	// is, it takes no turn: its view says nothing of its peers.
	wasIsolated bool

	// announced is what this node announces now, by peer, for the relay
	// sender; records is every announcement it knows of, for the state
	// file. Both are published after each pass.
	announced atomic.Pointer[map[string]domain.Announcement]
	records   atomic.Pointer[[]AnnouncementRecord]
	// alerts is what this node asserts to Alertmanager: the episodes it
	// holds the announcement of.
	alerts atomic.Pointer[AlertSet]
}

type ownDown struct {
	since     time.Time
	confirmed bool
}

// NewClusterNotifier returns a cluster notifier that resumes cfg.Saved.
func NewClusterNotifier(cfg ClusterNotifierConfig) *ClusterNotifier {
	n := &ClusterNotifier{cfg: cfg, episodes: map[string]*episode{}, ownDown: map[string]ownDown{}, quietUntil: cfg.Now.Add(cfg.Fresh)}
	snap := cfg.State.Snapshot()
	for _, r := range cfg.Saved {
		entry, ok := snap.Entry(r.Peer)
		if !ok {
			continue
		}
		e := &episode{subject: entry.Subject(), kind: r.Kind, began: cfg.Now, since: r.Since, announced: true, sent: r.Reminders}
		if r.By == cfg.Node {
			e.mine = true
		} else {
			// Heard as of the start: if the announcer is still there, its
			// next relay says so within Fresh; if not, the next node takes
			// over, as it would have had this node not restarted.
			e.by, e.heardAt = r.By, cfg.Now
		}
		e.left = cfg.Followups.dueBy(e.since, cfg.Now)
		n.episodes[r.Peer] = e
	}
	n.publish(snap)
	return n
}

func (n *ClusterNotifier) String() string { return "notifier" }

// Announced returns what this node announces now, by peer, for its relays.
func (n *ClusterNotifier) Announced() map[string]domain.Announcement {
	if n == nil {
		return nil
	}
	return *n.announced.Load()
}

// Records returns every announcement this node knows of, for the state file.
func (n *ClusterNotifier) Records() []AnnouncementRecord {
	if n == nil {
		return nil
	}
	return *n.records.Load()
}

// Alerts returns the alerts this node posts to Alertmanager: one for each
// episode it holds the announcement of, so that one node, the one that
// sends its messages, posts each; those another node holds are left to it.
func (n *ClusterNotifier) Alerts() AlertSet { return *n.alerts.Load() }

// Serve follows the verdicts as they change and acts when a turn or a
// reminder is due.
func (n *ClusterNotifier) Serve(ctx context.Context) error {
	return serveOnSchedule(ctx, n.process, n.cfg.Changes.C(), nil)
}

// process follows every peer's verdict in the latest snapshot as of now,
// and returns when it must look again if nothing changes before (zero:
// only a change can make it act).
func (n *ClusterNotifier) process(now time.Time) time.Time {
	snap := n.cfg.State.Snapshot()
	if snap.Isolated() {
		n.wasIsolated = true
	} else if n.wasIsolated {
		// Back: what the others announced meanwhile comes in the next
		// relays; until they have had time to arrive, announce nothing,
		// as after a start.
		n.wasIsolated, n.quietUntil = false, later(n.quietUntil, now.Add(n.cfg.Fresh))
	}
	holders := n.holders(snap, now)
	var next time.Time
	for v := range snap.Verdicts().All() {
		if at := n.follow(snap, v, holders[v.Name()], now); !at.IsZero() && (next.IsZero() || at.Before(next)) {
			next = at
		}
	}
	if now.Before(n.quietUntil) && (next.IsZero() || n.quietUntil.Before(next)) {
		next = n.quietUntil
	}
	n.publish(snap)
	return next
}

// holders returns the announcements in the fresh relays of snap, by peer,
// each peer's in name order of the announcing node. A node's word on
// itself is not taken.
func (n *ClusterNotifier) holders(snap *domain.Snapshot, now time.Time) map[string][]holder {
	out := map[string][]holder{}
	for node, r := range snap.Relays() {
		if node == n.cfg.Node || now.Sub(r.ReceivedAt()) > n.cfg.Fresh {
			continue
		}
		for peer, a := range r.Announcements() {
			if peer != node {
				out[peer] = append(out[peer], holder{node: node, at: r.ReceivedAt(), Announcement: a})
			}
		}
	}
	return out
}

// follow acts on one peer's verdict: it ends the episode the verdict no
// longer shows, begins the one it shows, and sends what is due. It returns
// when it must look again.
func (n *ClusterNotifier) follow(snap *domain.Snapshot, v domain.Verdict, holders []holder, now time.Time) time.Time {
	subject := v.Subject()
	peer := subject.Name
	n.noteOwnView(snap, v)
	kind, active := episodeKind(v)
	e := n.episodes[peer]
	if e != nil && (!active || e.kind != kind) {
		if now.Before(n.quietUntil) && e.announced {
			return n.quietUntil // not yet heard from everyone: do not end what others may still hold
		}
		n.end(subject, e, v, now, kind)
		delete(n.episodes, peer)
		e = nil
	}
	if !active {
		return time.Time{}
	}
	if e == nil {
		e = &episode{subject: subject, kind: kind, began: now, since: now}
		if own, ok := snap.View(peer); ok && kind == domain.AnnouncedDown && own.Status == domain.StatusDown && own.Since.Before(now) {
			e.since = own.Since // the downtime counts from this node's own down, as in node mode
		}
		n.episodes[peer] = e
	}

	var relayed time.Time
	if r, ok := snap.Relay(e.by); ok && now.Sub(r.ReceivedAt()) <= n.cfg.Fresh {
		relayed = r.ReceivedAt()
	}
	wasMine, wasHeld := e.mine, e.held()
	if e.hear(n.cfg.Node, holders, relayed, n.cfg.Fresh, now) {
		n.cfg.Metrics.MessageSuppressed(startKind(kind), SuppressedElsewhere)
		n.cfg.Log.Debug().Str(subject.Kind.String(), peer).Str("kind", string(kind)).Str("by", e.by).Msg("announced by another node; leaving it the messages")
	}
	if !wasHeld && e.held() {
		e.left = n.cfg.Followups.dueBy(e.since, now) // the slots before are not this node's to count
	}
	if wasMine && !e.mine {
		n.cfg.Log.Info().Str(subject.Kind.String(), peer).Str("kind", string(kind)).Str("by", e.by).Msg("another node announced it too; leaving it the messages")
	}

	if !e.held() && !e.mine {
		turn := n.turn(e, v, now)
		if now.Before(turn) {
			return turn
		}
		if snap.Isolated() {
			return time.Time{} // no turn while cut off; the end of the isolation wakes it
		}
		n.takeTurn(subject, e, v, now)
	}
	n.remind(subject, e, v, now, snap.Isolated())
	if e.by != "" && !e.mine && e.lost.IsZero() && !e.withdrawn {
		return earliest(e.heardAt.Add(n.cfg.Fresh+time.Nanosecond), e.next)
	}
	return e.next
}

// turn is when this node announces the episode, or takes it over from an
// announcer gone silent, if nobody has by then.
//
// An outage: the first node in the election waits for the observers that
// still see the peer up, which may be a probe behind, so that its message
// names every vantage point; at most a slot. Each other node waits a slot
// more than that per node before it: the first's wait, then a slot for its
// announcement to arrive. A partial episode has waited PARTIAL_AFTER
// already; a takeover sends no message: neither waits for stragglers.
func (n *ClusterNotifier) turn(e *episode, v domain.Verdict, now time.Time) time.Time {
	pos := e.place(position(v, n.cfg.Node), now)
	from := e.began
	if e.moved.After(from) {
		from = e.moved
	}
	switch {
	case !e.lost.IsZero():
		from = later(from, e.lost)
	case e.kind == domain.AnnouncedPartial:
		from = later(from, e.began.Add(n.cfg.PartialAfter))
	case pos > 0 || len(v.UpFrom()) > 0:
		pos++
	}
	turn := from.Add(time.Duration(pos) * n.cfg.Slot)
	if turn.Before(n.quietUntil) {
		turn = n.quietUntil
	}
	return turn
}

// takeTurn announces the episode, or takes over its announcement without
// a second message when another node announced it and went silent.
func (n *ClusterNotifier) takeTurn(s domain.Subject, e *episode, v domain.Verdict, now time.Time) {
	if e.announced {
		n.cfg.Log.Info().Str(s.Kind.String(), s.Name).Str("kind", string(e.kind)).Str("from", e.by).Msg("the announcer went silent; taking its announcement over")
		e.mine, e.by, e.lost = true, "", time.Time{}
		return
	}
	e.mine, e.announced = true, true
	down := v.DownFrom()
	if e.kind == domain.AnnouncedDown {
		n.send(clusterDownMessage(s, down, n.cfg.Nodes, now))
	} else {
		e.since = e.began
		n.send(partialMessage(s, down, v.UpFrom(), now))
	}
	n.cfg.Log.Info().Str(s.Kind.String(), s.Name).Str("kind", string(e.kind)).Strs("down_from", down).Msg("announced to the chat channel")
}

// remind sends the outage's reminder when it is due and this node holds
// the announcement, or counts the reminders it leaves to the node that
// does, and sets when to look again. A reminder missed (the node was busy,
// or took over from a node that died before sending it) is sent once, not
// in a burst, and the chain moves on to its next slot in the future.
func (n *ClusterNotifier) remind(s domain.Subject, e *episode, v domain.Verdict, now time.Time, isolated bool) {
	gaps := n.cfg.Followups
	switch {
	case e.kind != domain.AnnouncedDown:
		e.next = time.Time{}
	case e.mine:
		if !gaps.due(e.since, e.sent).After(now) {
			if isolated {
				n.cfg.Metrics.MessageSuppressed(MessageReminder, SuppressedIsolated)
			} else {
				n.send(clusterReminderMessage(s, len(v.DownFrom()), n.cfg.Nodes, now.Sub(e.since), now))
			}
			e.sent = max(e.sent+1, gaps.dueBy(e.since, now))
		}
		e.next = gaps.due(e.since, e.sent)
	case e.held():
		if due := gaps.dueBy(e.since, now); due > e.left {
			n.cfg.Metrics.MessagesSuppressed(MessageReminder, SuppressedElsewhere, due-e.left)
			e.left = due
		}
		e.next = gaps.due(e.since, e.left)
	default:
		e.next = time.Time{} // waiting for its turn, which wakes it
	}
}

// end closes an episode the verdict no longer shows. Its announcer says it
// is over; the others count what they left to it. A partial episode that
// turns into an outage ends quietly: the down message says more.
func (n *ClusterNotifier) end(s domain.Subject, e *episode, v domain.Verdict, now time.Time, becomes domain.AnnouncementKind) {
	if e.kind == domain.AnnouncedPartial && becomes == domain.AnnouncedDown {
		return
	}
	over := MessageRecovery
	if e.kind == domain.AnnouncedPartial {
		over = MessagePartialOver
	}
	switch {
	case e.mine && e.kind == domain.AnnouncedDown:
		n.send(recoveryMessage(s, now.Sub(e.since), now))
	case e.mine:
		n.send(partialOverMessage(s, now.Sub(e.since), now))
	case e.announced:
		n.cfg.Metrics.MessageSuppressed(over, SuppressedElsewhere)
	case e.kind == domain.AnnouncedDown || !now.Before(e.began.Add(n.cfg.PartialAfter)):
		n.cfg.Metrics.MessageSuppressed(startKind(e.kind), SuppressedOver)
		n.cfg.Log.Debug().Str(s.Kind.String(), s.Name).Str("kind", string(e.kind)).Msg("over before this node's turn to announce it, and nobody had")
	}
}

// noteOwnView counts the down messages this node's own view would have
// sent in node mode and the cluster did not confirm: once a local outage
// ends that the verdict never called down while it lasted.
func (n *ClusterNotifier) noteOwnView(snap *domain.Snapshot, v domain.Verdict) {
	peer := v.Name()
	own, _ := snap.View(peer)
	d, was := n.ownDown[peer]
	if own.Status == domain.StatusDown {
		if !was || !d.since.Equal(own.Since) {
			d = ownDown{since: own.Since}
		}
		d.confirmed = d.confirmed || v.Status() == domain.ClusterDown
		n.ownDown[peer] = d
		return
	}
	if was {
		delete(n.ownDown, peer)
		if !d.confirmed {
			n.cfg.Metrics.MessageSuppressed(MessageDown, SuppressedUnconfirmed)
			n.cfg.Log.Debug().Str(v.Subject().Kind.String(), peer).Msg("this node saw the peer down, the cluster never did: no message")
		}
	}
}

func (n *ClusterNotifier) send(m Message) {
	n.cfg.Out.Enqueue(m)
	n.cfg.Metrics.MessageSent(m.Kind)
}

// publish makes this pass's announcements readable by the relay sender, the
// state file writer and the Alertmanager posters without waiting on Serve.
func (n *ClusterNotifier) publish(snap *domain.Snapshot) {
	announced := map[string]domain.Announcement{}
	records := []AnnouncementRecord{}
	alerts := AlertSet{Elsewhere: map[string]bool{}, Frozen: snap.Isolated()}
	for _, peer := range slices.Sorted(maps.Keys(n.episodes)) {
		e := n.episodes[peer]
		a := domain.Announcement{Kind: e.kind, Since: e.since, Reminders: e.sent}
		switch {
		case e.mine:
			announced[peer] = a
			records = append(records, AnnouncementRecord{Peer: peer, By: n.cfg.Node, Announcement: a})
			alerts.Mine = append(alerts.Mine, n.alert(snap, peer, e))
		case e.announced && e.by != "":
			records = append(records, AnnouncementRecord{Peer: peer, By: e.by, Announcement: a})
			alerts.Elsewhere[alertKey(alertName(e.kind, e.subject.Kind), peer)] = true
		}
	}
	n.alerts.Store(&alerts)
	if old := n.announced.Load(); old != nil && !maps.Equal(*old, announced) && n.cfg.Announcing != nil {
		defer n.cfg.Announcing.Notify()
	}
	n.announced.Store(&announced)
	n.records.Store(&records)
}

// alert is the Alertmanager alert of an episode this node holds, its
// summary the message that opened it as it would read now.
func (n *ClusterNotifier) alert(snap *domain.Snapshot, peer string, e *episode) Alert {
	v, _ := snap.Verdicts().Of(peer)
	m := clusterDownMessage(e.subject, v.DownFrom(), n.cfg.Nodes, e.since)
	if e.kind == domain.AnnouncedPartial {
		m = partialMessage(e.subject, v.DownFrom(), v.UpFrom(), e.since)
	}
	return newAlert(e.kind, e.since, m, v)
}

// startKind is the message that opens an episode of kind k.
func startKind(k domain.AnnouncementKind) MessageKind {
	if k == domain.AnnouncedPartial {
		return MessagePartial
	}
	return MessageDown
}

// later returns the later of two instants.
func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// earliest returns the earlier of two instants, a zero one not counting.
func earliest(a, b time.Time) time.Time {
	switch {
	case a.IsZero():
		return b
	case b.IsZero() || a.Before(b):
		return a
	}
	return b
}
