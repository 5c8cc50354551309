package actors

import (
	"time"

	"github.com/dupunkto/mesh/actors/domain"
)

// The election of the node that announces an episode, with no
// coordinator: every candidate follows the same verdict, takes its place
// among the subject's observers by name (Policy.place), and waits its turn;
// it announces only if no announcement has reached it by then (see
// dedup.go). A partition may duplicate a message, never miss one.

// certEpisode is the kind of a certificate's episode. It never travels as
// an announcement: a certificate told of is relayed as such (see
// Notifier.Told).
const certEpisode domain.AnnouncementKind = "cert"

// place notes this node's place in the election as of now and returns it.
// When a node before it went silent, every node after it moves forward at
// about the same moment, so the waits count from there: else the next two
// would be a slot apart no longer.
func (e *episode) place(pos int, now time.Time) int {
	if pos < e.pos {
		e.moved = now
	}
	e.pos = pos
	return pos
}

// election is when the candidates take their turns.
type election struct {
	policy Policy
	self   string
	// slot is how long a node waits for each node before it for that
	// node's announcement to reach it.
	slot time.Duration
	// partialAfter is how long a minority must see a subject down before
	// a partial episode is announced.
	partialAfter time.Duration
}

// turn is when this node announces e, or takes it over from an announcer
// gone silent, if nobody has by then. The waits count from when the
// episode began, or from the end of the quiet after this node's start (or
// isolation), whichever is later: episodes the nodes of a cluster started
// together find at once (a certificate already near its end) must still
// be a slot apart per node.
//
// An outage: the first node in the election waits for the observers that
// still see the subject up, which may be a probe behind, so that its
// message names every vantage point; at most a slot. Each other node waits
// a slot more than that per node before it: the first's wait, then a slot
// for its announcement to arrive. A partial episode has waited
// PARTIAL_AFTER already; a takeover sends no message; a certificate's
// warning names nobody: none of them waits for stragglers.
func (el election) turn(e *episode, j judgement, quietUntil, now time.Time) time.Time {
	pos := e.place(el.policy.place(j, el.self), now)
	from := later(later(e.began, e.moved), quietUntil)
	switch {
	case e.state == orphaned:
		from = later(from, e.lost)
	case e.kind == domain.AnnouncedPartial:
		from = later(from, e.began.Add(el.partialAfter))
	case e.kind == certEpisode:
	case el.policy.cluster() && (pos > 0 || len(j.upFrom) > 0):
		pos++
	}
	return from.Add(time.Duration(pos) * el.slot)
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
