package wire

import (
	"encoding/json"
	"time"

	"github.com/dupunkto/mesh/actors/domain"
)

// uptimeWindows are the windows /history reports uptime over.
func uptimeWindows() []struct {
	name string
	span time.Duration
} {
	return []struct {
		name string
		span time.Duration
	}{{"24h", 24 * time.Hour}, {"7d", 7 * 24 * time.Hour}, {"30d", 30 * 24 * time.Hour}, {"90d", 90 * 24 * time.Hour}}
}

// historyJSON is /history's document.
type historyJSON struct {
	Node    string                     `json:"node"`
	Peers   map[string]peerHistoryJSON `json:"peers"`
	Targets map[string]peerHistoryJSON `json:"targets,omitempty"`
}

type peerHistoryJSON struct {
	Transitions []transitionJSON    `json:"transitions"`
	Uptime      map[string]*float64 `json:"uptime"` // null where nothing was known
}

type transitionJSON struct {
	Status domain.Status `json:"status"`
	At     stamp         `json:"at"`
}

// EncodeHistory returns the /history document of s as of now: every peer's
// transitions, oldest first, and its uptime over each window; the same of
// every target under "targets".
func EncodeHistory(s *domain.Snapshot, now time.Time) []byte {
	doc := historyJSON{Node: s.Node(), Peers: make(map[string]peerHistoryJSON, s.Len())}
	if s.TargetCount() > 0 {
		doc.Targets = make(map[string]peerHistoryJSON, s.TargetCount())
	}
	for p := range s.Subjects() {
		h := p.History()
		ph := peerHistoryJSON{Transitions: make([]transitionJSON, 0, h.Len()), Uptime: map[string]*float64{}}
		for _, e := range h.All() {
			ph.Transitions = append(ph.Transitions, transitionJSON{e.Status, stamp{e.At}})
		}
		for _, w := range uptimeWindows() {
			if r, ok := h.Uptime(now, w.span); ok {
				ph.Uptime[w.name] = &r
			} else {
				ph.Uptime[w.name] = nil
			}
		}
		if p.Kind() == domain.KindTarget {
			doc.Targets[p.Name()] = ph
			continue
		}
		doc.Peers[p.Name()] = ph
	}
	b, err := json.Marshal(doc)
	if err != nil {
		panic("wire: encode /history: " + err.Error()) // plain values: cannot happen
	}
	return b
}
