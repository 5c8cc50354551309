package domain

import (
	"iter"
	"math"
	"time"
)

// History limits: what /history and the state file keep per peer.
const (
	HistoryMaxAge     = 90 * 24 * time.Hour
	HistoryMaxEntries = 10000
)

// HistoryEntry is one transition to up or down, kept in a peer's history.
type HistoryEntry struct {
	Status Status
	At     time.Time
}

// History is a peer's transitions, oldest first, as a snapshot publishes
// them. It is read-only: it has no method that changes it, and the slice
// behind it is clipped, so that even its maker's later appends, which may
// share the backing array, land beyond what a reader can see.
type History struct{ entries []HistoryEntry }

// NewHistory returns a read-only history of entries, oldest first. The
// caller must never change entries[:len(entries)] afterwards; appending
// beyond it is fine.
func NewHistory(entries []HistoryEntry) History {
	return History{entries: entries[:len(entries):len(entries)]}
}

// Len is the number of entries.
func (h History) Len() int { return len(h.entries) }

// At returns entry i, oldest first.
func (h History) At(i int) HistoryEntry { return h.entries[i] }

// All yields the entries, oldest first, with their index.
func (h History) All() iter.Seq2[int, HistoryEntry] {
	return func(yield func(int, HistoryEntry) bool) {
		for i, e := range h.entries {
			if !yield(i, e) {
				return
			}
		}
	}
}

// Uptime returns the share of the window before now in which the subject
// was up, out of the time its status was known (up or down) at all. Before
// its first transition a subject's status is unknown and does not count,
// nor does the time the node was isolated (away), when what it saw was no
// observation: neither the spell, nor what a transition in a spell said
// until the next transition. Time the subject spent in maintenance does not
// count either, as status pages leave planned work out; but unlike a
// spell of isolation, a transition in it was seen and holds after it. ok
// is false when nothing was known in the window.
func (h History) Uptime(now time.Time, window time.Duration, away Isolations, maintained []MaintenanceSpell) (ratio float64, ok bool) {
	start := now.Add(-window)
	leftOut := away.with(maintained, now)
	var up, known time.Duration
	for i, e := range h.entries {
		if away.holds(e.At, now) {
			continue
		}
		from := e.At
		to := now
		if i+1 < len(h.entries) {
			to = h.entries[i+1].At
		}
		from = later(from, start)
		if !to.After(from) {
			continue
		}
		d := leftOut.outside(from, to, now)
		known += d
		if e.Status == StatusUp {
			up += d
		}
	}
	if known <= 0 {
		return 0, false
	}
	return math.Round(float64(up)/float64(known)*1e6) / 1e6, true
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
