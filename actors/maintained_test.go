package actors

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rs/zerolog"

	"github.com/dupunkto/mesh/actors/domain"
	"github.com/dupunkto/mesh/actors/wire"
)

// A subject's time in maintenance is kept in its history as a spell, from
// when it began until it ended, in the state file across a restart, and
// /history gives it and leaves it out of the uptime figures: up an hour,
// down an hour while silenced, down an hour more after the silence ended,
// is 50% up, not 33%.
func TestTheHistoryKeepsASubjectsTimeInMaintenance(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "state.json")
		changes := NewSignal()
		o := NewOwner(OwnerConfig{Node: "me", Subjects: peerSubjects("a", "b"), Threshold: 1, Boot: time.Now(), StatusChanged: changes, Log: zerolog.Nop()})
		w := NewStateFile(StateFileConfig{Path: path, State: o, Changes: changes, Log: zerolog.Nop()})
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		defer func() { cancel(); <-done }()
		go o.Serve(ctx)
		go func() { w.Serve(ctx); close(done) }()
		round := func(aUp bool) {
			report(t, o, "a", aUp)
			report(t, o, "b", true)
			settle()
		}
		round(true)
		time.Sleep(time.Hour)
		start := time.Now()
		if _, err := o.AddSilence(t.Context(), domain.Silence{ID: "s1", Matcher: "a", Start: start, End: start.Add(time.Hour), Node: "me", Updated: start}); err != nil {
			t.Fatal(err)
		}
		round(false)
		if got := o.Snapshot().Maintained("a"); len(got) != 1 || !got[0].Ongoing() || !got[0].From.Equal(start) || got[0].Reason != domain.MaintenanceSilence {
			t.Fatalf("while silenced, a's spells are %+v; want one from %v, ongoing, for the silence", got, start)
		}
		time.Sleep(time.Hour)
		round(false)
		time.Sleep(time.Hour)
		round(true)
		// It ends as the owner first publishes after the silence's end:
		// here with the round at its end, one publishGap later.
		want := domain.MaintenanceSpell{Span: domain.Span{From: start, To: start.Add(time.Hour + publishGap)}, Reason: domain.MaintenanceSilence}
		if got := o.Snapshot().Maintained("a"); len(got) != 1 || !got[0].From.Equal(want.From) || !got[0].To.Equal(want.To) {
			t.Fatalf("after the silence a's spells are %+v; want %+v", got, want)
		}
		if got := o.Snapshot().Maintained("b"); len(got) != 0 {
			t.Fatalf("b, never silenced, has spells %+v", got)
		}
		var doc struct {
			Peers map[string]struct {
				Uptime      map[string]*float64 `json:"uptime"`
				Maintenance []struct{ From, To, Reason string }
			}
		}
		if err := json.Unmarshal(wire.EncodeHistory(o.Snapshot(), time.Now()), &doc); err != nil {
			t.Fatal(err)
		}
		a := doc.Peers["a"]
		if len(a.Maintenance) != 1 || a.Maintenance[0].Reason != "silence" || a.Maintenance[0].From != start.UTC().Format(time.RFC3339) || a.Maintenance[0].To == "" {
			t.Fatalf("/history gives a's spells as %+v", a.Maintenance)
		}
		if up := a.Uptime["24h"]; up == nil || *up < 0.49 || *up > 0.51 {
			t.Fatalf("/history gives a's uptime as %v; want 0.5, the silenced hour left out", up)
		}

		cancel()
		<-done
		done = make(chan struct{})
		saved := readState(t, path)
		o2 := NewOwner(OwnerConfig{Node: "me", Subjects: peerSubjects("a", "b"), Threshold: 1, Boot: time.Now(), Saved: saved.Subjects, Log: zerolog.Nop()})
		close(done)
		if got := o2.Snapshot().Maintained("a"); len(got) != 1 || !got[0].From.Equal(want.From) || !got[0].To.Equal(want.To) || got[0].Reason != want.Reason {
			t.Fatalf("after a restart a's spells are %+v; want %+v", got, want)
		}
	})
}
