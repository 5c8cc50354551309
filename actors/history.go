package actors

import (
	"math"
	"time"
)

// UptimeWindows are the windows /history reports uptime over.
var UptimeWindows = []struct {
	Name string
	Span time.Duration
}{{"24h", 24 * time.Hour}, {"7d", 7 * 24 * time.Hour}, {"30d", 30 * 24 * time.Hour}}

// Uptime returns the share of the window before now in which the peer was
// up, out of the time its status was known (up or down) at all. Before its
// first transition a peer's status is unknown and does not count. ok is
// false when nothing was known in the window.
func Uptime(h []HistoryEntry, now time.Time, window time.Duration) (ratio float64, ok bool) {
	start := now.Add(-window)
	var up, known time.Duration
	for i, e := range h {
		from := e.At
		to := now
		if i+1 < len(h) {
			to = h[i+1].At
		}
		from = later(from, start)
		if !to.After(from) {
			continue
		}
		known += to.Sub(from)
		if e.Status == StatusUp {
			up += to.Sub(from)
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

// historyJSON is /history's document.
type historyJSON struct {
	Node  string                     `json:"node"`
	Peers map[string]peerHistoryJSON `json:"peers"`
}

type peerHistoryJSON struct {
	Transitions []transitionJSON    `json:"transitions"`
	Uptime      map[string]*float64 `json:"uptime"` // null where nothing was known
}

type transitionJSON struct {
	Status Status `json:"status"`
	At     Time   `json:"at"`
}

// History returns the /history document as of now: every peer's
// transitions, oldest first, and its uptime over each window.
func (s *Snapshot) History(now time.Time) any {
	doc := historyJSON{Node: s.Node, Peers: make(map[string]peerHistoryJSON, len(s.Peers))}
	for _, e := range s.Peers {
		ph := peerHistoryJSON{Transitions: make([]transitionJSON, len(e.History)), Uptime: map[string]*float64{}}
		for i, h := range e.History {
			ph.Transitions[i] = transitionJSON{h.Status, Time{h.At}}
		}
		for _, w := range UptimeWindows {
			if r, ok := Uptime(e.History, now, w.Span); ok {
				ph.Uptime[w.Name] = &r
			} else {
				ph.Uptime[w.Name] = nil
			}
		}
		doc.Peers[e.Name] = ph
	}
	return doc
}
