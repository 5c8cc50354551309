package actors

import (
	"time"

	"github.com/dupunkto/mesh/actors/domain"
)

// An episode announced by another node can end while that node is silent
// (held up, dead or cut off), before the next node took it over: the
// announcer cannot send its end, and the others had left it to it. The end
// is then owed. Each node that left it keeps the ended episode and listens
// for the announcer: if the announcer (or a node that took over) says it
// ended, or relays on without it, it was told; if the announcer's word
// goes stale, the election picks who sends the end, as for a takeover.
// The subject's next episode waits until the owed end is settled, so that
// the chat reads down and recovery in turn.

// owe keeps e, which ended as of now while another node held it (or had
// withdrawn it without being heard to end it), as owed, unless an ending
// already heard closes it.
func (n *Notifier) owe(e *episode, now time.Time) {
	if end, ok := n.ended[e.subject.Name]; ok && closes(end, e) {
		n.cfg.Metrics.MessageSuppressed(endKind(e.kind), SuppressedElsewhere)
		return
	}
	e.ended = now
	if e.state == withdrawn {
		// Its announcer relays on without it and never said it ended: it
		// will not send its end.
		n.move(e, announcerGone)
		e.lost = now
	}
	n.owed[e.subject.Name] = e
}

// settle follows the owed end of j's subject, if there is one, and
// reports whether it is settled: heard told, or sent by this node. While
// it is not, it returns when to look again.
func (n *Notifier) settle(snap *domain.Snapshot, j judgement, h heard, now time.Time) (wake time.Time, settled bool) {
	o := n.owed[j.subject.Name]
	if o == nil {
		return time.Time{}, true
	}
	if _, ok := h.ends(o); ok {
		return n.forgive(o, "another node ended it"), true
	}
	// An announcement of the same episode (begun before it ended): its
	// announcer, back, or a node that took it over, holds it still, and
	// will end it, or saw it go on.
	if a, ok := h.first(o.subject.Name, o.kind); ok && !a.Since.After(o.ended) {
		if o.state != heldElsewhere || a.node != o.by {
			n.logEpisode(n.cfg.Log.Debug(), o).Str("by", a.node).Msg("an ended episode another node still announces: leaving it its end")
		}
		o.state, o.by, o.heardAt, o.lost = heldElsewhere, a.node, a.at, time.Time{}
		return o.heardAt.Add(n.cfg.Fresh + time.Nanosecond), false
	}
	if now.Before(n.quietUntil) {
		// Back from a start, a pause or an isolation: the relays it holds
		// are from before, and the next ones may say it all.
		return n.quietUntil, false
	}
	if o.state == heldElsewhere {
		r, ok := snap.Relay(o.by)
		relaysOn := ok && r.ReceivedAt().After(o.heardAt) && now.Sub(r.ReceivedAt()) <= n.cfg.Fresh
		if !relaysOn && now.Sub(o.heardAt) <= n.cfg.Fresh {
			return o.heardAt.Add(n.cfg.Fresh + time.Nanosecond), false
		}
		// Its announcer relays on without it, and without its end, or
		// went silent: it will not send the end.
		n.move(o, announcerGone)
		o.lost = earliest(o.heardAt.Add(n.cfg.Fresh), now)
	}
	turn := n.election.turn(o, j, n.quietUntil, now)
	if now.Before(turn) {
		return turn, false
	}
	if snap.Isolated() {
		return time.Time{}, false // no turn while cut off; the end of the isolation wakes it
	}
	delete(n.owed, o.subject.Name)
	n.logEpisode(n.cfg.Log.Info(), o).Str("from", o.by).Msg("nobody told the end of an episode its announcer left; sending it")
	if o.kind == domain.AnnouncedDown {
		n.send(recoveryMessage(o.subject, o.ended.Sub(o.since), now))
	} else {
		n.send(partialOverMessage(o.subject, o.ended.Sub(o.since), now))
	}
	n.ended[o.subject.Name] = domain.Ending{Kind: o.kind, Since: o.since, Ended: o.ended, Origin: o.origin}
	return time.Time{}, true
}

// forgive drops an owed end that another node told, and counts it left.
func (n *Notifier) forgive(o *episode, why string) time.Time {
	delete(n.owed, o.subject.Name)
	n.cfg.Metrics.MessageSuppressed(endKind(o.kind), SuppressedElsewhere)
	n.logEpisode(n.cfg.Log.Debug(), o).Msg("an ended episode's end was told: " + why)
	return time.Time{}
}
