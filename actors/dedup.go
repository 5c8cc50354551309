package actors

import (
	"maps"
	"slices"
	"time"

	"github.com/dupunkto/mesh/actors/domain"
)

// heard is what the other nodes say they announced, from the fresh relays
// of one snapshot: the step of the alert path that keeps a second node
// from announcing what one already did, or ending what one already ended.
// Its times are this node's clock's (domain.RelayCopy.Said).
type heard struct {
	// announcements are by subject name, each subject's in name order of
	// the announcing node.
	announcements map[string][]holder
	// ended are the latest ending heard of each subject, by name.
	ended map[string]domain.Ending
	// told are the certificates some node told of: fingerprints, by
	// target name.
	told map[string]map[string]bool
}

// holder is a fresh announcement of a subject by another node.
type holder struct {
	node string
	at   time.Time // when the relay that carries it arrived
	domain.Announcement
}

// hear gathers what the relays in snap that are fresh as of now say was
// announced, ended and told, by nodes other than self. A node's word on
// itself is not taken.
func hear(snap *domain.Snapshot, self string, fresh time.Duration, now time.Time) heard {
	h := heard{announcements: map[string][]holder{}, ended: map[string]domain.Ending{}, told: map[string]map[string]bool{}}
	for node, r := range snap.Relays() { // in name order
		if node == self || now.Sub(r.ReceivedAt()) > fresh {
			continue
		}
		said := r.Said()
		for _, name := range slices.Sorted(maps.Keys(said.Announced)) {
			if name != node {
				h.announcements[name] = append(h.announcements[name], holder{node: node, at: r.ReceivedAt(), Announcement: said.Announced[name]})
			}
		}
		for name, e := range said.Ended {
			if was, ok := h.ended[name]; name != node && (!ok || e.Ended.After(was.Ended)) {
				h.ended[name] = e
			}
		}
		for target, fingerprint := range said.Told {
			if h.told[target] == nil {
				h.told[target] = map[string]bool{}
			}
			h.told[target][fingerprint] = true
		}
	}
	return h
}

// dropEnded leaves out the announcements of episodes that one of ended
// closed: they began more than slack (a round) before that end. A node
// back from away relays what it held until it hears the end, and nobody
// must yield to that.
func (h heard) dropEnded(ended map[string]domain.Ending, slack time.Duration) {
	for name, end := range ended {
		h.announcements[name] = slices.DeleteFunc(h.announcements[name], func(a holder) bool {
			claim := a.Announcement
			claim.Since = claim.Since.Add(slack)
			return end.Ends(claim)
		})
	}
}

// first is the first node by name that announces an episode of kind about
// the subject of that name.
func (h heard) first(name string, kind domain.AnnouncementKind) (holder, bool) {
	for _, a := range h.announcements[name] {
		if a.Kind == kind {
			return a, true
		}
	}
	return holder{}, false
}

// event is what the announcements heard make of e, as this node sees it:
// another node announces it (heardFirst or heardAfter, by where that node
// comes by name), or the one that did relays on without it (announcerQuiet),
// or has stopped relaying (announcerGone); false when nothing changed.
// relayed is when the announcer's latest relay arrived, if it is fresh.
func (h heard) event(e *episode, self string, relayed time.Time, fresh time.Duration, now time.Time) (episodeEvent, holder, bool) {
	if a, ok := h.first(e.subject.Name, e.kind); ok {
		if a.node < self {
			return heardFirst, a, true
		}
		return heardAfter, a, true
	}
	if e.state != heldElsewhere {
		return 0, holder{}, false
	}
	switch {
	case relayed.After(e.heardAt):
		return announcerQuiet, holder{}, true
	case now.Sub(e.heardAt) > fresh:
		return announcerGone, holder{}, true
	}
	return 0, holder{}, false
}

// ends reports whether another node ended e, as announced, after it
// began and after this node announced it or heard it announced: an
// announcer ended it with its last message while this node was away
// (restarted, paused, suspended), and this node must not end it again.
func (h heard) ends(e *episode) (domain.Ending, bool) {
	if e == nil {
		return domain.Ending{}, false
	}
	end, ok := h.ended[e.subject.Name]
	return end, ok && closes(end, e)
}

// closes reports whether end closes e: by their origin when both carry
// one; else by the times, and then an end from before this node opened e
// is of an earlier episode, whatever the times say (this node's own view
// may have been down across both).
func closes(end domain.Ending, e *episode) bool {
	if !end.Ends(e.announcement()) {
		return false
	}
	return !end.Origin.IsZero() && !e.origin.IsZero() || end.Ended.After(e.opened)
}

// toldOf reports whether some node told of the certificate of that
// fingerprint on the target of that name.
func (h heard) toldOf(target, fingerprint string) bool { return h.told[target][fingerprint] }
