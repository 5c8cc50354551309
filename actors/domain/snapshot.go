package domain

import (
	"cmp"
	"iter"
	"maps"
	"slices"
	"time"
)

// Entry is one subject's view and history inside a snapshot. Its fields
// are unexported, so it cannot change once made; successive snapshots
// share the entries of subjects that did not change.
type Entry struct {
	subject Subject
	view    PeerView
	history History
	cert    Cert // a target's certificate, from its latest probe over TLS
}

// NewEntry returns the entry of one subject.
func NewEntry(s Subject, view PeerView, history History) *Entry {
	return &Entry{subject: s, view: view, history: history}
}

// Subject is what the entry is of.
func (e *Entry) Subject() Subject { return e.subject }

// Name is the subject's name: a peer's host[:port], a target's URL.
func (e *Entry) Name() string { return e.subject.Name }

// Kind is whether the entry is a peer's or a target's.
func (e *Entry) Kind() Kind { return e.subject.Kind }

// View is what this node sees of the subject.
func (e *Entry) View() PeerView { return e.view }

// History is the subject's transitions, oldest first.
func (e *Entry) History() History { return e.history }

// WithCert returns a copy of e that holds a target's certificate.
func (e *Entry) WithCert(c Cert) *Entry {
	n := *e
	n.cert = c
	return &n
}

// Cert is the certificate a target's latest probe over TLS met; zero for
// a peer, a TCP or plain HTTP target, or before the first handshake.
func (e *Entry) Cert() Cert { return e.cert }

// RelayCopy is the latest view a peer relayed to this node. Its fields are
// unexported, so it cannot change once made.
type RelayCopy struct {
	receivedAt time.Time
	newest     time.Time
	peers      map[string]PeerView
	targets    map[string]PeerView // the relaying node's view of the targets; nil: none
	said       Said                // what it announced, ended and told; empty from a node that says nothing
	offset     time.Duration       // this node's clock minus the sender's, as of the relay: add it to the sender's times
	offsetAt   time.Time           // when the relay that gave offset arrived; zero: the sender said no time
	sentAt     time.Time           // when the sender says it sent this relay, by its clock; zero: it did not say
	isolated   bool                // the relaying node said it was isolated
	key        string              // the sender's key that signed it (see keys.go); "": not signed
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

// View is the relayed view of a subject: a relay lists peers and targets
// apart, as the wire does.
func (r *RelayCopy) View(s Subject) (PeerView, bool) {
	if s.Kind == KindTarget {
		return r.Target(s.Name)
	}
	return r.Peer(s.Name)
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

// Saying returns a copy of r that carries what the relaying node said in
// it, and when it says it sent it by its own clock: zero when it did not
// say (a seed node, or an older Mesh). It takes said's maps over.
func (r *RelayCopy) Saying(said Said, sentAt time.Time) *RelayCopy {
	c := *r
	c.said = said
	if !sentAt.IsZero() {
		c.offset, c.offsetAt, c.sentAt = r.receivedAt.Sub(sentAt), r.receivedAt, sentAt
	}
	return &c
}

// SentAt is when the relay was sent, by this node's clock: the sender's
// stamp moved by its steadied offset, or when it came if the sender said
// no time. A relay that waited (this node was held up, and took it only
// after) is dated by when it was sent, not when it was taken.
func (r *RelayCopy) SentAt() time.Time {
	if r.sentAt.IsZero() {
		return r.receivedAt
	}
	return r.sentAt.Add(r.offset)
}

// OffsetMemory is how long the least delayed of a sender's relays stands
// for the offset of its clock.
const OffsetMemory = time.Minute

// SteadiedBy returns r with the offset of the least delayed relay of its
// sender in the last OffsetMemory: old's, the copy it replaces, if that
// came sooner. Each relay's offset is the clocks' difference plus its time
// on the way, which a relay stamped before its sender was held up (SIGSTOP,
// a long pause) and posted after makes seconds long; the least of them is
// the difference, and a late one must not move another node's times.
func (r *RelayCopy) SteadiedBy(old *RelayCopy) *RelayCopy {
	if old == nil || old.offsetAt.IsZero() || r.offsetAt.IsZero() || r.offsetAt.Sub(old.offsetAt) > OffsetMemory || old.offset >= r.offset {
		return r
	}
	c := *r
	c.offset, c.offsetAt = old.offset, old.offsetAt
	return &c
}

// Said is what the relaying node said, its times read against this node's
// clock: moved by how far the sender's clock was from this one's when the
// relay came (the time on the way counts in it, at most a probe timeout).
func (r *RelayCopy) Said() Said { return r.said.Shifted(r.offset) }

// Offset is how far this node's clock is ahead of the sender's, by the
// relay: what to add to the sender's times.
func (r *RelayCopy) Offset() time.Duration { return r.offset }

// MeasuredOffset returns how far this node's clock is ahead of the
// sender's, as the least delayed of its recent relays measured it (see
// SteadiedBy), and whether the sender said when it sent its relays at all.
func (r *RelayCopy) MeasuredOffset() (time.Duration, bool) {
	return r.offset, !r.offsetAt.IsZero()
}

// Isolating returns a copy of r from a node that says whether it is
// isolated.
func (r *RelayCopy) Isolating(isolated bool) *RelayCopy {
	c := *r
	c.isolated = isolated
	return &c
}

// Windows are the relaying node's own maintenance windows.
func (r *RelayCopy) Windows() []Window { return r.said.Windows }

// Silences are the silences the relaying node passed on.
func (r *RelayCopy) Silences() []Silence { return r.said.Silences }

// Leaving reports whether the relaying node said this was its last relay:
// it is stopping on purpose.
func (r *RelayCopy) Leaving() bool { return r.said.Leaving }

// Away returns the peers the sender holds as stopped on purpose and not
// back, with when each said so, by this node's clock: Said().Left without
// copying the rest of what the relay said, as the owner reads it of every
// relay.
func (r *RelayCopy) Away() map[string]time.Time {
	if len(r.said.Left) == 0 {
		return nil
	}
	return Said{Left: r.said.Left}.Shifted(r.offset).Left
}

// Isolated reports whether the relaying node said it was isolated: its
// view is no observation of its peers.
func (r *RelayCopy) Isolated() bool { return r.isolated }

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

// Snapshot is a node's whole view at one instant: its subjects (peers and
// targets) and the relays it holds. Its fields are unexported and it has no
// method that changes it, so readers (HTTP handlers, the relay sender, the
// metrics) share it freely and never wait on the state owner that made it.
type Snapshot struct {
	node    string
	entries []*Entry              // peers and targets, sorted by name, for binary search
	peers   int                   // how many of entries are peers
	relays  map[string]*RelayCopy // by sending node
	// verdicts are nil when not reached (a /state read from elsewhere).
	verdicts *Verdicts
	// isolated: this node has lost its own network (see LooksIsolated);
	// its view says little of its peers. isolations are its spells of it,
	// which its history marks.
	isolated   bool
	isolations Isolations
	// leaves are the peers that said they were stopping on purpose and
	// have not relayed since, or only just (see Left), and how long they
	// are stopped rather than down at most (ClusterRule.LeaveGrace).
	leaves     map[string]Leave
	leaveGrace time.Duration
	// silences are the cluster's silences this node knows, by ID.
	silences []Silence
	// targetWindows are the targets' maintenance windows, by name; a
	// peer's come in its relays.
	targetWindows map[string][]Window
	// maintained are each subject's spells of maintenance, oldest first,
	// which its history keeps.
	maintained map[string][]MaintenanceSpell
	// keys are the peers' keys pinned here, by name (see keys.go).
	keys map[string]string
}

// NewSnapshot returns the snapshot of node with these subjects and relays.
// It takes both over: the caller must not change them afterwards, and makes
// a new slice or map for the next snapshot (sharing the entries that did
// not change). entries must be sorted by name.
func NewSnapshot(node string, entries []*Entry, relays map[string]*RelayCopy) *Snapshot {
	if !slices.IsSortedFunc(entries, byName) {
		panic("domain: NewSnapshot: entries not sorted by name") // a bug in the caller
	}
	if relays == nil {
		relays = map[string]*RelayCopy{}
	}
	peers := 0
	for _, e := range entries {
		if e.Kind() == KindPeer {
			peers++
		}
	}
	return &Snapshot{node: node, entries: entries, peers: peers, relays: relays}
}

func byName(a, b *Entry) int { return cmp.Compare(a.Name(), b.Name()) }

// Subjects yields every entry, peers and targets, in name order.
func (s *Snapshot) Subjects() iter.Seq[*Entry] { return slices.Values(s.entries) }

// Peers yields the peers' entries in name order.
func (s *Snapshot) Peers() iter.Seq[*Entry] { return s.ofKind(KindPeer) }

// Targets yields the targets' entries in name order.
func (s *Snapshot) Targets() iter.Seq[*Entry] { return s.ofKind(KindTarget) }

func (s *Snapshot) ofKind(k Kind) iter.Seq[*Entry] {
	return func(yield func(*Entry) bool) {
		for _, e := range s.entries {
			if e.Kind() == k && !yield(e) {
				return
			}
		}
	}
}

// Len is the number of peers.
func (s *Snapshot) Len() int { return s.peers }

// TargetCount is the number of targets.
func (s *Snapshot) TargetCount() int { return len(s.entries) - s.peers }

// Entry returns the entry of one subject, if this node watches it.
func (s *Snapshot) Entry(name string) (*Entry, bool) {
	i, ok := slices.BinarySearchFunc(s.entries, name, func(e *Entry, name string) int { return cmp.Compare(e.Name(), name) })
	if !ok {
		return nil, false
	}
	return s.entries[i], true
}

// View returns this node's view of a subject.
func (s *Snapshot) View(name string) (PeerView, bool) {
	if e, ok := s.Entry(name); ok {
		return e.view, true
	}
	return PeerView{}, false
}

// Peer returns the view of one peer, if this node probes it.
func (s *Snapshot) Peer(name string) (PeerView, bool) {
	if e, ok := s.Entry(name); ok && e.Kind() == KindPeer {
		return e.view, true
	}
	return PeerView{}, false
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

// WithIsolations returns a copy of s that carries the node's spells of
// isolation.
func (s *Snapshot) WithIsolations(is Isolations) *Snapshot {
	c := *s
	c.isolations = is
	return &c
}

// WithLeaves returns a copy of s that carries the peers that left: when
// each said it was stopping and when it relayed again, and how long it is
// stopped for at most. It takes the map over.
func (s *Snapshot) WithLeaves(leaves map[string]Leave, grace time.Duration) *Snapshot {
	c := *s
	c.leaves, c.leaveGrace = leaves, grace
	return &c
}

// WithSilences returns a copy of s that carries the silences, sorted by
// ID. It takes the slice over.
func (s *Snapshot) WithSilences(silences []Silence) *Snapshot {
	c := *s
	c.silences = silences
	return &c
}

// WithTargetWindows returns a copy of s that carries the targets'
// maintenance windows, by name. It takes the map over.
func (s *Snapshot) WithTargetWindows(windows map[string][]Window) *Snapshot {
	c := *s
	c.targetWindows = windows
	return &c
}

// Silences are the silences this node knows, active and ended, by ID.
func (s *Snapshot) Silences() []Silence { return slices.Clone(s.silences) }

// Left returns the peer's leave, if it said it was stopping on purpose
// and has not relayed since, or only just.
func (s *Snapshot) Left(peer string) (Leave, bool) {
	l, ok := s.leaves[peer]
	return l, ok
}

// Away returns the peers that left and have not relayed since, with when
// each said so; nil when there are none.
func (s *Snapshot) Away() map[string]time.Time {
	var away map[string]time.Time
	for peer, l := range s.leaves {
		if l.Back.IsZero() {
			if away == nil {
				away = map[string]time.Time{}
			}
			away[peer] = l.At
		}
	}
	return away
}

// Leaves yields the peers that left, in name order.
func (s *Snapshot) Leaves() iter.Seq2[string, Leave] {
	return func(yield func(string, Leave) bool) {
		for _, name := range slices.Sorted(maps.Keys(s.leaves)) {
			if !yield(name, s.leaves[name]) {
				return
			}
		}
	}
}

// Isolations are the node's spells of isolation, oldest first.
func (s *Snapshot) Isolations() Isolations { return s.isolations }

// Verdicts are the cluster's verdicts on the subjects; nil when not reached.
func (s *Snapshot) Verdicts() *Verdicts { return s.verdicts }

// Node is the name of the node whose view this is.
func (s *Snapshot) Node() string { return s.node }

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
