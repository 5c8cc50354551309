package actors

import (
	"context"
	"maps"
	"slices"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
)

// publishGap is the least time between two snapshots. A node with a
// thousand peers gets a probe result every millisecond; copying the peer
// list for each, and re-encoding /state, cost more than the probes did
// (BENCHMARKS.md). Results that come within the gap are applied as they
// come and published together, so a reader's view is at most this old. The
// first change after a quiet spell is published at once.
const publishGap = 20 * time.Millisecond

// TransitionSink receives the owner's transitions. Its method is called from
// the owner's goroutine and must not block: a sink hands the transition to
// its own actor (a buffered channel, a coalescing flag) and returns.
type TransitionSink interface {
	Transition(Transition)
}

// OwnerConfig is what the state owner is built from.
type OwnerConfig struct {
	Node      string
	Peers     []string // names, as config.Peer.Name
	Threshold int      // consecutive failures before a peer is down
	Boot      time.Time
	// Restored holds what a state file kept of the peers; a peer in Peers
	// but not here starts unknown, one here but not in Peers is dropped.
	Restored map[string]RestoredPeer
	Log      zerolog.Logger
}

// RestoredPeer is one peer as a previous run left it.
type RestoredPeer struct {
	View    PeerView
	History []HistoryEntry
}

// Owner is the state owner: its loop is the only code that reads or writes
// peer and relay state. It applies probe results and relays sent to it, and
// publishes an immutable Snapshot after each batch of changes.
type Owner struct {
	node      string
	threshold int
	log       zerolog.Logger
	sinks     []TransitionSink
	roundDone func()

	results chan ProbeResult
	relays  chan relayMsg

	// Owned by Serve's goroutine. They live in the struct, not in Serve, so
	// that when suture restarts the owner after a panic, it carries on with
	// the peers' states it had.
	peers     []*peerState // in the order of Snapshot.Peers
	index     map[string]int
	probed    map[string]bool // peers probed since the last complete round
	published time.Time       // when the last snapshot was

	current atomic.Pointer[Snapshot]

	// beforeApply lets tests make the owner panic mid-stream.
	beforeApply func(ProbeResult)
}

type relayMsg struct {
	node string
	copy *RelayCopy
}

// NewOwner returns an owner whose peers all start unknown at cfg.Boot.
func NewOwner(cfg OwnerConfig) *Owner {
	names := slices.Clone(cfg.Peers)
	slices.Sort(names)
	o := &Owner{
		node:      cfg.Node,
		threshold: cfg.Threshold,
		log:       cfg.Log,
		results:   make(chan ProbeResult, len(names)+1), // each prober has at most one result in flight
		relays:    make(chan relayMsg, 16),
		index:     make(map[string]int, len(names)),
		probed:    make(map[string]bool, len(names)),
	}
	entries := make([]*PeerEntry, len(names))
	for i, name := range names {
		o.index[name] = i
		p := newPeerState(cfg.Boot)
		if r, ok := cfg.Restored[name]; ok {
			p.view = r.View
			p.history = pruneHistory(slices.Clone(r.History), cfg.Boot)
		}
		o.peers = append(o.peers, p)
		entries[i] = &PeerEntry{Name: name, View: p.view, History: p.history}
	}
	o.current.Store(&Snapshot{Node: cfg.Node, Peers: entries, Relay: map[string]*RelayCopy{}})
	return o
}

// Subscribe adds a sink for transitions. Call it before Serve starts.
func (o *Owner) Subscribe(s TransitionSink) { o.sinks = append(o.sinks, s) }

// OnRoundComplete sets what the owner calls (without blocking, from its own
// goroutine) each time every peer has been probed once since the last call.
// Call it before Serve starts.
func (o *Owner) OnRoundComplete(f func()) { o.roundDone = f }

func (o *Owner) String() string { return "state-owner" }

// Snapshot returns the latest published view. It never waits on the owner.
func (o *Owner) Snapshot() *Snapshot { return o.current.Load() }

// Report hands a probe result to the owner. It waits for room in the inbox,
// or until ctx ends.
func (o *Owner) Report(ctx context.Context, r ProbeResult) error {
	select {
	case o.results <- r:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// StoreRelay hands a validated relay from node to the owner, to be kept as
// relay[node] = {received_at: at, peers}. It waits for room or until ctx ends.
func (o *Owner) StoreRelay(ctx context.Context, node string, peers map[string]PeerView, at time.Time) error {
	select {
	case o.relays <- relayMsg{node: node, copy: &RelayCopy{ReceivedAt: Time{at}, Peers: peers}}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Serve runs the owner's loop: take one message, apply whatever else comes
// before publishGap since the last snapshot is over, publish, and tell the
// subscribers.
func (o *Owner) Serve(ctx context.Context) error {
	for {
		if err := o.turn(ctx); err != nil {
			return err
		}
	}
}

// turn is one pass of the loop. It publishes in a defer so that even if
// applying a message panics, what was applied before it is published and
// announced: the peers' states and what subscribers heard never disagree
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
		case <-gapOver:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// batch collects what one turn of the loop changed, so that the snapshot is
// copied once per turn and subscribers hear of changes only once they are
// visible in the published snapshot.
type batch struct {
	peers       []*PeerEntry // a private copy of the snapshot's peers, made on first change
	relay       map[string]*RelayCopy
	transitions []Transition
	roundDone   bool
}

func (o *Owner) applyResult(b *batch, r ProbeResult) {
	if o.beforeApply != nil {
		o.beforeApply(r)
	}
	i, ok := o.index[r.Peer]
	if !ok {
		o.log.Warn().Str("peer", r.Peer).Msg("probe result for a peer this node does not probe; ignored")
		return
	}
	p := o.peers[i]
	t, changed := p.observe(r.OK, r.At, o.threshold, r.Peer)
	p.view.RTT = Millis(r.RTT)
	if b.peers == nil {
		b.peers = slices.Clone(o.current.Load().Peers)
	}
	if changed {
		p.record(t)
		o.logTransition(t)
		b.transitions = append(b.transitions, t)
	}
	b.peers[i] = &PeerEntry{Name: r.Peer, View: p.view, History: p.history}
	o.probed[r.Peer] = true
	if len(o.probed) == len(o.peers) {
		clear(o.probed)
		b.roundDone = true
	}
}

func (o *Owner) applyRelay(b *batch, m relayMsg) {
	if b.relay == nil {
		b.relay = maps.Clone(o.current.Load().Relay)
	}
	b.relay[m.node] = m.copy
}

func (o *Owner) publish(b *batch) {
	cur := o.current.Load()
	if b.peers == nil && b.relay == nil {
		return
	}
	next := &Snapshot{Node: o.node, Peers: cur.Peers, Relay: cur.Relay}
	if b.peers != nil {
		next.Peers = b.peers
	}
	if b.relay != nil {
		next.Relay = b.relay
	}
	o.current.Store(next)
	o.published = time.Now()
	for _, t := range b.transitions {
		for _, s := range o.sinks {
			s.Transition(t)
		}
	}
	if b.roundDone && o.roundDone != nil {
		o.roundDone()
	}
}

func (o *Owner) logTransition(t Transition) {
	ev := o.log.Info()
	if t.To == StatusDown {
		ev = o.log.Warn()
	}
	ev = ev.Str("peer", t.Peer).Str("status", string(t.To)).Str("previous", string(t.From)).Int("failures", t.Failures)
	if !t.DownSince.IsZero() && t.To == StatusUp {
		ev = ev.Int64("duration_ms", t.At.Sub(t.DownSince).Milliseconds())
	}
	ev.Msgf("peer is %s", t.To)
}
