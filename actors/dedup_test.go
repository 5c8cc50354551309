package actors

import (
	"testing"
	"time"

	"github.com/dupunkto/mesh/actors/domain"
)

// What the relays say was announced: only fresh relays, never this node's
// own word, never a node's word on itself; each subject's announcers in
// name order; and the certificates told of.
func TestHearingTakesOnlyFreshWordOfOthers(t *testing.T) {
	down := map[string]domain.Announcement{"e": {Kind: domain.AnnouncedDown, Since: t0}, "c": {Kind: domain.AnnouncedDown, Since: t0}}
	relay := func(at time.Time) *domain.RelayCopy {
		return domain.NewRelayCopy(at, nil).Saying(domain.Said{Announced: down, Told: map[string]string{"https://shop.example/": "aa"}}, time.Time{})
	}
	snap := domain.NewSnapshot("me", nil, map[string]*domain.RelayCopy{
		"c": relay(t0), "b": relay(t0), "me": relay(t0), "stale": relay(t0.Add(-time.Hour)),
	})
	h := hear(snap, "me", time.Minute, t0)
	if a := h.announcements["e"]; len(a) != 2 || a[0].node != "b" || a[1].node != "c" {
		t.Fatalf("announcers of e %+v, want b then c", a)
	}
	if a := h.announcements["c"]; len(a) != 1 || a[0].node != "b" {
		t.Fatalf("announcers of c %+v, want b alone (c's word on itself is not taken)", a)
	}
	if !h.toldOf("https://shop.example/", "aa") || h.toldOf("https://shop.example/", "bb") {
		t.Fatalf("told %v", h.told)
	}
	if _, ok := h.first("e", domain.AnnouncedPartial); ok {
		t.Fatal("a down announcement was taken for a partial one")
	}
}

// The event the announcements heard make of an episode.
func TestHearingMakesAnEventOfAnEpisode(t *testing.T) {
	const fresh = time.Minute
	byB := heard{announcements: map[string][]holder{"e": {{node: "b", at: t0, Announcement: domain.Announcement{Kind: domain.AnnouncedDown}}}}}
	none := heard{}
	held := func() *episode {
		return &episode{subject: domain.Peer("e"), kind: domain.AnnouncedDown, state: heldElsewhere, by: "b", heardAt: t0}
	}
	for _, tc := range []struct {
		name    string
		h       heard
		e       *episode
		self    string
		relayed time.Time
		now     time.Time
		want    episodeEvent
		ok      bool
	}{
		{"an announcer before this node", byB, &episode{subject: domain.Peer("e"), kind: domain.AnnouncedDown}, "c", time.Time{}, t0, heardFirst, true},
		{"an announcer after it", byB, &episode{subject: domain.Peer("e"), kind: domain.AnnouncedDown}, "a", time.Time{}, t0, heardAfter, true},
		{"the announcer relays on without it", none, held(), "c", t0.Add(time.Second), t0.Add(time.Second), announcerQuiet, true},
		{"the announcer's word went stale", none, held(), "c", time.Time{}, t0.Add(fresh + time.Second), announcerGone, true},
		{"its word still fresh, nothing new", none, held(), "c", time.Time{}, t0.Add(fresh), 0, false},
		{"nobody holds it and nobody says anything", none, &episode{subject: domain.Peer("e"), kind: domain.AnnouncedDown}, "c", time.Time{}, t0, 0, false},
	} {
		got, _, ok := tc.h.event(tc.e, tc.self, tc.relayed, fresh, tc.now)
		if ok != tc.ok || (ok && got != tc.want) {
			t.Errorf("%s: %v %v, want %v %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}
