package actors

import (
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rs/zerolog"

	"github.com/dupunkto/mesh/actors/domain"
	"github.com/dupunkto/mesh/config"
)

// A peer's maintenance window, every hour at minute 0 for 20 minutes: it
// goes down inside it and nothing is said; still down when the window
// ends, one message says so then. Down again outside any window: told at
// once, as ever.
func TestAPeerDownInsideItsWindowIsToldOnlyWhenTheWindowEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w, err := config.ParseWindow("0 * * * * 20m UTC")
		if err != nil {
			t.Fatal(err)
		}
		c := newSimCluster(t, "a", "b", "c", "d", "e")
		c.mu.Lock()
		for _, n := range c.nodes {
			n.windows = map[string][]domain.Window{"e": {w}}
		}
		c.mu.Unlock()
		// synctest's clock starts at midnight UTC 2000-01-01: a window is on.
		time.Sleep(simFresh)
		if _, _, on := w.At(time.Now()); !on {
			t.Fatalf("no window at %v", time.Now())
		}
		c.kill("e")
		c.everyoneSees("e", domain.StatusDown, 0)
		time.Sleep(15 * time.Minute)
		if got := c.messages(); len(got) != 0 {
			t.Fatalf("sent %q inside e's window, want nothing", got)
		}
		time.Sleep(5*time.Minute + 5*simSlot)
		if got := c.messages(); len(got) != 1 || !strings.HasPrefix(got[0], "a: 🔴 `e` is still unreachable after its maintenance window ended, from 4 of 5 nodes") {
			t.Fatalf("sent %q as the window ended, want one down message saying so", got)
		}
		c.everyoneSees("e", domain.StatusUp, 0)
		time.Sleep(10 * time.Minute) // 00:30: outside any window
		c.everyoneSees("e", domain.StatusDown, 0)
		time.Sleep(5 * simSlot)
		if got := c.marks("e"); strings.Join(got, " ") != "a: 🔴 a: 🟢 a: 🔴" {
			t.Fatalf("the chat read %q, want the second outage told at once", got)
		}
	})
}

// A target's maintenance window (its URL's #maintenance= option) holds it
// in maintenance on every node that watches it, inside the window only, and
// its history keeps the spell.
func TestATargetIsInMaintenanceInsideItsWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const shop = "https://shop.example/"
		w, err := config.ParseWindow("* * * * * 30s UTC") // the first half of every minute
		if err != nil {
			t.Fatal(err)
		}
		o := NewOwner(OwnerConfig{Node: "me", Subjects: []domain.Subject{domain.Target(shop)}, Threshold: 1, Boot: time.Now(),
			TargetWindows: map[string][]domain.Window{shop: {w}}, Log: zerolog.Nop()})
		go o.Serve(t.Context())
		probe := func() {
			if err := o.Report(t.Context(), domain.ProbeResult{Subject: domain.Target(shop), At: time.Now(), OK: false}); err != nil {
				t.Fatal(err)
			}
			settle()
		}
		time.Sleep(10 * time.Second) // synctest's clock starts on a whole minute
		probe()
		if m, ok := o.Snapshot().Maintenance(shop, time.Now()); !ok || m.Reason != domain.MaintenanceWindow || m.Comment != w.Spec {
			t.Fatalf("inside its window the target's maintenance is %+v %v, want its window", m, ok)
		}
		time.Sleep(30 * time.Second)
		probe()
		if m, ok := o.Snapshot().Maintenance(shop, time.Now()); ok {
			t.Fatalf("outside its window the target is in maintenance: %+v", m)
		}
		if got := o.Snapshot().Maintained(shop); len(got) != 1 || got[0].Ongoing() || got[0].Reason != domain.MaintenanceWindow {
			t.Fatalf("the target's spells %+v, want one ended spell of its window", got)
		}
	})
}
