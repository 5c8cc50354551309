package domain

import (
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
			got, ok := NewHistory(tc.history).Uptime(now, tc.window)
			if ok != tc.known || got != tc.want {
				t.Fatalf("Uptime = %v, %v; want %v, %v", got, ok, tc.want, tc.known)
			}
		})
	}
}
