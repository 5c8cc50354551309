package actors

import (
	"encoding/json"
	"maps"
	"slices"
	"sync"
)

// PeerEntry is one peer's name, view and history inside a snapshot. It is
// immutable once published; successive snapshots share the entries of peers
// that did not change.
type PeerEntry struct {
	Name    string
	View    PeerView
	History []HistoryEntry // oldest first; never modified once published

	encoded fragment // `"name":{view}`, for /state
}

// RelayCopy is the latest view a peer relayed to this node. It is
// immutable once stored.
type RelayCopy struct {
	ReceivedAt Time                `json:"received_at"`
	Peers      map[string]PeerView `json:"peers"`

	encoded fragment // `{"received_at":...,"peers":{...}}`, for /state
}

// fragment is a piece of /state's JSON, encoded once, on first use: the
// snapshot changes with every probe, but the entry of one peer, or the copy
// of one relay, is encoded only when it changes.
type fragment struct {
	once sync.Once
	b    []byte
}

func (f *fragment) get(encode func() any) []byte {
	f.once.Do(func() {
		b, err := json.Marshal(encode())
		if err != nil {
			// Every field is a plain value with a total encoding; this cannot happen.
			panic("actors: encode /state: " + err.Error())
		}
		f.b = b
	})
	return f.b
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

// JSON returns the /state document, {"node", "peers", "relay"}, exactly as
// json.Marshal would write it (keys in order). A snapshot never changes, so
// it is put together once, on first request, from its entries' fragments.
func (s *Snapshot) JSON() []byte {
	s.encodeOnce.Do(func() {
		node, _ := json.Marshal(s.Node)
		names := slices.Sorted(maps.Keys(s.Relay))
		size := len(node) + 32
		views := make([][]byte, len(s.Peers))
		for i, e := range s.Peers {
			views[i] = e.encoded.get(func() any { return map[string]PeerView{e.Name: e.View} })
			size += len(views[i])
		}
		relays := make([][]byte, len(names))
		for i, name := range names {
			c := s.Relay[name]
			relays[i] = c.encoded.get(func() any { return map[string]*RelayCopy{name: c} })
			size += len(relays[i])
		}
		b := make([]byte, 0, size)
		b = append(append(append(b, `{"node":`...), node...), `,"peers":`...)
		b = joinObjects(b, views)
		b = append(b, `,"relay":`...)
		b = joinObjects(b, relays)
		s.encoded = append(b, '}')
	})
	return s.encoded
}

// joinObjects appends the members of one-member JSON objects ({"k":v}) as
// one object: {"a":1} and {"b":2} make {"a":1,"b":2}.
func joinObjects(b []byte, objects [][]byte) []byte {
	b = append(b, '{')
	for i, o := range objects {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, o[1:len(o)-1]...)
	}
	return append(b, '}')
}
