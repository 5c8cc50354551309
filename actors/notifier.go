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

// MessageSink takes messages to deliver, without blocking: the channels'
// fan-out is one.
type MessageSink interface {
	Enqueue(domain.Message)
}

// NotifierConfig is what the alert engine is built from.
type NotifierConfig struct {
	Node string
	// Policy is ALERTS: whose verdict the alerts follow, who may send.
	Policy Policy
	// Followups are the gaps between still-down reminders; the last repeats.
	Followups Schedule
	// PartialAfter is how long a minority of a subject's observers must see
	// it down before one message says so.
	PartialAfter time.Duration
	// Slot is how long a node waits for each node before it in the
	// election for that node's announcement to reach it.
	Slot time.Duration
	// Fresh is how long an announcement counts after the relay that
	// carried it arrived (the cluster rule's Fresh, the window in which
	// the relay's views count in the verdicts), and how long the engine
	// listens, after it starts, after a pause of the process and after an
	// isolation, before it says anything: long enough for a round of its
	// own probes and fresh relays from every node.
	Fresh time.Duration
	// Round is the longest a round takes: the engine looks at least once
	// a round, to notice that the whole process was held up (see pauses).
	Round time.Duration
	// CertWarn is CERT_WARN: a certificate that expires within it is told of.
	CertWarn time.Duration
	State    interface{ Snapshot() *domain.Snapshot }
	// Changes wakes the engine when the verdicts, the relays or a
	// certificate changed.
	Changes *Signal
	// Announcing is woken when this node's announcements changed (the
	// relay sender), so that they leave at once rather than at the end of
	// the round; nil wakes nobody.
	Announcing Waker
	// Recorded is woken when what a restart must not forget (Record)
	// changed, an announcement made or ended above all (the state file),
	// so that it is written at once: a run that crashed seconds after a
	// recovery, its record not yet written, would send the recovery again
	// (see stillOn). Nil wakes nobody.
	Recorded Waker
	Out      MessageSink
	// Saved is what a previous run announced, heard of and told.
	Saved   domain.AlertRecord
	Now     time.Time // when the node started
	Metrics *Metrics  // nil counts nothing
	Log     zerolog.Logger
}

// Notifier is Mesh's one alert engine. Its path, for every subject at
// every change: the policy's verdict (judge), the episode it makes (a
// state machine, episode.go), the election's wait (election.go), the
// announcements other nodes made (dedup.go), then the messages, handed to
// the channels' fan-out, each channel delivering on its own (channel.go).
// It does no I/O, so a slow chat service never delays a message's
// schedule.
type Notifier struct {
	cfg      NotifierConfig
	election election

	// Owned by Serve.
	episodes map[string]*episode // outages and partial ones, by subject name
	owed     map[string]*episode // ended ones whose end nobody sent yet, by subject name (owed.go)
	// interrupted are the partial episodes an outage took the place of
	// and nobody has announced that outage yet, by subject name: if it
	// ends unannounced, the partial episode goes on as it was (resume).
	interrupted map[string]*episode
	certs       map[string]*episode // certificates not yet told of, by target name
	told        map[string]string   // fingerprints told of (by this node or another), by target name
	// ended are the announced episodes that ended with their last message,
	// sent here or heard of, by subject name, for EndingsKept.
	ended map[string]domain.Ending
	// ownDown is, for each subject this node itself sees down, when that
	// began and whether the alerts' verdict called it down while it lasted.
	ownDown map[string]ownDown
	// heldDown are the subjects the verdict found down while they were in
	// maintenance, and the spell: if it ends with them still down, the
	// down message says so.
	heldDown map[string]domain.Maintenance
	// silencesTold are the silences taken by this node since it started
	// whose making it told the chat, by ID.
	silencesTold map[string]bool
	// quietUntil is the end of the listening after start, after a pause,
	// or after this node was isolated: until then its view may be stale
	// and it cannot tell what another node announced or ended, so it
	// says nothing: no announcement, no reminder, no end.
	quietUntil  time.Time
	listening   bool // since the start, until it heard from every peer it sees up (see listen)
	wasIsolated bool
	pauses      pauses

	// What the relay sender, the state file and the Alertmanager posters
	// read, published after each pass.
	said   atomic.Pointer[domain.Said]
	record atomic.Pointer[domain.AlertRecord]
	alerts atomic.Pointer[AlertSet]
}

type ownDown struct {
	since     time.Time
	confirmed bool
}

// NewNotifier returns the engine, resuming cfg.Saved.
func NewNotifier(cfg NotifierConfig) *Notifier {
	n := &Notifier{cfg: cfg, election: election{policy: cfg.Policy, self: cfg.Node, slot: cfg.Slot, partialAfter: cfg.PartialAfter},
		episodes: map[string]*episode{}, owed: map[string]*episode{}, interrupted: map[string]*episode{}, certs: map[string]*episode{}, told: map[string]string{}, ended: map[string]domain.Ending{},
		ownDown: map[string]ownDown{}, heldDown: map[string]domain.Maintenance{}, silencesTold: map[string]bool{}, quietUntil: cfg.Now.Add(cfg.Fresh), listening: cfg.Policy.shared(), pauses: pauses{round: cfg.Round, last: cfg.Now}}
	snap := cfg.State.Snapshot()
	for _, r := range cfg.Saved.Announcements {
		if e, ok := snap.Entry(r.Subject.Name); ok && e.Subject() == r.Subject && n.stillOn(e, r) {
			n.restore(r)
			if v := e.View(); !n.cfg.Policy.cluster() && v.Status == domain.StatusUp {
				n.episodes[r.Subject.Name].back = v.Since // ended while the last run listened (see stillOn)
			}
		}
	}
	if cfg.Policy.restoresOwnDown() {
		for e := range snap.Subjects() {
			if v := e.View(); v.Status == domain.StatusDown && n.episodes[e.Name()] == nil {
				n.restore(domain.AnnouncementRecord{Subject: e.Subject(), By: cfg.Node,
					Announcement: domain.Announcement{Kind: domain.AnnouncedDown, Since: v.Since, Reminders: -1}})
			}
		}
	}
	for name, e := range cfg.Saved.Ended {
		if _, ok := snap.Entry(name); ok && cfg.Now.Sub(e.Ended) < domain.EndingsKept {
			n.ended[name] = e
		}
	}
	for target, fingerprint := range cfg.Saved.CertsTold {
		if e, ok := snap.Entry(target); ok && e.Kind() == domain.KindTarget {
			n.told[target] = fingerprint
		}
	}
	n.publish(snap, cfg.Now)
	return n
}

// stillOn reports whether an announcement a previous run kept is of the
// episode the subject is in now, or of one whose end is still to be told.
// With node alerts the verdict is this node's own view, which the owner
// restored from the same file: one of its own announcements is of this
// outage if that view is down since the same instant (one down since
// another instant is a later outage, which the previous run had not caught
// up with: its record would mislead). A view up since after the outage
// began says the outage ended while the previous run said nothing (it was
// listening after its start, and stopped before it was over): the
// announcement is resumed, and its recovery sent once this run has
// listened.
func (n *Notifier) stillOn(e *domain.Entry, r domain.AnnouncementRecord) bool {
	if n.cfg.Policy.cluster() || r.By != n.cfg.Node {
		return true
	}
	v := e.View()
	switch {
	case r.Kind != domain.AnnouncedDown:
		return false
	case v.Status == domain.StatusDown:
		return v.Since.Equal(r.Since)
	default:
		return v.Status == domain.StatusUp && v.Since.After(r.Since)
	}
}

// restore resumes an announcement a previous run made or heard of. One
// heard of counts as heard at the start: if its announcer is still there,
// its next relay says so within Fresh; if not, the next node takes over,
// as it would have had this node not restarted. Reminders < 0: the
// previous run did not say how many went out, and the slots already past
// count as sent.
func (n *Notifier) restore(r domain.AnnouncementRecord) {
	now, gaps := n.cfg.Now, n.cfg.Followups
	e := &episode{subject: r.Subject, kind: r.Kind, began: now, since: r.Since, origin: r.Origin, sent: r.Reminders, left: gaps.dueBy(r.Since, now)}
	if e.sent < 0 {
		e.sent = e.left
	}
	e.state, e.by, e.heardAt = heldElsewhere, r.By, now
	if r.By == n.cfg.Node {
		e.state, e.by = announcedHere, ""
	}
	e.next = gaps.due(e.since, e.sent)
	n.episodes[r.Subject.Name] = e
}

func (n *Notifier) String() string { return "notifier" }

// Said returns what this node says in its relays: what it announces now,
// the episodes it saw end, the certificates told of. Nothing with node
// alerts, which tell no other node.
func (n *Notifier) Said() domain.Said { return *n.said.Load() }

// Record returns what a restart must not forget, for the state file.
func (n *Notifier) Record() domain.AlertRecord { return *n.record.Load() }

// Alerts returns the alerts this node posts to Alertmanager: one for each
// episode it holds the announcement of, so that one node, the one that
// sends its messages, posts each; those another node holds are left to it.
func (n *Notifier) Alerts() AlertSet { return *n.alerts.Load() }

// Serve follows the verdicts as they change, acts when a turn or a
// reminder is due, and looks once a round whatever happens, so that a
// pause of the whole process is noticed before anything is said after it.
func (n *Notifier) Serve(ctx context.Context) error {
	var looks <-chan time.Time // no Round (in tests): no looks
	if n.cfg.Round > 0 {
		tick := time.NewTicker(n.cfg.Round)
		defer tick.Stop()
		looks = tick.C
	}
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
		case <-n.cfg.Changes.C():
		case <-looks:
		case <-due:
		}
	}
}

// process follows every subject in the latest snapshot as of now, and
// returns when it must look again if nothing changes before (zero: only a
// change can make it act).
func (n *Notifier) process(now time.Time) time.Time {
	if held := n.pauses.look(now); held > 0 {
		// Its timers fired late, all at once; its view and the relays it
		// holds are from before. Listen again, as after a start.
		n.quietUntil = later(n.quietUntil, now.Add(n.cfg.Fresh))
		n.cfg.Log.Info().Int64("duration_ms", held.Milliseconds()).
			Msg("this node was held up (paused, suspended or starved of CPU); listening again before it says anything")
	}
	snap := n.cfg.State.Snapshot()
	if snap.Isolated() {
		n.wasIsolated = true
	} else if n.wasIsolated {
		// Back: what the others announced meanwhile comes in the next
		// relays, and this node's own view takes a round or two to be
		// right again; until then, act on nothing, as after a start.
		n.wasIsolated, n.quietUntil = false, later(n.quietUntil, now.Add(n.cfg.Fresh))
	}
	listening := n.listening && n.listen(snap, now)
	n.tellSilences(snap)
	var h heard
	if n.cfg.Policy.shared() {
		h = hear(snap, n.cfg.Node, n.cfg.Fresh, now)
		n.passOn(h)
		h.dropEnded(n.ended, n.cfg.Round)
	}
	var wake time.Time
	for v := range snap.Verdicts().All() {
		j := n.cfg.Policy.judge(snap, v, now)
		wake = earliest(wake, n.follow(snap, j, h, now))
		if e, ok := snap.Entry(v.Name()); ok && e.Kind() == domain.KindTarget {
			wake = earliest(wake, n.followCert(snap, e, h, now))
		}
	}
	if now.Before(n.quietUntil) {
		wake = earliest(wake, n.quietUntil)
	}
	// The pass that first hears from everyone still yields what it resumed
	// to a node that holds it: only after it does this node's word count.
	n.listening = listening
	n.publish(snap, now)
	return wake
}

// listenFor bounds the listening after a start, in units of Fresh: a peer
// that this node's restored view shows up but that does not relay (it went
// meanwhile) holds it up no longer.
const listenFor = 2

// listen keeps a node that has just started quiet until it has had a
// relay from every peer it sees up, not only for Fresh: in a rolling
// restart the others relay to it only once their probes see it up again,
// a round or two after it starts, and the state file it resumed from may
// be behind on an outage another node took over meanwhile (its reminders,
// its end). A reminder sent before that word arrives would be a second.
// Meanwhile what it announced before it stopped is its own only if no
// other node holds it now (see resumed): were it to claim it back at once
// by name, the node that took it over would yield, and the reminders it
// sent would be sent again.
// It reports whether it listens on after this pass.
func (n *Notifier) listen(snap *domain.Snapshot, now time.Time) bool {
	bound := n.cfg.Now.Add(listenFor * n.cfg.Fresh)
	if !now.Before(bound) || heardFromAll(snap, n.cfg.Now) {
		return false
	}
	n.quietUntil = later(n.quietUntil, earliest(bound, now.Add(n.cfg.Round)))
	return true
}

// resumed reports whether this node holds e only as its state file said,
// and is still listening after its start: it says nothing of e in its
// relays yet, and yields it to a node that holds it now (see listen).
func (n *Notifier) resumed(e *episode) bool {
	return n.listening && e.holdsIt() && e.opened.IsZero()
}

// heardFromAll reports whether a relay came after since from every peer
// the snapshot's own view sees up.
func heardFromAll(snap *domain.Snapshot, since time.Time) bool {
	for e := range snap.Peers() {
		if e.View().Status != domain.StatusUp {
			continue
		}
		if r, ok := snap.Relay(e.Name()); !ok || !r.ReceivedAt().After(since) {
			return false
		}
	}
	return true
}

// follow acts on one subject's judgement: it ends the episode the
// judgement no longer shows, begins the one it shows, hears who announced
// it, takes this node's turn when it comes, and sends what is due. It
// returns when it must look again.
func (n *Notifier) follow(snap *domain.Snapshot, j judgement, h heard, now time.Time) time.Time {
	name := j.subject.Name
	n.noteOwnView(j)
	if j.held {
		return n.hold(j, now)
	}
	if wake, settled := n.settle(snap, j, h, now); !settled {
		return wake // the subject's next episode waits for the end of the last
	}
	e := n.episodes[name]
	if end, ok := h.ends(e); ok && (e.holdsIt() || e.state == orphaned) {
		// It came back from a pause or a restart holding what another
		// node took over and ended meanwhile: it is over.
		n.logEpisode(n.cfg.Log.Info(), e).Time("ended", end.Ended).Msg("another node ended it while this node was away; no second message")
		n.cfg.Metrics.MessageSuppressed(endKind(e.kind), SuppressedElsewhere)
		delete(n.episodes, name)
		e = nil
	}
	if e != nil && e.kind != j.kind {
		if now.Before(n.quietUntil) && e.announced() {
			return n.quietUntil // not yet heard from everyone: do not end what others may still hold
		}
		n.end(e, j.kind, now)
		delete(n.episodes, name)
		e = n.resume(e, j, now)
	}
	if j.kind == "" {
		delete(n.heldDown, name)
		return time.Time{}
	}
	if e == nil {
		e = &episode{subject: j.subject, kind: j.kind, began: now, since: now}
		if j.kind == domain.AnnouncedDown && !j.ownSince.IsZero() && j.ownSince.Before(now) {
			e.since = j.ownSince // the downtime counts from this node's own down
		}
		if end, ok := n.ended[name]; ok && e.since.Before(end.Ended) && !end.Ended.After(now) {
			// But not from before the cluster ended the last one: this
			// node's own view may have stayed down across both.
			e.since = end.Ended
		}
		if m, ok := n.heldDown[name]; ok && j.kind == domain.AnnouncedDown {
			// Down through a spell of maintenance that is over: the
			// message says so, and a peer that stopped on purpose is
			// down since it stopped.
			e.after = m
			if m.Reason == domain.MaintenanceLeave {
				e.since = m.From
			}
		}
		delete(n.heldDown, name)
		n.episodes[name] = e
	}
	e.quiet = false
	if snap.Isolated() && e.state == waiting {
		e.suspect = true
	}
	n.dedup(snap, e, h, now)
	if e.state == waiting || e.state == orphaned {
		turn := n.election.turn(e, j, n.quietUntil, now)
		if now.Before(turn) {
			return turn
		}
		if snap.Isolated() {
			return time.Time{} // no turn while cut off; the end of the isolation wakes it
		}
		n.takeTurn(e, j, now)
	}
	if e.announced() {
		// The outage, announced here or elsewhere, took the place of the
		// partial episode it interrupted for good: its end ends both.
		delete(n.interrupted, name)
	}
	if now.Before(n.quietUntil) {
		return n.quietUntil // nothing is said while it listens: not even a reminder overdue
	}
	n.remind(e, j, now, snap.Isolated())
	if e.state == heldElsewhere {
		return earliest(e.heardAt.Add(n.cfg.Fresh+time.Nanosecond), e.next) // when its word goes stale
	}
	return e.next
}

// resume follows what comes after ended, an episode the judgement j no
// longer shows, and returns the episode that goes on, if any. A partial
// episode that becomes an outage is kept aside; if the outage then ends
// before any node announced it (a watcher's own probes missed for a
// moment, under load), the partial episode goes on as it was: the chat
// reads one partial message and one end, not a second partial message
// for the same trouble, nor a partial message that never ends.
func (n *Notifier) resume(ended *episode, j judgement, now time.Time) *episode {
	name := j.subject.Name
	if ended.kind == domain.AnnouncedPartial && j.kind == domain.AnnouncedDown {
		n.interrupted[name] = ended
		return nil
	}
	p := n.interrupted[name]
	delete(n.interrupted, name)
	if p == nil || ended.announced() {
		return nil // the down message said more, and its end ends both
	}
	switch {
	case j.kind == p.kind:
		n.logEpisode(n.cfg.Log.Info(), p).Msg("an outage too short to announce interrupted it; the partial episode goes on")
	case now.Before(n.quietUntil) && p.announced():
		// Over, but not yet heard from everyone: it is ended after the
		// quiet, as any episode is (follow).
	default:
		n.end(p, j.kind, now)
		return nil
	}
	n.episodes[name] = p
	return p
}

// hold follows a subject in maintenance: nothing begins and nothing is
// said while it lasts. An episode announced before goes on quietly (its
// reminders wait, its alert is withdrawn); one that is over meanwhile ends
// without a message. A subject found down is remembered, so that if the
// spell ends with it still down, the down message says so then. It
// returns when the spell ends.
func (n *Notifier) hold(j judgement, now time.Time) time.Time {
	name, m := j.subject.Name, j.maintenance
	reason := string(m.Reason)
	delete(n.interrupted, name)
	if e := n.episodes[name]; e != nil {
		if e.kind == j.kind {
			e.quiet = true
			return m.Until
		}
		n.cfg.Metrics.MessageSuppressed(endKind(e.kind), reason)
		if e.holdsIt() {
			n.ended[name] = domain.Ending{Kind: e.kind, Since: e.since, Ended: now, Origin: e.origin}
		}
		n.logEpisode(n.cfg.Log.Info(), e).Str("maintenance", reason).Msg("over while in maintenance; no message")
		delete(n.episodes, name)
	}
	switch j.kind {
	case domain.AnnouncedDown:
		if _, was := n.heldDown[name]; !was {
			n.cfg.Metrics.MessageSuppressed(domain.MessageDown, reason)
			n.cfg.Log.Info().Str(j.subject.Kind.String(), name).Str("maintenance", reason).Time("until", m.Until).
				Msg("down while in maintenance: no message unless it is still down when that ends")
		}
		n.heldDown[name] = m
	case "":
		delete(n.heldDown, name)
	}
	return m.Until
}

// tellSilences tells the chat of each silence made on this node since it
// started, once, so that the team sees who muted what: the node that took
// it tells, the others learn of it in the relays and say nothing.
func (n *Notifier) tellSilences(snap *domain.Snapshot) {
	silences := snap.Silences()
	maps.DeleteFunc(n.silencesTold, func(id string, _ bool) bool { // let go with the silence
		return !slices.ContainsFunc(silences, func(s domain.Silence) bool { return s.ID == id })
	})
	for _, s := range silences {
		if s.Node != n.cfg.Node || !s.Start.After(n.cfg.Now) || n.silencesTold[s.ID] {
			continue
		}
		n.silencesTold[s.ID] = true
		n.send(silenceMessage(s, s.Start))
		n.cfg.Log.Info().Str("silence", s.ID).Str("matcher", s.Matcher).Msg("told the chat of a silence")
	}
}

// passOn keeps the endings heard that are newer than those this node
// keeps, to say them in its relays in turn: the node that sent a recovery
// may stop before a node that held the outage comes back, and the end
// must reach that node all the same.
//
// The same end (the same origin) coming back is not taken: each relay on
// the way moves its times by how late it came, and an end echoed between
// two nodes would creep later at every round trip until it closed the
// next outage.
func (n *Notifier) passOn(h heard) {
	for name, e := range h.ended {
		was, ok := n.ended[name]
		if ok && (!e.Origin.IsZero() && e.Origin.Equal(was.Origin) || !e.Ended.After(was.Ended)) {
			continue
		}
		n.ended[name] = e
	}
}

// dedup brings e up to date with the announcements heard: another node's
// puts the episode in its hands; the silence of the one that held it
// withdraws it, or orphans it for the next node to take over.
func (n *Notifier) dedup(snap *domain.Snapshot, e *episode, h heard, now time.Time) {
	if !n.cfg.Policy.shared() {
		return
	}
	var relayed time.Time
	if r, ok := snap.Relay(e.by); ok && now.Sub(r.ReceivedAt()) <= n.cfg.Fresh {
		relayed = r.ReceivedAt()
	}
	ev, a, ok := h.event(e, n.cfg.Node, relayed, n.cfg.Fresh, now)
	if !ok {
		return
	}
	if ev == heardAfter && n.resumed(e) {
		// Resumed from the state file while it listens after a start: the
		// node that holds it now took it over while this one was away, and
		// has sent what fell due since. It holds it on.
		ev = heardFirst
	}
	was := e.state
	if !n.move(e, ev) {
		// This node holds it and comes first by name: it keeps it, and
		// the reminders the other sent meanwhile count as sent.
		e.sent = max(e.sent, a.Reminders)
		return
	}
	switch ev {
	case announcerGone:
		e.lost = e.heardAt.Add(n.cfg.Fresh)
		return
	case announcerQuiet:
		return
	}
	e.by, e.heardAt, e.lost = a.node, a.at, time.Time{}
	if e.opened.IsZero() {
		e.opened = now
	}
	e.since, e.sent, e.origin = a.Since, a.Reminders, a.Origin
	if was != heldElsewhere && was != withdrawn {
		e.left = n.cfg.Followups.dueBy(e.since, now) // the slots before are not this node's to count
	}
	switch was {
	case waiting:
		n.cfg.Metrics.MessageSuppressed(startKind(e.kind), SuppressedElsewhere)
		n.logEpisode(n.cfg.Log.Debug(), e).Str("by", e.by).Msg("announced by another node; leaving it the messages")
	case announcedHere:
		n.logEpisode(n.cfg.Log.Info(), e).Str("by", e.by).Msg("another node announced it too; leaving it the messages")
	}
}

// move takes e by ev to the state next says, logging the move; false when
// ev means nothing in e's state.
func (n *Notifier) move(e *episode, ev episodeEvent) bool {
	to, ok := next(e.state, ev)
	if !ok {
		return false
	}
	if to != e.state {
		n.logEpisode(n.cfg.Log.Debug(), e).Stringer("from", e.state).Stringer("to", to).Stringer("event", ev).Msg("episode moved")
	}
	e.state = to
	return true
}

// takeTurn announces the episode; or takes over its announcement, without
// a second message, from an announcer gone silent; or drops one that
// waited while this node was cut off and that the cluster does not
// confirm.
func (n *Notifier) takeTurn(e *episode, j judgement, now time.Time) {
	switch {
	case e.state == orphaned:
		n.logEpisode(n.cfg.Log.Info(), e).Str("from", e.by).Msg("the announcer went silent; taking its announcement over")
		n.move(e, turn)
		e.by, e.lost = "", time.Time{}
		return
	case e.suspect && !j.confirmed:
		n.move(e, turnUnconfirmed)
		n.cfg.Metrics.MessageSuppressed(startKind(e.kind), SuppressedIsolated)
		n.logEpisode(n.cfg.Log.Info(), e).Msg("a message held while this node was cut off is dropped: the cluster does not confirm it")
		return
	}
	n.move(e, turn)
	e.opened = now
	if e.kind == domain.AnnouncedDown {
		n.send(downMessage(e.subject, e.after, e.since, j.downFrom, j.answering(), n.cfg.Policy.nodes, now))
	} else {
		e.since = e.began
		n.send(partialMessage(e.subject, j.downFrom, j.upFrom, now))
	}
	e.origin = domain.OriginOf(e.since)
	if e.after.Reason != "" {
		// Down since before the message: the reminders count from the
		// message, not from slots that passed in maintenance.
		e.sent = n.cfg.Followups.dueBy(e.since, now)
	}
	if e.suspect {
		// The reminders that fell due while it was held are moot now.
		due := n.cfg.Followups.dueBy(e.since, now)
		n.cfg.Metrics.MessagesSuppressed(domain.MessageReminder, SuppressedIsolated, due-e.sent)
		e.sent = due
	}
}

// remind sends an outage's reminder when it is due and this node holds
// the announcement, or counts the reminders left to the node that does,
// and sets when to look again. A reminder missed (the node was busy, or
// took over from a node that died before sending it) is sent once, not in
// a burst, and the chain moves on to its next slot in the future.
func (n *Notifier) remind(e *episode, j judgement, now time.Time, isolated bool) {
	gaps := n.cfg.Followups
	switch {
	case e.kind != domain.AnnouncedDown:
		e.next = time.Time{}
	case e.holdsIt():
		if !gaps.due(e.since, e.sent).After(now) {
			if isolated {
				n.cfg.Metrics.MessageSuppressed(domain.MessageReminder, SuppressedIsolated)
			} else {
				n.send(reminderMessage(e.subject, len(j.downFrom), j.answering(), n.cfg.Policy.nodes, now.Sub(e.since), now))
			}
			e.sent = max(e.sent+1, gaps.dueBy(e.since, now))
		}
		e.next = gaps.due(e.since, e.sent)
	case e.leftToOther() || e.state == dropped:
		reason := SuppressedElsewhere
		if e.state == dropped {
			reason = SuppressedIsolated
		}
		if due := gaps.dueBy(e.since, now); due > e.left {
			n.cfg.Metrics.MessagesSuppressed(domain.MessageReminder, reason, due-e.left)
			e.left = due
		}
		e.next = gaps.due(e.since, e.left)
	default:
		e.next = time.Time{} // waiting for its turn, which wakes it
	}
}

// end closes an episode the judgement no longer shows (it shows becomes,
// or nothing). Its announcer says it is over; the others count what they
// left to it, or what they never said. A partial episode that turns into
// an outage ends quietly: the down message says more.
func (n *Notifier) end(e *episode, becomes domain.AnnouncementKind, now time.Time) {
	if e.kind == domain.AnnouncedPartial && becomes == domain.AnnouncedDown {
		return
	}
	over := endKind(e.kind)
	switch e.state {
	case announcedHere:
		if e.kind == domain.AnnouncedDown {
			back := now
			if !e.back.IsZero() {
				back = e.back
			}
			n.send(recoveryMessage(e.subject, back.Sub(e.since), now))
		} else {
			n.send(partialOverMessage(e.subject, now.Sub(e.since), now))
		}
		// Said in the relays for a while, so that a node that held it
		// before and comes back does not end it again.
		n.ended[e.subject.Name] = domain.Ending{Kind: e.kind, Since: e.since, Ended: now, Origin: e.origin}
	case heldElsewhere, orphaned, withdrawn:
		// Unless another node is heard ending it, this node owes its end
		// (see owed.go).
		n.owe(e, now)
	case dropped:
		n.cfg.Metrics.MessageSuppressed(over, SuppressedIsolated)
	case waiting:
		if e.kind == domain.AnnouncedPartial && now.Before(e.began.Add(n.cfg.PartialAfter)) {
			return // too short to be told of at all
		}
		reason := SuppressedOver
		if e.suspect {
			// Over before this node was back: neither message is worth sending.
			reason = SuppressedIsolated
			n.cfg.Metrics.MessageSuppressed(over, reason)
		}
		n.cfg.Metrics.MessageSuppressed(startKind(e.kind), reason)
		n.logEpisode(n.cfg.Log.Debug(), e).Msg("over before this node's turn to announce it, and nobody had")
	}
}

// noteOwnView counts the down messages this node's own view would have
// sent alone and the alerts' verdict did not confirm: once a local outage
// ends that the verdict never called down while it lasted.
func (n *Notifier) noteOwnView(j judgement) {
	name := j.subject.Name
	d, was := n.ownDown[name]
	if !j.ownSince.IsZero() {
		if !was || !d.since.Equal(j.ownSince) {
			d = ownDown{since: j.ownSince}
		}
		d.confirmed = d.confirmed || j.kind == domain.AnnouncedDown
		n.ownDown[name] = d
		return
	}
	if was {
		delete(n.ownDown, name)
		if !d.confirmed {
			n.cfg.Metrics.MessageSuppressed(domain.MessageDown, SuppressedUnconfirmed)
			n.cfg.Log.Debug().Str(j.subject.Kind.String(), name).Msg("this node saw it down, the cluster never did: no message")
		}
	}
}

// send hands a message to the channels, counts it, and logs it: every
// message this node says has one line, so that a duplicate or a gap can
// be traced from the logs of the nodes.
func (n *Notifier) send(m domain.Message) {
	n.cfg.Out.Enqueue(m)
	n.cfg.Metrics.MessageSent(m.Kind)
	n.cfg.Log.Info().Str(m.Subject.Kind.String(), m.Subject.Name).Str("kind", m.Kind.String()).Str("text", m.Text).Msg("sent to the chat channels")
}

// logEpisode adds what names an episode to a log line.
func (n *Notifier) logEpisode(ev *zerolog.Event, e *episode) *zerolog.Event {
	return ev.Str(e.subject.Kind.String(), e.subject.Name).Str("kind", string(e.kind))
}

// publish makes this pass's announcements, record and alerts readable by
// the relay sender, the state file writer and the Alertmanager posters
// without waiting on Serve.
func (n *Notifier) publish(snap *domain.Snapshot, now time.Time) {
	maps.DeleteFunc(n.ended, func(_ string, e domain.Ending) bool { return now.Sub(e.Ended) >= domain.EndingsKept })
	announced := map[string]domain.Announcement{}
	record := domain.AlertRecord{Ended: maps.Clone(n.ended), CertsTold: maps.Clone(n.told)}
	alerts := AlertSet{Elsewhere: map[string]bool{}, Frozen: snap.Isolated()}
	for _, name := range slices.Sorted(maps.Keys(n.episodes)) {
		e := n.episodes[name]
		a := e.announcement()
		switch {
		case e.holdsIt():
			if n.cfg.Policy.shared() && !n.resumed(e) {
				announced[name] = a
			}
			record.Announcements = append(record.Announcements, domain.AnnouncementRecord{Subject: e.subject, By: n.cfg.Node, Announcement: a})
			if !alerts.Frozen && !e.quiet { // in maintenance: its alert resolves
				alerts.Mine = append(alerts.Mine, n.alert(snap, e))
			}
		case e.announced() && e.by != "":
			record.Announcements = append(record.Announcements, domain.AnnouncementRecord{Subject: e.subject, By: e.by, Announcement: a})
			alerts.Elsewhere[alertKey(alertName(e.kind, e.subject.Kind), name)] = true
		}
	}
	n.alerts.Store(&alerts)
	if old := n.record.Load(); old != nil && !sameRecord(*old, record) && n.cfg.Recorded != nil {
		defer n.cfg.Recorded.Notify()
	}
	n.record.Store(&record)
	var said domain.Said
	if n.cfg.Policy.shared() {
		said = domain.Said{Announced: announced, Ended: record.Ended, Told: record.CertsTold}
	}
	if old := n.said.Load(); old != nil && !maps.Equal(old.Announced, said.Announced) && n.cfg.Announcing != nil {
		defer n.cfg.Announcing.Notify()
	}
	n.said.Store(&said)
}

// alert is the Alertmanager alert of an episode this node holds, its
// summary the message that opened it as it would read now.
func (n *Notifier) alert(snap *domain.Snapshot, e *episode) Alert {
	v, _ := snap.Verdicts().Of(e.subject.Name)
	j := n.cfg.Policy.judge(snap, v, time.Now())
	m := downMessage(e.subject, e.after, e.since, j.downFrom, j.answering(), n.cfg.Policy.nodes, e.since)
	if e.kind == domain.AnnouncedPartial {
		m = partialMessage(e.subject, j.downFrom, j.upFrom, e.since)
	}
	return newAlert(e.kind, e.since, m, j)
}

// startKind is the message that opens an episode of kind k.
func startKind(k domain.AnnouncementKind) domain.MessageKind {
	if k == domain.AnnouncedPartial {
		return domain.MessagePartial
	}
	return domain.MessageDown
}

// endKind is the message that ends an episode of kind k.
func endKind(k domain.AnnouncementKind) domain.MessageKind {
	if k == domain.AnnouncedPartial {
		return domain.MessagePartialOver
	}
	return domain.MessageRecovery
}

// pauses tells a pause of the whole process (SIGSTOP, a VM moved, a laptop
// suspended, a long GC pause, a starved CPU) from a quiet spell: the engine
// looks at least once a round, so a look that comes more than a round late
// by the monotonic clock, or by the wall clock (which goes on through a
// suspend, when the monotonic one stops), was held up.
type pauses struct {
	round time.Duration
	last  time.Time
}

// look notes a look at now and returns how long the process was held up
// before it, or zero when it was not.
func (p *pauses) look(now time.Time) time.Duration {
	gap := max(now.Sub(p.last), now.Round(0).Sub(p.last.Round(0)))
	p.last = now
	if p.round <= 0 || gap <= 2*p.round {
		return 0
	}
	return gap
}
