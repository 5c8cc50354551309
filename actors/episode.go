package actors

import (
	"slices"
	"time"

	"github.com/dupunkto/mesh/actors/domain"
)

// episode is one peer's trouble as this node follows it in cluster mode:
// an outage (the cluster's verdict on the peer is down) or a partial one
// (some of its observers cannot reach it, too few to call it down). Each
// is announced once in the whole cluster, by the node the election picks,
// which then sends what follows; the others stay quiet.
type episode struct {
	subject domain.Subject
	kind    domain.AnnouncementKind
	// began is when this node saw the episode begin: the election counts
	// from here (after PartialAfter, for a partial one).
	began time.Time
	// since is when the episode began as announced: the downtime in
	// reminders and recoveries counts from here, whoever sends them.
	since time.Time

	// announced: a message went out for it, from this node or another.
	announced bool
	// mine: this node holds the announcement and sends what follows.
	mine bool
	// sent is how many reminders went out: this node's own count when
	// mine, else the announcer's as last heard, which a node that takes
	// over carries on from.
	sent int
	// left is how many reminders this node left to the announcer, counted
	// as their slots pass while another node holds the announcement.
	left int
	// next is when the next reminder is due (outages only): to send it,
	// or to count it left to the announcer.
	next time.Time

	// by is the other node last heard announcing it, and heardAt when the
	// relay that said so arrived.
	by      string
	heardAt time.Time
	// withdrawn: the announcer relays on but no longer announces it: it
	// saw the episode end and said so. This node stays quiet.
	withdrawn bool
	// lost is when the announcer's word went stale (it stopped relaying:
	// dead or cut off); zero while it holds. The next node takes over.
	lost time.Time

	// pos is this node's place in the election when last looked at, and
	// moved when it last moved forward: a node before it went silent, and
	// every node after it moved forward at about the same moment, so the
	// waits count from there, else the next two would be a slot apart no
	// longer.
	pos   int
	moved time.Time
}

// place notes this node's place in the election as of now and returns it.
func (e *episode) place(pos int, now time.Time) int {
	if pos < e.pos {
		e.moved = now
	}
	e.pos = pos
	return pos
}

// holder is a fresh announcement of a peer by another node.
type holder struct {
	node string
	at   time.Time // when the relay that carries it arrived
	domain.Announcement
}

// episodeKind says which episode, if any, a verdict makes of its peer.
func episodeKind(v domain.Verdict) (domain.AnnouncementKind, bool) {
	switch {
	case v.Status() == domain.ClusterDown:
		return domain.AnnouncedDown, true
	case len(v.DownFrom()) > 0:
		return domain.AnnouncedPartial, true
	}
	return "", false
}

// position is this node's place in the election of the node that announces
// an episode of v's peer: how many of the peer's observers (those that see
// it up or down) have a name before this node's. The first announces; each
// other waits its place times a slot (see ClusterNotifier.turn), and
// announces only if no announcement has reached it by then.
//
// Observers that see the peer up count too. Nodes notice an outage up to a
// round apart; one that is a probe behind still shows the peer up, and if
// it were skipped, the node after it would announce at once and the two
// would both send a down message. Counting it costs a slot of delay in the
// rare case it really does see the peer up.
func position(v domain.Verdict, node string) int {
	n := 0
	for _, names := range [][]string{v.DownFrom(), v.UpFrom()} {
		for _, o := range names {
			if o < node {
				n++
			}
		}
	}
	return n
}

// hear brings the episode up to date with the announcements of its peer
// held in fresh relays (holders, by name), and with the silence of the
// announcer it knew of. relayed is when the announcer's latest relay
// arrived, if it is fresh. It reports whether a down or partial message
// this node might have sent was left to another node, just now.
func (e *episode) hear(self string, holders []holder, relayed time.Time, fresh time.Duration, now time.Time) (leftToOther bool) {
	holders = slices.DeleteFunc(slices.Clone(holders), func(h holder) bool { return h.Kind != e.kind })
	if len(holders) > 0 {
		h := holders[0]
		if e.mine && self < h.node {
			return false // two announced it (a partition healed): the first name keeps it, the other yields
		}
		leftToOther = !e.announced
		e.mine, e.announced, e.withdrawn, e.lost = false, true, false, time.Time{}
		e.by, e.heardAt = h.node, h.at
		e.since, e.sent = h.Since, h.Reminders
		return leftToOther
	}
	if e.mine || e.by == "" || e.withdrawn || !e.lost.IsZero() {
		return false
	}
	switch {
	case relayed.After(e.heardAt):
		e.withdrawn = true // it relays on without the announcement
	case now.Sub(e.heardAt) > fresh:
		e.lost = e.heardAt.Add(fresh)
	}
	return false
}

// held reports whether another node holds the announcement: this node
// must stay quiet.
func (e *episode) held() bool {
	return e.announced && !e.mine && (e.withdrawn || e.lost.IsZero())
}
