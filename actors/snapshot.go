package actors

import (
	"encoding/json"
	"sync"
)

// PeerEntry is one peer's name, view and history inside a snapshot.
type PeerEntry struct {
	Name    string
	View    PeerView
	History []HistoryEntry // oldest first; never modified once published
}

// RelayCopy is the latest view a peer relayed to this node.
type RelayCopy struct {
	ReceivedAt Time                `json:"received_at"`
	Peers      map[string]PeerView `json:"peers"`
}

// Snapshot is the state owner's view at one instant. It is immutable once
// published: readers (HTTP handlers, the relay sender) share it freely and
// never wait on the owner. Entries that did not change are shared between
// successive snapshots.
type Snapshot struct {
	Node  string
	Peers []*PeerEntry          // sorted by name
	Relay map[string]*RelayCopy // by sending node

	encodeOnce sync.Once
	encoded    []byte
}

// Peer returns the view of one peer, if this node probes it.
func (s *Snapshot) Peer(name string) (PeerView, bool) {
	for _, e := range s.Peers {
		if e.Name == name {
			return e.View, true
		}
	}
	return PeerView{}, false
}

// PeerViews returns the peers as the map that /state and a relay carry.
func (s *Snapshot) PeerViews() map[string]PeerView {
	m := make(map[string]PeerView, len(s.Peers))
	for _, e := range s.Peers {
		m[e.Name] = e.View
	}
	return m
}

// stateJSON is /state's shape, exactly as the seed shows it.
type stateJSON struct {
	Node  string                `json:"node"`
	Peers map[string]PeerView   `json:"peers"`
	Relay map[string]*RelayCopy `json:"relay"`
}

// JSON returns the /state document. A snapshot never changes, so it is
// encoded once, on first request, however many readers ask.
func (s *Snapshot) JSON() []byte {
	s.encodeOnce.Do(func() {
		relay := s.Relay
		if relay == nil {
			relay = map[string]*RelayCopy{}
		}
		b, err := json.Marshal(stateJSON{Node: s.Node, Peers: s.PeerViews(), Relay: relay})
		if err != nil {
			// Every field is a plain value with a total encoding; this cannot happen.
			panic("actors: encode snapshot: " + err.Error())
		}
		s.encoded = b
	})
	return s.encoded
}
