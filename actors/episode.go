package actors

import (
	"time"

	"github.com/dupunkto/mesh/actors/domain"
)

// episode is one subject's trouble as this node follows it: an outage
// (the verdict is down), a partial one (some of its observers cannot reach
// it, too few to call it down), or a certificate about to expire. Each is
// announced once, by the node the election picks (see election.go), which
// then sends what follows; the others stay quiet.
type episode struct {
	subject domain.Subject
	kind    domain.AnnouncementKind
	state   episodeState

	// began is when this node saw the episode begin: the election counts
	// from here (after PartialAfter, for a partial one).
	began time.Time
	// since is when the episode began as announced: the downtime in
	// reminders and recoveries counts from here, whoever sends them.
	since time.Time

	// sent is how many reminders went out: this node's own count when it
	// holds the announcement, else the announcer's as last heard, which a
	// node that takes over carries on from.
	sent int
	// left is how many reminders this node left to the announcer, counted
	// as their slots pass while another node holds the announcement.
	left int
	// next is when the next reminder is due (outages only): to send it,
	// or to count it left to the announcer.
	next time.Time

	// by is the other node last heard announcing it, and heardAt when the
	// relay that said so arrived; lost is when that word went stale.
	by      string
	heardAt time.Time
	lost    time.Time

	// suspect: this node was cut off from its network while the episode
	// waited for its turn, so its own view of the beginning says little.
	// It is announced only if the cluster's verdict confirms it.
	suspect bool

	// pos is this node's place in the election when last looked at, and
	// moved when it last moved forward (see election.go).
	pos   int
	moved time.Time

	// fingerprint is the certificate a certificate's episode is about.
	fingerprint string

	// ended is when the episode ended while another node held it: its end
	// is owed (see owed.go).
	ended time.Time
	// back is when this node saw the subject back, for an outage of its own
	// whose end a previous run saw and did not tell (Notifier.stillOn): its
	// recovery counts the downtime to then.
	back time.Time

	// origin names the episode as announced (domain.Announcement.Origin):
	// an ending closes it if it carries the same, or is of a later
	// episode (domain.Ending.Ends).
	origin time.Time

	// after is the spell of maintenance the subject was down through, if
	// the episode began when it ended: its down message says so.
	after domain.Maintenance
	// quiet: the subject is in maintenance now; the episode goes on
	// without a word, and without its Alertmanager alert.
	quiet bool

	// opened is when this node announced the episode or first heard it
	// announced; zero for one a state file kept. Where an ending or the
	// episode has no origin (an older node's), an ending heard counts for
	// the episode only if it came after: one that ended before is of an
	// earlier episode, whatever its times say (this node's own view may
	// have been down since before that one ended).
	opened time.Time
}

// episodeState is where an episode stands for this node. The states and
// the events that move between them are the whole of the election's
// bookkeeping: next is the one transition function.
type episodeState uint8

const (
	// waiting: begun, and neither has this node's turn come nor has any
	// node announced it.
	waiting episodeState = iota
	// announcedHere: this node announced it, or took it over, and sends
	// what follows.
	announcedHere
	// heldElsewhere: another node's fresh relay announces it; this node
	// stays quiet and counts what it leaves to that node.
	heldElsewhere
	// withdrawn: the announcer relays on but no longer announces it: it saw
	// the episode end and said so. This node stays quiet.
	withdrawn
	// orphaned: the announcer's word went stale (it stopped relaying: dead
	// or cut off). The next node in the election takes it over, without a
	// second message, when its turn comes.
	orphaned
	// dropped: its message waited while this node was cut off, and the
	// cluster did not confirm it afterwards: nothing more is said of it.
	dropped
)

func (s episodeState) String() string {
	return [...]string{"waiting", "announced_here", "held_elsewhere", "withdrawn", "orphaned", "dropped"}[s]
}

// episodeEvent is what can happen to an episode while it lasts (its end is
// not an event: the episode is simply over, see Notifier.end).
type episodeEvent uint8

const (
	// heardFirst: a fresh relay of a node whose name comes before this
	// node's announces the episode; heardAfter: of one after it.
	heardFirst episodeEvent = iota
	heardAfter
	// announcerQuiet: the announcer's relays go on without the
	// announcement. announcerGone: they stopped coming.
	announcerQuiet
	announcerGone
	// turn: this node's turn in the election came. turnUnconfirmed: it
	// came for a suspect episode the cluster does not confirm.
	turn
	turnUnconfirmed
)

func (ev episodeEvent) String() string {
	return [...]string{"heard_first", "heard_after", "announcer_quiet", "announcer_gone", "turn", "turn_unconfirmed"}[ev]
}

// next is the episode's transition function: the state event ev takes an
// episode in state s to, and false when ev means nothing in s.
//
//   - Another node's announcement puts any episode in its hands (a fresh
//     one again in the same hands), except one this node holds too: of two
//     announcers (a partition healed), the first by name keeps it, and the
//     other yields.
//   - The announcer going quiet matters only while it holds it; going
//     away, also once it withdrew an episode whose end it never told
//     (see owed.go).
//   - This node's turn comes only to what nobody holds: what waits, and
//     what an announcer left orphaned (taken over without a message).
func next(s episodeState, ev episodeEvent) (episodeState, bool) {
	switch {
	case ev == heardFirst:
		return heldElsewhere, true
	case ev == heardAfter && s != announcedHere:
		return heldElsewhere, true
	case ev == announcerQuiet && s == heldElsewhere:
		return withdrawn, true
	case ev == announcerGone && (s == heldElsewhere || s == withdrawn):
		return orphaned, true
	case ev == turn && (s == waiting || s == orphaned):
		return announcedHere, true
	case ev == turnUnconfirmed && s == waiting:
		return dropped, true
	}
	return s, false
}

// holdsIt reports whether this node sends what follows.
func (e *episode) holdsIt() bool { return e.state == announcedHere }

// leftToOther reports whether another node sends what follows: it
// announced the episode, and has not gone away.
func (e *episode) leftToOther() bool { return e.state == heldElsewhere || e.state == withdrawn }

// announced reports whether a message went out for it, from this node or
// another.
func (e *episode) announced() bool {
	return e.state != waiting && e.state != dropped
}

// announcement is what this node says of e in its relays and keeps in
// its state file.
func (e *episode) announcement() domain.Announcement {
	return domain.Announcement{Kind: e.kind, Since: e.since, Reminders: e.sent, Origin: e.origin}
}
