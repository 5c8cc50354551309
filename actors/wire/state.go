package wire

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strconv"
	"time"

	"github.com/dupunkto/mesh/actors/domain"
)

// stateDoc is the /state document as it is read, {"node", "peers",
// "relay"}: views stay raw until decodeViews checks each.
type stateDoc struct {
	Node    string                     `json:"node"`
	Peers   map[string]json.RawMessage `json:"peers"`
	Targets map[string]json.RawMessage `json:"targets"`
	Relay   map[string]relayCopyDoc    `json:"relay"`
}

// relayCopyDoc is one entry of /state's "relay": the last view a peer
// relayed, and when it came.
type relayCopyDoc struct {
	ReceivedAt stamp                      `json:"received_at"`
	Peers      map[string]json.RawMessage `json:"peers"`
	Targets    map[string]json.RawMessage `json:"targets"`
}

// StateEncoder writes /state documents. With a thousand peers a snapshot
// changes with every probe, but the entry of one peer, or the copy of one
// relay, changes rarely; snapshots share the entries that did not change,
// so the encoder keeps each entry's encoding from its last call and reuses
// it while the entry is the same. The result is byte for byte what
// json.Marshal writes for the same document.
//
// An encoder is not safe for concurrent use.
type StateEncoder struct {
	// OwnViewOnly leaves the relayed views out ("relay":{}): the page asks
	// for each node's own view, and for a relayed one only of a node it
	// cannot reach, so that a refresh does not grow with the square of the
	// cluster.
	OwnViewOnly bool
	// Key is the node's public key (domain.EncodeKey), which its relays
	// are signed with, written as "key"; "" for a node without one.
	Key string

	// Encodings of the last call's entries, and the maps the current call
	// fills; swapped at the end, so only live entries are kept.
	peers, nextPeers   map[*domain.Entry][]byte
	relays, nextRelays map[*domain.RelayCopy][]byte
	// The last "cluster" member and the verdicts it encodes.
	verdicts *domain.Verdicts
	cluster  []byte
}

// Encode returns the /state document of s.
func (e *StateEncoder) Encode(s *domain.Snapshot) []byte {
	if e.peers == nil {
		e.peers, e.nextPeers = map[*domain.Entry][]byte{}, map[*domain.Entry][]byte{}
		e.relays, e.nextRelays = map[*domain.RelayCopy][]byte{}, map[*domain.RelayCopy][]byte{}
	}
	node := appendString(nil, s.Node())
	size := len(node) + 32
	members := func(entries iter.Seq[*domain.Entry], n int) [][]byte {
		views := make([][]byte, 0, n)
		for p := range entries {
			b, ok := e.peers[p]
			if !ok {
				b = appendMember(nil, p.Name(), p.View())
			}
			e.nextPeers[p] = b
			views = append(views, b)
			size += len(b) + 1 // and a comma
		}
		return views
	}
	views := members(s.Peers(), s.Len())
	targets := members(s.Targets(), s.TargetCount())
	relays := make([][]byte, 0, s.RelayCount())
	for name, r := range s.Relays() {
		if e.OwnViewOnly {
			break
		}
		b, ok := e.relays[r]
		if !ok {
			b = encodeRelayCopy(name, r)
		}
		e.nextRelays[r] = b
		relays = append(relays, b)
		size += len(b) + 1
	}
	e.peers, e.nextPeers = e.nextPeers, e.peers
	e.relays, e.nextRelays = e.nextRelays, e.relays
	clear(e.nextPeers)
	clear(e.nextRelays)

	b := make([]byte, 0, size)
	b = append(append(append(b, `{"node":`...), node...), `,"peers":`...)
	b = joinMembers(b, views)
	if s.TargetCount() > 0 {
		// Mesh's addition: the targets (TARGETS), as "peers" shows peers.
		b = joinMembers(append(b, `,"targets":`...), targets)
	}
	b = append(b, `,"relay":`...)
	b = joinMembers(b, relays)
	// Mesh's additions, which an original aggregator ignores: the cluster's
	// verdicts and whether this node is isolated. A /state read from a node
	// that has none has none written back.
	if vs := s.Verdicts(); vs != nil {
		if vs != e.verdicts {
			e.verdicts, e.cluster = vs, appendCluster(nil, vs)
		}
		b = append(append(b, `,"cluster":`...), e.cluster...)
		b = strconv.AppendBool(append(b, `,"isolated":`...), s.Isolated())
	}
	if e.Key != "" {
		b = appendString(append(b, `,"key":`...), e.Key)
	}
	return appendMaintenance(b, s, time.Now())
}

// appendMaintenance appends, when a subject is in maintenance, the
// "maintenance" object: per subject, why and from when until when,
// {"reason","from","until"}, and of a silence its "id", "by" and
// "comment".
func appendMaintenance(b []byte, s *domain.Snapshot, now time.Time) []byte {
	first := true
	for e := range s.Subjects() {
		m, ok := s.Maintenance(e.Name(), now)
		if !ok {
			continue
		}
		if first {
			b = append(b, `,"maintenance":{`...)
		} else {
			b = append(b, ',')
		}
		first = false
		b = appendString(b, e.Name())
		b = appendString(append(b, `:{"reason":`...), string(m.Reason))
		b = appendString(append(b, `,"from":`...), m.From.UTC().Format(time.RFC3339))
		b = appendString(append(b, `,"until":`...), m.Until.UTC().Format(time.RFC3339))
		switch m.Reason {
		case domain.MaintenanceSilence:
			b = appendString(append(b, `,"id":`...), m.ID)
			b = appendString(append(b, `,"by":`...), m.By)
			b = appendString(append(b, `,"comment":`...), m.Comment)
		case domain.MaintenanceWindow:
			b = appendString(append(b, `,"window":`...), m.Comment)
		}
		b = append(b, '}')
	}
	if !first {
		b = append(b, '}')
	}
	return append(b, '}')
}

// appendCluster appends the "cluster" object: per peer, the cluster's
// verdict and who sees it down and up, {"status","down_from","up_from"}.
func appendCluster(b []byte, vs *domain.Verdicts) []byte {
	b = append(b, '{')
	first := true
	for v := range vs.All() {
		if !first {
			b = append(b, ',')
		}
		first = false
		b = appendString(b, v.Name())
		b = append(b, `:{"status":`...)
		b = appendString(b, string(v.Status()))
		b = append(b, `,"down_from":`...)
		b = appendNames(b, v.DownFrom())
		b = append(b, `,"up_from":`...)
		b = appendNames(b, v.UpFrom())
		b = append(b, '}')
	}
	return append(b, '}')
}

// appendNames appends a JSON list of names.
func appendNames(b []byte, names []string) []byte {
	b = append(b, '[')
	for i, n := range names {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, n)
	}
	return append(b, ']')
}

// joinMembers appends members as one object: "a":1 and "b":2 make {"a":1,"b":2}.
func joinMembers(b []byte, members [][]byte) []byte {
	b = append(b, '{')
	for i, m := range members {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, m...)
	}
	return append(b, '}')
}

// encodeRelayCopy encodes one member of /state's "relay",
// "node":{"received_at":...,"peers":{...}}.
func encodeRelayCopy(node string, r *domain.RelayCopy) []byte {
	b := make([]byte, 0, 64+len(node)+r.Len()*160) // a view is about 150 bytes
	b = appendString(b, node)
	b = append(b, `:{"received_at":`...)
	b = appendTime(b, r.ReceivedAt())
	b = append(b, `,"peers":`...)
	b = appendViews(b, r.Peers())
	if r.TargetCount() > 0 {
		b = appendViews(append(b, `,"targets":`...), r.Targets())
	}
	return append(b, '}')
}

// DecodeState reads a /state document, as a Mesh or an original node
// writes it, into a snapshot. Every peer's view is checked as a relayed
// one is.
func DecodeState(b []byte) (*domain.Snapshot, error) {
	var doc stateDoc
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("not a /state document: %s", jsonProblem(err))
	}
	if doc.Node == "" || doc.Peers == nil {
		return nil, errors.New("not a /state document: node or peers missing")
	}
	views, err := decodeViews(doc.Peers)
	if err != nil {
		return nil, err
	}
	targets, err := decodeTargetViews(doc.Targets)
	if err != nil {
		return nil, err
	}
	relays := make(map[string]*domain.RelayCopy, len(doc.Relay))
	for node, r := range doc.Relay {
		views, err := decodeViews(r.Peers)
		if err != nil {
			return nil, fmt.Errorf("relay[%s]: %w", quoteShort(node), err)
		}
		relayed, err := decodeTargetViews(r.Targets)
		if err != nil {
			return nil, fmt.Errorf("relay[%s]: %w", quoteShort(node), err)
		}
		relays[node] = domain.NewRelayCopy(r.ReceivedAt.Time, views).WithTargets(relayed)
	}
	entries := make([]*domain.Entry, 0, len(views)+len(targets))
	for name, v := range views {
		entries = append(entries, domain.NewEntry(domain.Peer(name), v, domain.History{}))
	}
	for name, v := range targets {
		entries = append(entries, domain.NewEntry(domain.Target(name), v, domain.History{}))
	}
	slices.SortFunc(entries, func(a, b *domain.Entry) int { return cmp.Compare(a.Name(), b.Name()) })
	return domain.NewSnapshot(doc.Node, entries, relays), nil
}
