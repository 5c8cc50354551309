package actors

import (
	"testing"
	"time"

	"github.com/dupunkto/mesh/actors/statefile"
	"github.com/rs/zerolog"
)

// FuzzStateFile feeds the state file decoder arbitrary files and restores
// whatever it accepts into an owner and an alert engine of each policy, as
// a node does at start. Neither may panic, and restoring must take no time worth the name:
// a file claiming 9e18 reminders once made the restore spin for ever. The
// seed corpus runs in the normal test suite; CI fuzzes it for 30 s.
func FuzzStateFile(f *testing.F) {
	for _, seed := range []string{
		`{"version":1,"node":"nov","saved_at":"2026-06-06T12:42:00Z","peers":{"dec":{"status":"down","since":"2026-06-06T12:42:00Z","last_seen":null,"consecutive_failures":9,"reminders_sent":2,"history":[{"status":"up","at":"2026-06-06T11:42:00Z"},{"status":"down","at":"2026-06-06T12:42:00Z"}]}}}`,
		`{"version":1,"node":"nov","peers":{"dec":{"status":"down","since":"2026-06-06T12:42:00Z","last_seen":null,"consecutive_failures":9,"reminders_sent":9000000000000000000,"history":[]}}}`,
		`{"version":1,"node":"nov","peers":{"dec":{"status":"down","since":"2226-06-06T12:42:00Z","last_seen":"2226-06-06T12:42:00Z","consecutive_failures":9,"history":[]}}}`,
		`{"version":1,"node":"nov","peers":{"dec":{"status":"down","since":"0001-01-01T00:00:01Z","last_seen":null,"consecutive_failures":9,"reminders_sent":1048576,"history":[]}}}`,
		`{"version":1,"peers":{"x":`,
		`[]`,
		`{"version":1,"node":"nov","peers":{"dec":{"status":"down","since":"2026-06-06T12:42:00Z","last_seen":null,"consecutive_failures":9,"history":[]}},"announcements":[{"peer":"dec","by":"oct","kind":"down","since":"2026-06-06T12:40:00Z","reminders":1048576}]}`,
	} {
		f.Add([]byte(seed))
	}
	now := t0.Add(time.Hour)
	f.Fuzz(func(t *testing.T, data []byte) {
		saved, err := statefile.Decode(data, now)
		if err != nil {
			return
		}
		start := time.Now()
		o := NewOwner(OwnerConfig{Node: "nov", Subjects: peerSubjects("dec", "oct"), Threshold: 4, Boot: now, Saved: saved.Subjects, Log: zerolog.Nop()})
		for _, policy := range []Policy{AlertPolicy(false, 0), AlertPolicy(true, 3)} {
			n := NewNotifier(NotifierConfig{Node: "nov", Policy: policy, Followups: Schedule{time.Second, time.Minute}, Slot: time.Second,
				Fresh: time.Second, State: o, Out: &messageRecorder{}, Saved: saved.Alerts, Now: now, Log: zerolog.Nop()})
			n.process(now.Add(24 * time.Hour))
		}
		if took := time.Since(start); took > 5*time.Second {
			t.Fatalf("restoring took %v", took)
		}
		for e := range o.Snapshot().Peers() {
			if v := e.View(); v.Since.After(now) || v.LastSeen.After(now) {
				t.Fatalf("restored %s with a time after now: %+v", e.Name(), v)
			}
		}
	})
}
