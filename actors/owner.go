package actors

import (
	"cmp"
	"context"
	"maps"
	"slices"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/dupunkto/mesh/actors/domain"
	"github.com/dupunkto/mesh/config"
)

// publishGap is the least time between two snapshots. A node with a
// thousand peers gets a probe result every millisecond; copying the peer
// list for each, and re-encoding /state, cost more than the probes did
// (BENCHMARKS.md). Results that come within the gap are applied as they
// come and published together, so a reader's view is at most this old. The
// first change after a quiet spell is published at once.
const publishGap = 20 * time.Millisecond

// TransitionSink takes the owner's transitions. Put is called from the
// owner's goroutine and must not block; the notifier's mailbox is one.
type TransitionSink interface {
	Put(domain.Transition)
}

// Waker is woken from the owner's goroutine and must not block; a Signal
// is one.
type Waker interface {
	Notify()
}

// OwnerConfig is what the state owner is built from. Where the owner tells
// of its changes is given here, so that it is wired when it is built; each
// of those may be nil (or a nil *Signal or mailbox) when nobody listens.
type OwnerConfig struct {
	Node    string
	Peers   []config.Peer
	Targets []config.Target // probed like peers, judged like peers, relayed to nobody
	// Threshold is the consecutive failures before a peer is down.
	Threshold int
	// SuccessThreshold is how many successes in a row bring a down peer
	// back up; 0 is taken as 1, the seed's behaviour.
	SuccessThreshold int
	Boot             time.Time
	// Saved is what a state file kept of the peers: a peer in Peers but not
	// there starts unknown, one there but not in Peers is dropped. Nil
	// starts every peer unknown.
	Saved *SavedState

	// Transitions hears of each change of status (the notifier's inbox).
	Transitions TransitionSink
	// StatusChanged is woken after each change of status (the state file).
	StatusChanged Waker
	// RoundDone is woken each time every peer has been probed once since
	// the last time (the relay sender).
	RoundDone Waker
	// ClusterChanged is woken after each snapshot whose verdicts were
	// reached again or whose relays changed (the cluster notifier).
	ClusterChanged Waker
	// Cluster is how the cluster's verdicts on the peers are reached from
	// this node's view and the fresh relays it holds.
	Cluster domain.ClusterRule
	Metrics *Metrics // counts transitions; nil counts nothing
	Log     zerolog.Logger
}

// Owner is the state owner: its loop is the only code that reads or writes
// peer and relay state. It applies probe results and relays sent to it, and
// publishes an immutable domain.Snapshot after each batch of changes.
type Owner struct {
	cfg OwnerConfig

	results  chan domain.ProbeResult
	relays   chan relayMsg
	isolated chan bool

	// Owned by Serve's goroutine. They live in the struct, not in Serve, so
	// that when suture restarts the owner after a panic, it carries on with
	// the peers' states it had.
	peers     []*peerState // sorted by name, as the snapshot's entries
	index     map[string]int
	targets   []*peerState // sorted by name; a target is kept as a peer is
	targetIdx map[string]int
	probed    map[string]bool // peers probed since the last complete round
	published time.Time       // when the last snapshot was
	// What the current snapshot was made of. The owner never changes them
	// in place: a batch copies them first, since the snapshot shares them.
	entries       []*domain.PeerEntry
	targetEntries []*domain.PeerEntry
	relayed       map[string]*domain.RelayCopy
	// The verdicts of the current snapshot, and when a relay they counted
	// goes stale: until then, only a change of status or of relays can
	// change them.
	verdicts      *domain.Verdicts
	verdictsUntil time.Time
	// isolation is what the isolation guard last said (see SetIsolated).
	isolation bool

	current atomic.Pointer[domain.Snapshot]

	// beforeApply lets tests make the owner panic mid-stream.
	beforeApply func(domain.ProbeResult)
}

type relayMsg struct {
	node string
	copy *domain.RelayCopy
}

// NewOwner returns an owner whose peers start as cfg.Saved left them, or
// unknown at cfg.Boot.
func NewOwner(cfg OwnerConfig) *Owner {
	peers := slices.SortedFunc(slices.Values(cfg.Peers), func(a, b config.Peer) int { return cmp.Compare(a.Name, b.Name) })
	o := &Owner{
		cfg:      cfg,
		results:  make(chan domain.ProbeResult, len(peers)+len(cfg.Targets)+1), // each prober has at most one result in flight
		relays:   make(chan relayMsg, 16),
		isolated: make(chan bool, 1),
		index:    make(map[string]int, len(peers)),
		probed:   make(map[string]bool, len(peers)),
		relayed:  map[string]*domain.RelayCopy{},
	}
	restored := cfg.Saved.Restored()
	restore := func(name string) *peerState {
		p := newPeerState(name, cfg.Boot)
		if r, ok := restored[name]; ok {
			p.view = r.View
			p.history = pruneHistory(slices.Clone(r.History), cfg.Boot)
		}
		return p
	}
	for i, peer := range peers {
		o.index[peer.Name] = i
		p := restore(peer.Name)
		o.peers = append(o.peers, p)
		o.entries = append(o.entries, p.entry())
	}
	targets := slices.SortedFunc(slices.Values(cfg.Targets), func(a, b config.Target) int { return cmp.Compare(a.Name, b.Name) })
	o.targetIdx = make(map[string]int, len(targets))
	for i, t := range targets {
		o.targetIdx[t.Name] = i
		p := restore(t.Name)
		o.targets = append(o.targets, p)
		o.targetEntries = append(o.targetEntries, p.entry())
	}
	snap, _ := o.withVerdicts(o.snapshot(), true, cfg.Boot)
	o.current.Store(snap)
	o.cfg.Saved = nil // restored; a state file's history can be large, so let it go
	return o
}

func (o *Owner) String() string { return "state-owner" }

// Snapshot returns the latest published view. It never waits on the owner.
func (o *Owner) Snapshot() *domain.Snapshot { return o.current.Load() }

// Report hands a probe result to the owner. It waits for room in the inbox,
// or until ctx ends.
func (o *Owner) Report(ctx context.Context, r domain.ProbeResult) error {
	select {
	case o.results <- r:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// StoreRelay hands a validated relay from node to the owner, to be kept as
// relay[node]. It waits for room or until ctx ends.
func (o *Owner) StoreRelay(ctx context.Context, node string, copy *domain.RelayCopy) error {
	select {
	case o.relays <- relayMsg{node: node, copy: copy}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// SetIsolated tells the owner whether this node has lost its own network
// (the isolation guard decides): the snapshot says so, and the verdicts
// leave this node's view out while it lasts. It waits for room or until
// ctx ends.
func (o *Owner) SetIsolated(ctx context.Context, isolated bool) error {
	select {
	case o.isolated <- isolated:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Serve runs the owner's loop: take one message, apply whatever else comes
// before publishGap since the last snapshot is over, publish, and tell the
// listeners.
func (o *Owner) Serve(ctx context.Context) error {
	for {
		if err := o.turn(ctx); err != nil {
			return err
		}
	}
}

// turn is one pass of the loop. It publishes in a defer so that even if
// applying a message panics, what was applied before it is published and
// announced: the peers' states and what listeners heard never disagree
// when suture restarts the owner.
func (o *Owner) turn(ctx context.Context) error {
	var b batch
	defer o.publish(&b)
	select {
	case <-ctx.Done():
		return ctx.Err()
	case r := <-o.results:
		o.applyResult(&b, r)
	case m := <-o.relays:
		o.applyRelay(&b, m)
	case i := <-o.isolated:
		o.applyIsolated(&b, i)
	}
	var gapOver <-chan time.Time
	if wait := time.Until(o.published.Add(publishGap)); wait > 0 {
		timer := time.NewTimer(wait)
		defer timer.Stop()
		gapOver = timer.C
	}
	for {
		// What is queued already goes into this snapshot. The queue is
		// bounded (one result per prober), so this ends.
		select {
		case r := <-o.results:
			o.applyResult(&b, r)
			continue
		case m := <-o.relays:
			o.applyRelay(&b, m)
			continue
		case i := <-o.isolated:
			o.applyIsolated(&b, i)
			continue
		default:
		}
		if gapOver == nil {
			return nil
		}
		select {
		case r := <-o.results:
			o.applyResult(&b, r)
		case m := <-o.relays:
			o.applyRelay(&b, m)
		case i := <-o.isolated:
			o.applyIsolated(&b, i)
		case <-gapOver:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// batch collects what one turn of the loop changed, so that the snapshot is
// copied once per turn and listeners hear of changes only once they are
// visible in the published snapshot.
type batch struct {
	entries     []*domain.PeerEntry // a private copy of the snapshot's entries, made on first change
	targets     []*domain.PeerEntry // the same of the targets' entries
	relayed     map[string]*domain.RelayCopy
	transitions []domain.Transition
	roundDone   bool
	isolation   bool // the isolation changed
	opinions    bool // a relay changed what the verdicts are reached from
}

func (o *Owner) applyIsolated(b *batch, isolated bool) {
	if isolated != o.isolation {
		o.isolation, b.isolation = isolated, true
	}
}

func (o *Owner) applyResult(b *batch, r domain.ProbeResult) {
	if o.beforeApply != nil {
		o.beforeApply(r)
	}
	i, ok := o.index[r.Peer]
	if !ok {
		if i, ok = o.targetIdx[r.Peer]; ok {
			o.applyTargetResult(b, i, r)
			return
		}
		o.cfg.Log.Warn().Str("peer", r.Peer).Msg("probe result for a peer this node does not probe; ignored")
		return
	}
	p := o.peers[i]
	o.observe(b, p, r)
	if b.entries == nil {
		b.entries = slices.Clone(o.entries)
	}
	b.entries[i] = p.entry()
	o.probed[r.Peer] = true
	if len(o.probed) == len(o.peers) {
		clear(o.probed)
		b.roundDone = true
	}
}

// applyTargetResult applies a target's probe: as a peer's, but a target
// has no part in a round, which is about the peers a relay goes to.
func (o *Owner) applyTargetResult(b *batch, i int, r domain.ProbeResult) {
	p := o.targets[i]
	o.observe(b, p, r)
	if r.Cert != (domain.Cert{}) {
		p.cert = r.Cert
	}
	if b.targets == nil {
		b.targets = slices.Clone(o.targetEntries)
	}
	b.targets[i] = p.entry()
}

// observe applies one probe outcome to a peer or a target, and keeps the
// transition it causes.
func (o *Owner) observe(b *batch, p *peerState, r domain.ProbeResult) {
	t, changed := p.observe(r.OK, r.At, o.cfg.Threshold, max(o.cfg.SuccessThreshold, 1))
	p.measured(r.RTT)
	if changed {
		p.record(t)
		o.logTransition(t)
		b.transitions = append(b.transitions, t)
	}
}

// applyRelay keeps a relay unless the view held from that node is newer by
// its own times: a relay replayed, or one overtaken by the next round on
// the way, must not turn this node's copy back.
func (o *Owner) applyRelay(b *batch, m relayMsg) {
	held := o.relayed
	if b.relayed != nil {
		held = b.relayed
	}
	if old, ok := held[m.node]; ok && !old.Supersedes(m.copy.Newest(), m.copy.ReceivedAt()) {
		o.cfg.Log.Debug().Str("peer", m.node).Msg("relay older than the view held; ignored")
		return
	}
	if b.relayed == nil {
		b.relayed = maps.Clone(o.relayed)
	}
	b.relayed[m.node] = m.copy
	// The verdicts stand if the copy it replaces was fresh, and so counted
	// in them, and said the same: a node of a hundred gets a relay every
	// few milliseconds, nearly always one of those.
	old, ok := held[m.node]
	if !ok || time.Since(old.ReceivedAt()) > o.cfg.Cluster.Fresh || !old.SameOpinions(m.copy) {
		b.opinions = true
	}
}

func (o *Owner) publish(b *batch) {
	if b.entries == nil && b.targets == nil && b.relayed == nil && !b.isolation {
		return
	}
	if b.entries != nil {
		o.entries = b.entries
	}
	if b.targets != nil {
		o.targetEntries = b.targets
	}
	if b.relayed != nil {
		o.relayed = b.relayed
	}
	now := time.Now()
	snap, reached := o.withVerdicts(o.snapshot(), len(b.transitions) > 0 || b.opinions || b.isolation, now)
	o.current.Store(snap)
	o.published = now
	if (reached || b.relayed != nil) && o.cfg.ClusterChanged != nil {
		o.cfg.ClusterChanged.Notify()
	}
	for _, t := range b.transitions {
		o.cfg.Metrics.Transition(t)
		if o.cfg.Transitions != nil {
			o.cfg.Transitions.Put(t)
		}
		if o.cfg.StatusChanged != nil {
			o.cfg.StatusChanged.Notify()
		}
	}
	if b.roundDone && o.cfg.RoundDone != nil {
		o.cfg.RoundDone.Notify()
	}
}

// snapshot is a new snapshot of what the owner holds, without verdicts.
func (o *Owner) snapshot() *domain.Snapshot {
	s := domain.NewSnapshot(o.cfg.Node, o.entries, o.relayed).WithIsolated(o.isolation)
	if len(o.targetEntries) > 0 {
		s = s.WithTargets(o.targetEntries)
	}
	return s
}

// withVerdicts returns s with the cluster's verdicts: those of the last
// snapshot while they stand, or reached again when a status or the relays
// changed, or a relay they counted went stale. It reports whether they
// were reached again.
func (o *Owner) withVerdicts(s *domain.Snapshot, changed bool, now time.Time) (*domain.Snapshot, bool) {
	stale := !o.verdictsUntil.IsZero() && !now.Before(o.verdictsUntil)
	reached := changed || stale || o.verdicts == nil
	if reached {
		o.verdicts = domain.ComputeVerdicts(s, o.cfg.Cluster, now)
		o.verdictsUntil = domain.NextExpiry(s, o.cfg.Cluster, now)
	}
	return s.WithVerdicts(o.verdicts), reached
}

func (o *Owner) logTransition(t domain.Transition) {
	log := o.cfg.Log
	ev := log.Info()
	if t.To == domain.StatusDown {
		ev = log.Warn()
	}
	what := subjectField(t.Peer)
	ev = ev.Str(what, t.Peer).Str("status", string(t.To)).Str("previous", string(t.From)).Int("failures", t.Failures)
	if !t.DownSince.IsZero() && t.To == domain.StatusUp {
		// A clock stepped back mid-outage must not log a negative downtime.
		ev = ev.Int64("duration_ms", max(t.At.Sub(t.DownSince), 0).Milliseconds())
	}
	ev.Msgf("%s is %s", what, t.To)
}
