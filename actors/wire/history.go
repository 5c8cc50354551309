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
	// Isolated are the node's spells of isolation, oldest first: what its
	// transitions say of that time is no observation, and its uptime
	// figures leave it out.
	Isolated []spanJSON `json:"isolated,omitempty"`
}

// spanJSON is a spell: to is absent while it lasts.
type spanJSON struct {
	From stamp  `json:"from"`
	To   *stamp `json:"to,omitempty"`
}

func spanOf(s domain.Span) spanJSON {
	j := spanJSON{From: stamp{s.From}}
	if !s.Ongoing() {
		j.To = &stamp{s.To}
	}
	return j
}

type peerHistoryJSON struct {
	Transitions []transitionJSON    `json:"transitions"`
	Uptime      map[string]*float64 `json:"uptime"` // null where nothing was known
	// Maintenance are the subject's spells of maintenance, oldest first,
	// which its uptime figures leave out.
	Maintenance []maintenanceSpellJSON `json:"maintenance,omitempty"`
}

type maintenanceSpellJSON struct {
	spanJSON
	Reason domain.MaintenanceReason `json:"reason"`
}

type transitionJSON struct {
	Status domain.Status `json:"status"`
	At     stamp         `json:"at"`
}

// EncodeHistory returns the /history document of s as of now: every peer's
// transitions, oldest first, and its uptime over each window; the same of
// every target under "targets"; each one's spells of maintenance; and the
// node's spells of isolation.
func EncodeHistory(s *domain.Snapshot, now time.Time) []byte {
	doc := historyJSON{Node: s.Node(), Peers: make(map[string]peerHistoryJSON, s.Len())}
	if s.TargetCount() > 0 {
		doc.Targets = make(map[string]peerHistoryJSON, s.TargetCount())
	}
	for spell := range s.Isolations().All() {
		doc.Isolated = append(doc.Isolated, spanOf(spell))
	}
	for p := range s.Subjects() {
		h := p.History()
		ph := peerHistoryJSON{Transitions: make([]transitionJSON, 0, h.Len()), Uptime: map[string]*float64{}}
		for _, e := range h.All() {
			ph.Transitions = append(ph.Transitions, transitionJSON{e.Status, stamp{e.At}})
		}
		maintained := s.Maintained(p.Name())
		for _, m := range maintained {
			ph.Maintenance = append(ph.Maintenance, maintenanceSpellJSON{spanOf(m.Span), m.Reason})
		}
		for _, w := range uptimeWindows() {
			if r, ok := h.Uptime(now, w.span, s.Isolations(), maintained); ok {
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
