package actors

import (
	"fmt"
	"testing"
)

// The episode's transition function, whole: every state under every
// event, as a table a reader can check against the rules in episode.go.
func TestTheEpisodeMovesOnlyAsItsTransitionFunctionSays(t *testing.T) {
	states := []episodeState{waiting, announcedHere, heldElsewhere, withdrawn, orphaned, dropped}
	events := []episodeEvent{heardFirst, heardAfter, announcerQuiet, announcerGone, turn, turnUnconfirmed}
	const no = episodeState(255) // the event means nothing in that state
	want := map[episodeState][6]episodeState{
		//             heardFirst     heardAfter     announcerQuiet announcerGone turn           turnUnconfirmed
		waiting:       {heldElsewhere, heldElsewhere, no, no, announcedHere, dropped},
		announcedHere: {heldElsewhere, no, no, no, no, no},
		heldElsewhere: {heldElsewhere, heldElsewhere, withdrawn, orphaned, no, no},
		withdrawn:     {heldElsewhere, heldElsewhere, no, orphaned, no, no},
		orphaned:      {heldElsewhere, heldElsewhere, no, no, announcedHere, no},
		dropped:       {heldElsewhere, heldElsewhere, no, no, no, no},
	}
	for _, s := range states {
		for i, ev := range events {
			got, ok := next(s, ev)
			if !ok {
				got = no
			}
			if got != want[s][i] {
				t.Errorf("from %s on %s: %v, want %v", s, ev, name(got), name(want[s][i]))
			}
		}
	}
}

func name(s episodeState) string {
	if s == 255 {
		return "no move"
	}
	return fmt.Sprint(s)
}

// Who holds an episode follows from its state alone.
func TestAnEpisodesStateSaysWhoHoldsIt(t *testing.T) {
	for _, tc := range []struct {
		s                      episodeState
		here, other, announced bool
	}{
		{waiting, false, false, false},
		{announcedHere, true, false, true},
		{heldElsewhere, false, true, true},
		{withdrawn, false, true, true},
		{orphaned, false, false, true},
		{dropped, false, false, false},
	} {
		e := &episode{state: tc.s}
		if e.holdsIt() != tc.here || e.leftToOther() != tc.other || e.announced() != tc.announced {
			t.Errorf("%s: here %v, left to another %v, announced %v", tc.s, e.holdsIt(), e.leftToOther(), e.announced())
		}
	}
}
