package domain

import (
	"math"
	"testing"
	"time"
)

var t0 = time.Date(2026, 6, 6, 12, 42, 0, 0, time.UTC)

func TestUptime(t *testing.T) {
	now := t0.Add(48 * time.Hour)
	h := func(entries ...any) []HistoryEntry {
		var out []HistoryEntry
		for i := 0; i < len(entries); i += 2 {
			out = append(out, HistoryEntry{entries[i].(Status), now.Add(-entries[i+1].(time.Duration))})
		}
		return out
	}
	cases := []struct {
		name    string
		history []HistoryEntry
		window  time.Duration
		want    float64
		known   bool
	}{
		{"no history: nothing known", nil, 24 * time.Hour, 0, false},
		{"up all along", h(StatusUp, 30*time.Hour), 24 * time.Hour, 1, true},
		{"down the last six hours of a day", h(StatusUp, 30*time.Hour, StatusDown, 6*time.Hour), 24 * time.Hour, 0.75, true},
		{"known only for the last two hours, one of them down", h(StatusUp, 2*time.Hour, StatusDown, time.Hour), 24 * time.Hour, 0.5, true},
		{"an outage that ended before the window does not count", h(StatusDown, 40*time.Hour, StatusUp, 30*time.Hour), 24 * time.Hour, 1, true},
		{"the longer window sees it", h(StatusDown, 40*time.Hour, StatusUp, 30*time.Hour), 7 * 24 * time.Hour, 0.75, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := NewHistory(tc.history).Uptime(now, tc.window, Isolations{}, nil)
			if ok != tc.known || got != tc.want {
				t.Fatalf("Uptime = %v, %v; want %v, %v", got, ok, tc.want, tc.known)
			}
		})
	}
}

// What a node saw while it was isolated is no observation: its history's
// figures leave the spell out, whether the spell ended or lasts.
func TestUptimeLeavesOutTheSpellsOfIsolation(t *testing.T) {
	now := t0.Add(48 * time.Hour)
	ago := func(d time.Duration) time.Time { return now.Add(-d) }
	// Up for two days, "down" for the two hours the node was cut off.
	h := NewHistory([]HistoryEntry{{StatusUp, ago(47 * time.Hour)}, {StatusDown, ago(10 * time.Hour)}, {StatusUp, ago(8 * time.Hour)}})
	spell := Span{From: ago(10*time.Hour + time.Minute), To: ago(8*time.Hour - time.Minute)}
	cases := []struct {
		name  string
		h     History
		away  []Span
		want  float64
		known bool
	}{
		{"without the spell, the outage counts", h, nil, 22.0 / 24, true},
		{"the spell left out, the subject was up all the time known", h, []Span{spell}, 1, true},
		{"an earlier spell outside the window changes nothing", h, []Span{{ago(40 * time.Hour), ago(30 * time.Hour)}, spell}, 1, true},
		{"down since the node was cut off, and it still is: nothing known of the last two hours",
			NewHistory([]HistoryEntry{{StatusUp, ago(47 * time.Hour)}, {StatusDown, ago(2 * time.Hour)}}), []Span{{From: ago(2*time.Hour + time.Minute)}}, 1, true},
		{"cut off all day: nothing known", h, []Span{{From: ago(30 * time.Hour)}}, 0, false},
		{"a transition in a spell holds until the next, and is no observation either",
			NewHistory([]HistoryEntry{{StatusUp, ago(47 * time.Hour)}, {StatusDown, ago(9 * time.Hour)}, {StatusUp, ago(6 * time.Hour)}}),
			[]Span{{ago(10 * time.Hour), ago(8 * time.Hour)}}, 1, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := tc.h.Uptime(now, 24*time.Hour, NewIsolations(tc.away), nil)
			if ok != tc.known || math.Abs(got-tc.want) > 1e-6 {
				t.Fatalf("Uptime = %v, %v; want %v, %v", got, ok, tc.want, tc.known)
			}
		})
	}
}

// Time in maintenance is left out of the figures, as status pages leave
// planned work out; but what the subject did in it was seen, and an outage
// that goes on after the maintenance ended counts from then.
func TestUptimeLeavesOutTheTimeInMaintenance(t *testing.T) {
	now := t0.Add(48 * time.Hour)
	ago := func(d time.Duration) time.Time { return now.Add(-d) }
	spell := func(from, to time.Duration, reason MaintenanceReason) MaintenanceSpell {
		s := MaintenanceSpell{Span: Span{From: ago(from)}, Reason: reason}
		if to > 0 {
			s.To = ago(to)
		}
		return s
	}
	// Up for two days but for a reboot of two hours, ten hours ago.
	rebooted := NewHistory([]HistoryEntry{{StatusUp, ago(47 * time.Hour)}, {StatusDown, ago(10 * time.Hour)}, {StatusUp, ago(8 * time.Hour)}})
	cases := []struct {
		name       string
		h          History
		away       []Span
		maintained []MaintenanceSpell
		want       float64
		known      bool
	}{
		{"outside any maintenance the reboot counts", rebooted, nil, nil, 22.0 / 24, true},
		{"inside a window of three hours it does not", rebooted, nil, []MaintenanceSpell{spell(11*time.Hour, 7*time.Hour, MaintenanceWindow)}, 1, true},
		{"down past the silence's end: the rest counts", rebooted, nil, []MaintenanceSpell{spell(10*time.Hour, 9*time.Hour, MaintenanceSilence)}, 22.0 / 23, true},
		{"a transition inside holds after it: down still, since the silence ended",
			NewHistory([]HistoryEntry{{StatusUp, ago(47 * time.Hour)}, {StatusDown, ago(3 * time.Hour)}}), nil,
			[]MaintenanceSpell{spell(4*time.Hour, 2*time.Hour, MaintenanceSilence)}, 20.0 / 22, true},
		{"an ongoing spell leaves out the time until now", rebooted, nil, []MaintenanceSpell{spell(12*time.Hour, 0, MaintenanceLeave)}, 1, true},
		{"a spell of isolation and one of maintenance that overlap are left out once",
			rebooted, []Span{{ago(11 * time.Hour), ago(9 * time.Hour)}}, []MaintenanceSpell{spell(10*time.Hour, 8*time.Hour, MaintenanceWindow)}, 1, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := tc.h.Uptime(now, 24*time.Hour, NewIsolations(tc.away), tc.maintained)
			if ok != tc.known || math.Abs(got-tc.want) > 1e-6 {
				t.Fatalf("Uptime = %v, %v; want %v, %v", got, ok, tc.want, tc.known)
			}
		})
	}
}
