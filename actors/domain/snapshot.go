package domain

import (
	"cmp"
	"iter"
	"maps"
	"slices"
	"time"
)

// PeerEntry is one peer's name, view and history inside a snapshot. Its
// fields are unexported, so it cannot change once made; successive
// snapshots share the entries of peers that did not change.
type PeerEntry struct {
	name    string
	view    PeerView
	history History
	cert    Cert // a target's certificate, from its latest probe over TLS
}

// NewPeerEntry returns the entry of one peer.
func NewPeerEntry(name string, view PeerView, history History) *PeerEntry {
	return &PeerEntry{name: name, view: view, history: history}
}

// Name is the peer's name, host[:port].
func (e *PeerEntry) Name() string { return e.name }

// View is what this node sees of the peer.
func (e *PeerEntry) View() PeerView { return e.view }

// History is the peer's transitions, oldest first.
func (e *PeerEntry) History() History { return e.history }

// WithCert returns a copy of e that holds a target's certificate.
func (e *PeerEntry) WithCert(c Cert) *PeerEntry {
	n := *e
	n.cert = c
	return &n
}

// Cert is the certificate a target's latest probe over TLS met; zero for
// a peer, a TCP or plain HTTP target, or before the first handshake.
func (e *PeerEntry) Cert() Cert { return e.cert }

// RelayCopy is the latest view a peer relayed to this node. Its fields are
// unexported, so it cannot change once made.
type RelayCopy struct {
	receivedAt time.Time
	newest     time.Time
	peers      map[string]PeerView
	targets    map[string]PeerView     // the relaying node's view of the targets; nil: none
	announced  map[string]Announcement // by peer; nil from a node that announces nothing
	isolated   bool                    // the relaying node said it was isolated
}

// NewRelayCopy returns a relay received at receivedAt. It takes peers over:
// the caller must not use the map afterwards.
func NewRelayCopy(receivedAt time.Time, peers map[string]PeerView) *RelayCopy {
	if peers == nil {
		peers = map[string]PeerView{}
	}
	return &RelayCopy{receivedAt: receivedAt, newest: Newest(peers), peers: peers}
}

// Newest returns the latest instant a set of views records: a since or a
// last_seen. It dates a relay by its own content, so that a relay replayed
// or delayed can be told from a newer one whatever the clocks of the nodes
// that passed it on: the sender's probes only move its times forward.
func Newest(views map[string]PeerView) time.Time {
	var newest time.Time
	for _, v := range views {
		if v.Since.After(newest) {
			newest = v.Since
		}
		if v.LastSeen.After(newest) {
			newest = v.LastSeen
		}
	}
	return newest
}

// WithTargets returns a copy of r that carries the relaying node's view of
// the targets. It takes the map over.
func (r *RelayCopy) WithTargets(targets map[string]PeerView) *RelayCopy {
	c := *r
	c.targets = targets
	if n := Newest(targets); n.After(c.newest) {
		c.newest = n
	}
	return &c
}

// Target returns what the relaying node sees of the target name.
func (r *RelayCopy) Target(name string) (PeerView, bool) {
	v, ok := r.targets[name]
	return v, ok
}

// TargetCount is the number of targets the relay lists.
func (r *RelayCopy) TargetCount() int { return len(r.targets) }

// Targets yields the relayed views of the targets in name order.
func (r *RelayCopy) Targets() iter.Seq2[string, PeerView] { return sortedViews(r.targets) }

// view is the relayed view of a peer, or of a target.
func (r *RelayCopy) view(name string, target bool) (PeerView, bool) {
	if target {
		return r.Target(name)
	}
	return r.Peer(name)
}

// Newest is the latest instant the relayed views record (see Newest).
func (r *RelayCopy) Newest() time.Time { return r.newest }

// clockSkew is how far ahead of this node's clock a relayed time may be and
// still be believed.
const clockSkew = time.Minute

// Supersedes reports whether views dated newest (see Newest) may replace
// the copy held: not when they are older than it. A copy dated ahead of
// now, from a sender whose clock ran fast, holds nothing back: else a clock
// set right again would have its relays refused until it caught up.
func (r *RelayCopy) Supersedes(newest, now time.Time) bool {
	return r == nil || !newest.Before(r.newest) || r.newest.After(now.Add(clockSkew))
}

// Announcing returns a copy of r that carries the relaying node's
// announcements, by peer. It takes the map over.
func (r *RelayCopy) Announcing(announced map[string]Announcement) *RelayCopy {
	c := *r
	c.announced = announced
	return &c
}

// Isolating returns a copy of r from a node that says whether it is
// isolated.
func (r *RelayCopy) Isolating(isolated bool) *RelayCopy {
	c := *r
	c.isolated = isolated
	return &c
}

// Isolated reports whether the relaying node said it was isolated: its
// view is no observation of its peers.
func (r *RelayCopy) Isolated() bool { return r.isolated }

// Announced returns the relaying node's announcement about peer.
func (r *RelayCopy) Announced(peer string) (Announcement, bool) {
	a, ok := r.announced[peer]
	return a, ok
}

// Announcements yields the relaying node's announcements in peer order.
func (r *RelayCopy) Announcements() iter.Seq2[string, Announcement] {
	return func(yield func(string, Announcement) bool) {
		for _, peer := range slices.Sorted(maps.Keys(r.announced)) {
			if !yield(peer, r.announced[peer]) {
				return
			}
		}
	}
}

// SameOpinions reports whether two copies of one node's relay say the
// same for ComputeVerdicts: the same isolation, and the same status of the
// same peers. A newer copy that does is no reason to reach the verdicts
// again, which costs the square of the cluster.
func (r *RelayCopy) SameOpinions(o *RelayCopy) bool {
	return r.isolated == o.isolated && sameStatuses(r.peers, o.peers) && sameStatuses(r.targets, o.targets)
}

// sameStatuses reports whether two sets of views list the same names with
// the same statuses.
func sameStatuses(a, b map[string]PeerView) bool {
	if len(a) != len(b) {
		return false
	}
	for name, v := range a {
		if w, ok := b[name]; !ok || w.Status != v.Status {
			return false
		}
	}
	return true
}

// ReceivedAt is when this node received the relay.
func (r *RelayCopy) ReceivedAt() time.Time { return r.receivedAt }

// Len is the number of peers the relay lists.
func (r *RelayCopy) Len() int { return len(r.peers) }

// Peer returns what the relaying node sees of name.
func (r *RelayCopy) Peer(name string) (PeerView, bool) {
	v, ok := r.peers[name]
	return v, ok
}

// Peers yields the relayed views in name order.
func (r *RelayCopy) Peers() iter.Seq2[string, PeerView] { return sortedViews(r.peers) }

// sortedViews yields views in name order.
func sortedViews(views map[string]PeerView) iter.Seq2[string, PeerView] {
	return func(yield func(string, PeerView) bool) {
		for _, name := range slices.Sorted(maps.Keys(views)) {
			if !yield(name, views[name]) {
				return
			}
		}
	}
}

// Snapshot is a node's whole view at one instant: its peers and the relays
// it holds. Its fields are unexported and it has no method that changes
// it, so readers (HTTP handlers, the relay sender, the metrics) share it
// freely and never wait on the state owner that made it.
type Snapshot struct {
	node     string
	peers    []*PeerEntry          // sorted by name, for binary search
	targets  []*PeerEntry          // the targets (TARGETS), sorted by name
	relays   map[string]*RelayCopy // by sending node
	verdicts *Verdicts             // nil: not reached (a /state read from elsewhere)
	// isolated: this node has lost its own network (see LooksIsolated);
	// its view says little of its peers.
	isolated bool
}

// NewSnapshot returns the snapshot of node with these peers and relays. It
// takes both over: the caller must not change them afterwards, and makes a
// new slice or map for the next snapshot (sharing the entries that did not
// change). peers must be sorted by name.
func NewSnapshot(node string, peers []*PeerEntry, relays map[string]*RelayCopy) *Snapshot {
	if !slices.IsSortedFunc(peers, byName) {
		panic("domain: NewSnapshot: peers not sorted by name") // a bug in the caller
	}
	if relays == nil {
		relays = map[string]*RelayCopy{}
	}
	return &Snapshot{node: node, peers: peers, relays: relays}
}

func byName(a, b *PeerEntry) int { return cmp.Compare(a.name, b.name) }

// WithTargets returns a copy of s with the node's view of its targets. It
// takes targets over, as NewSnapshot takes peers; they must be sorted by
// name.
func (s *Snapshot) WithTargets(targets []*PeerEntry) *Snapshot {
	if !slices.IsSortedFunc(targets, byName) {
		panic("domain: WithTargets: targets not sorted by name") // a bug in the caller
	}
	c := *s
	c.targets = targets
	return &c
}

// Targets yields the targets' entries in name order.
func (s *Snapshot) Targets() iter.Seq[*PeerEntry] { return slices.Values(s.targets) }

// Watched yields the peers' entries, then the targets'.
func (s *Snapshot) Watched() iter.Seq[*PeerEntry] {
	return func(yield func(*PeerEntry) bool) {
		for _, list := range [][]*PeerEntry{s.peers, s.targets} {
			for _, e := range list {
				if !yield(e) {
					return
				}
			}
		}
	}
}

// TargetCount is the number of targets.
func (s *Snapshot) TargetCount() int { return len(s.targets) }

// TargetEntry returns the entry of one target, if this node probes it.
func (s *Snapshot) TargetEntry(name string) (*PeerEntry, bool) { return find(s.targets, name) }

// View returns this node's view of a peer or a target.
func (s *Snapshot) View(name string) (PeerView, bool) {
	e, ok := s.Entry(name)
	if !ok {
		e, ok = s.TargetEntry(name)
	}
	if !ok {
		return PeerView{}, false
	}
	return e.view, true
}

// find looks an entry up by name in a sorted list.
func find(entries []*PeerEntry, name string) (*PeerEntry, bool) {
	i, ok := slices.BinarySearchFunc(entries, name, func(e *PeerEntry, name string) int { return cmp.Compare(e.name, name) })
	if !ok {
		return nil, false
	}
	return entries[i], true
}

// WithVerdicts returns a copy of s that carries the cluster's verdicts.
func (s *Snapshot) WithVerdicts(vs *Verdicts) *Snapshot {
	c := *s
	c.verdicts = vs
	return &c
}

// WithIsolated returns a copy of s that says whether the node is isolated.
func (s *Snapshot) WithIsolated(isolated bool) *Snapshot {
	c := *s
	c.isolated = isolated
	return &c
}

// Isolated reports whether the node has lost its own network.
func (s *Snapshot) Isolated() bool { return s.isolated }

// Verdicts are the cluster's verdicts on the peers; nil when not reached.
func (s *Snapshot) Verdicts() *Verdicts { return s.verdicts }

// Node is the name of the node whose view this is.
func (s *Snapshot) Node() string { return s.node }

// Len is the number of peers.
func (s *Snapshot) Len() int { return len(s.peers) }

// Peers yields the peers' entries in name order.
func (s *Snapshot) Peers() iter.Seq[*PeerEntry] { return slices.Values(s.peers) }

// Entry returns the entry of one peer, if this node probes it.
func (s *Snapshot) Entry(name string) (*PeerEntry, bool) { return find(s.peers, name) }

// Peer returns the view of one peer, if this node probes it.
func (s *Snapshot) Peer(name string) (PeerView, bool) {
	if e, ok := s.Entry(name); ok {
		return e.view, true
	}
	return PeerView{}, false
}

// RelayCount is the number of nodes that relayed their view here.
func (s *Snapshot) RelayCount() int { return len(s.relays) }

// Relay returns the latest view node relayed here.
func (s *Snapshot) Relay(node string) (*RelayCopy, bool) {
	r, ok := s.relays[node]
	return r, ok
}

// Relays yields the relays held, by sending node in name order.
func (s *Snapshot) Relays() iter.Seq2[string, *RelayCopy] {
	return func(yield func(string, *RelayCopy) bool) {
		for _, node := range slices.Sorted(maps.Keys(s.relays)) {
			if !yield(node, s.relays[node]) {
				return
			}
		}
	}
}
