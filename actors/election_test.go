package actors

import (
	"testing"
	"time"

	"github.com/dupunkto/mesh/actors/domain"
)

// When each candidate's turn comes, in a cluster of a, b, c, d and e with
// a slot of 20 s, for an episode that began at t0 once the quiet start was
// over.
func TestTheElectionGivesEachCandidateItsTurn(t *testing.T) {
	const slot = 20 * time.Second
	el := func(self string) election {
		return election{policy: AlertPolicy(true, 5), self: self, slot: slot, partialAfter: 15 * time.Minute}
	}
	down := judgement{kind: domain.AnnouncedDown, downFrom: []string{"a", "b", "c", "d"}}
	straggler := judgement{kind: domain.AnnouncedDown, downFrom: []string{"a", "b", "d"}, upFrom: []string{"c"}}
	for _, tc := range []struct {
		name  string
		self  string
		e     episode
		j     judgement
		quiet time.Time
		want  time.Duration
	}{
		{"the first announces at once when every observer sees it down", "a", episode{kind: domain.AnnouncedDown}, down, time.Time{}, 0},
		{"the first waits a slot for an observer a probe behind", "a", episode{kind: domain.AnnouncedDown}, straggler, time.Time{}, slot},
		{"the second waits that slot and one more", "b", episode{kind: domain.AnnouncedDown}, down, time.Time{}, 2 * slot},
		{"the fourth, three more", "d", episode{kind: domain.AnnouncedDown}, down, time.Time{}, 4 * slot},
		{"an observer that sees it up counts as one before", "d", episode{kind: domain.AnnouncedDown}, straggler, time.Time{}, 4 * slot},
		{"a partial episode waits PARTIAL_AFTER, then the slots", "b", episode{kind: domain.AnnouncedPartial}, down, time.Time{}, 15*time.Minute + slot},
		{"a takeover counts from when the announcer went silent", "b", episode{kind: domain.AnnouncedDown, state: orphaned, lost: t0.Add(time.Hour)}, down, time.Time{}, time.Hour + slot},
		{"a certificate waits for nobody a probe behind", "a", episode{kind: certEpisode}, straggler, time.Time{}, 0},
		{"within the quiet start, the slots count from its end", "b", episode{kind: domain.AnnouncedDown}, down, t0.Add(time.Minute), time.Minute + 2*slot},
	} {
		e := tc.e
		e.began = t0
		if got := el(tc.self).turn(&e, tc.j, tc.quiet, t0).Sub(t0); got != tc.want {
			t.Errorf("%s: %s's turn after %v, want %v", tc.name, tc.self, got, tc.want)
		}
	}
}

// When a node before this one goes silent, the waits of those after it
// count again from that moment, so that the next two stay a slot apart.
func TestMovingForwardInTheElectionCountsFromThen(t *testing.T) {
	el := election{policy: AlertPolicy(true, 5), self: "c", slot: 20 * time.Second}
	e := &episode{kind: domain.AnnouncedDown, began: t0}
	if got := el.turn(e, judgement{downFrom: []string{"a", "b", "c"}}, time.Time{}, t0).Sub(t0); got != 60*time.Second {
		t.Fatalf("third of three: turn after %v, want 60s", got)
	}
	later := t0.Add(30 * time.Second)
	if got := el.turn(e, judgement{downFrom: []string{"b", "c"}}, time.Time{}, later).Sub(later); got != 40*time.Second {
		t.Fatalf("second once a went silent: turn %v after that, want 40s", got)
	}
}

// With node alerts this node is the only candidate: its turn is when the
// episode began.
func TestWithNodeAlertsTheTurnIsAtOnce(t *testing.T) {
	el := election{policy: AlertPolicy(false, 0), self: "c", slot: time.Minute}
	e := &episode{kind: domain.AnnouncedDown, began: t0}
	if got := el.turn(e, judgement{downFrom: []string{"a", "b", "c"}, upFrom: []string{"d"}}, time.Time{}, t0); !got.Equal(t0) {
		t.Fatalf("turn after %v, want at once", got.Sub(t0))
	}
}
