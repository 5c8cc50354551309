package domain

import (
	"testing"
	"time"
)

// An ending closes the episode it names by origin, however far apart the
// times read against another clock put them, and any that began before
// its own (a node keeps only a subject's latest ending); without origins
// (a node that sends none), one that ended after the episode began.
func TestAnEndingClosesTheEpisodeOfItsOrigin(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	first, next := OriginOf(t0), OriginOf(t0.Add(70*time.Second+1234567))
	end := Ending{Kind: AnnouncedDown, Since: t0, Ended: t0.Add(time.Minute), Origin: first}
	late := Said{Ended: map[string]Ending{"e": end}}.Shifted(20 * time.Second).Ended["e"] // read through a relay 20 s late
	for _, tc := range []struct {
		name string
		end  Ending
		a    Announcement
		want bool
	}{
		{"its own episode", end, Announcement{Kind: AnnouncedDown, Since: t0, Origin: first}, true},
		{"its own, read late", late, Announcement{Kind: AnnouncedDown, Since: t0, Origin: first}, true},
		{"the next, though the late end falls after it began", late, Announcement{Kind: AnnouncedDown, Since: t0.Add(70 * time.Second), Origin: next}, false},
		{"an earlier one: a later episode ended, so it is over", late, Announcement{Kind: AnnouncedDown, Since: t0.Add(-time.Hour), Origin: OriginOf(t0.Add(-time.Hour))}, true},
		{"another kind", end, Announcement{Kind: AnnouncedPartial, Since: t0, Origin: first}, false},
		{"no origin: ended after it began", Ending{Kind: AnnouncedDown, Since: t0, Ended: t0.Add(time.Minute)}, Announcement{Kind: AnnouncedDown, Since: t0.Add(30 * time.Second), Origin: next}, true},
		{"no origin: ended before it began", Ending{Kind: AnnouncedDown, Since: t0, Ended: t0.Add(time.Minute)}, Announcement{Kind: AnnouncedDown, Since: t0.Add(70 * time.Second)}, false},
	} {
		if got := tc.end.Ends(tc.a); got != tc.want {
			t.Errorf("%s: Ends = %v, want %v", tc.name, got, tc.want)
		}
	}
	if !next.Equal(next.Truncate(time.Millisecond)) || late.Origin != first {
		t.Fatalf("an origin is to the millisecond (%v) and never moved (%v, want %v)", next, late.Origin, first)
	}
}
