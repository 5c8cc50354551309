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
	"github.com/dupunkto/mesh/actors/statefile"
)

// publishGap is the least time between two snapshots. A node with a
// thousand peers gets a probe result every millisecond; copying the peer
// list for each, and re-encoding /state, cost more than the probes did
// (BENCHMARKS.md). Results that come within the gap are applied as they
// come and published together, so a reader's view is at most this old. The
// first change after a quiet spell is published at once.
const publishGap = 20 * time.Millisecond

// Waker is woken from the owner's goroutine and must not block; a Signal
// is one.
type Waker interface {
	Notify()
}

// OwnerConfig is what the state owner is built from. Where the owner tells
// of its changes is given here, so that it is wired when it is built; each
// of those may be nil (or a nil *Signal or mailbox) when nobody listens.
type OwnerConfig struct {
	Node string
	// Subjects are the peers and targets the node watches: probed alike,
	// judged alike; only the peers take part in rounds and relays.
	Subjects []domain.Subject
	// Threshold is the consecutive failures before a peer is down.
	Threshold int
	// SuccessThreshold is how many successes in a row bring a down peer
	// back up; 0 is taken as 1, the seed's behaviour.
	SuccessThreshold int
	Boot             time.Time
	// Saved is what a state file kept of the subjects, by name: a subject
	// in Subjects but not there starts unknown, one there but not in
	// Subjects is dropped. Nil starts every subject unknown.
	Saved map[string]statefile.Subject
	// SavedIsolations are the spells of isolation a state file kept,
	// oldest first; one that lasted when the node stopped is taken to
	// have ended then.
	SavedIsolations []domain.Span
	// TargetWindows are the targets' maintenance windows, by name.
	TargetWindows map[string][]domain.Window
	// SavedSilences are the silences a state file kept.
	SavedSilences []domain.Silence
	// SavedLeaves are the peers a state file kept as stopped on purpose,
	// and when each said so.
	SavedLeaves map[string]time.Time
	// SavedKeys are the peers' keys a state file kept pinned, by name;
	// PeerKeys (PEER_KEYS) are the keys the operator gives, which replace
	// them: a peer rebuilt with a new key.
	SavedKeys, PeerKeys map[string]string

	// StatusChanged is woken after each change of status (the state file).
	StatusChanged Waker
	// RoundDone is woken each time every peer has been probed once since
	// the last time (the relay sender).
	RoundDone Waker
	// AlertsChanged is woken after each snapshot whose verdicts were
	// reached again, whose relays changed, or in which a target showed
	// another certificate: what the alert engine follows.
	AlertsChanged Waker
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
	isolated chan isolationNews
	silence  chan silenceOp

	// Owned by Serve's goroutine. They live in the struct, not in Serve, so
	// that when suture restarts the owner after a panic, it carries on with
	// the subjects' states it had.
	subjects  []*subjectState // sorted by name, as the snapshot's entries
	index     map[string]int
	peers     int             // how many subjects are peers
	probed    map[string]bool // peers probed since the last complete round
	published time.Time       // when the last snapshot was
	// What the current snapshot was made of. The owner never changes them
	// in place: a batch copies them first, since the snapshot shares them.
	entries []*domain.Entry
	relayed map[string]*domain.RelayCopy
	// The verdicts of the current snapshot, and when a relay they counted
	// goes stale: until then, only a change of status or of relays can
	// change them.
	verdicts      *domain.Verdicts
	verdictsUntil time.Time
	// isolation is what the isolation guard last said (see SetIsolated);
	// isolations, its spells, oldest first, the last ongoing while it
	// lasts. Published snapshots share isolations: it is replaced, never
	// changed in place.
	isolation  bool
	isolations []domain.Span
	// leaves are the peers that said, in their last relay, that they were
	// stopping on purpose, and when the word came; and when one relays
	// again, when that was: it is held a little longer, while this node's
	// probes see it up again, then forgotten. Replaced, never changed in
	// place: snapshots share it.
	leaves map[string]domain.Leave
	// silences are the cluster's silences, sorted by ID: made here (see
	// AddSilence) or passed on in relays. Replaced, never changed in place.
	silences []domain.Silence
	// maintained are each subject's spells of maintenance, by name, oldest
	// first (see recordMaintenance). Replaced, never changed in place.
	maintained map[string][]domain.MaintenanceSpell
	// keys are the peers' pinned keys, by name (see pinKey). Replaced,
	// never changed in place.
	keys map[string]string

	current atomic.Pointer[domain.Snapshot]

	// beforeApply lets tests make the owner panic mid-stream.
	beforeApply func(domain.ProbeResult)
}

type relayMsg struct {
	node string
	copy *domain.RelayCopy
}

// isolationNews is what the isolation guard says: that the node is
// isolated since at, or is back at.
type isolationNews struct {
	isolated bool
	at       time.Time
}

// NewOwner returns an owner whose subjects start as cfg.Saved left them,
// or unknown at cfg.Boot.
func NewOwner(cfg OwnerConfig) *Owner {
	subjects := slices.SortedFunc(slices.Values(cfg.Subjects), func(a, b domain.Subject) int { return cmp.Compare(a.Name, b.Name) })
	o := &Owner{
		cfg:      cfg,
		results:  make(chan domain.ProbeResult, len(subjects)+1), // each prober has at most one result in flight
		relays:   make(chan relayMsg, 16),
		isolated: make(chan isolationNews, 1),
		silence:  make(chan silenceOp),
		index:    make(map[string]int, len(subjects)),
		probed:   make(map[string]bool, len(subjects)),
		relayed:  map[string]*domain.RelayCopy{},
	}
	for i, s := range subjects {
		o.index[s.Name] = i
		p := newSubjectState(s, cfg.Boot)
		if r, ok := cfg.Saved[s.Name]; ok && r.Subject == s {
			p.view = r.View
			p.history = pruneHistory(slices.Clone(r.History), cfg.Boot)
			if spells := restoredSpells(r.Maintained, cfg.Boot); len(spells) > 0 {
				if o.maintained == nil {
					o.maintained = map[string][]domain.MaintenanceSpell{}
				}
				o.maintained[s.Name] = spells
			}
		}
		if s.Kind == domain.KindPeer {
			o.peers++
		}
		o.subjects = append(o.subjects, p)
		o.entries = append(o.entries, p.entry())
	}
	o.isolations = restoredIsolations(cfg.SavedIsolations, cfg.Boot)
	o.leaves = restoredLeaves(cfg.SavedLeaves, o.index, subjects, cfg)
	o.silences, _ = domain.MergeSilences(nil, cfg.SavedSilences, cfg.Boot)
	o.keys = restoredKeys(cfg.SavedKeys, cfg.PeerKeys, o.index, cfg.Log)
	snap, _ := o.withVerdicts(o.snapshot(), true, cfg.Boot)
	o.current.Store(snap)
	o.cfg.Saved, o.cfg.SavedIsolations, o.cfg.SavedLeaves, o.cfg.SavedSilences, o.cfg.SavedKeys = nil, nil, nil, nil, nil // restored; a state file's history can be large, so let it go
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
// (the isolation guard decides), since or until at: the snapshot says so,
// the verdicts leave this node's view out while it lasts, and the history
// keeps the spell. It waits for room or until ctx ends.
func (o *Owner) SetIsolated(ctx context.Context, isolated bool, at time.Time) error {
	select {
	case o.isolated <- isolationNews{isolated, at}:
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
	case op := <-o.silence:
		o.applySilence(&b, op)
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
	entries     []*domain.Entry // a private copy of the snapshot's entries, made on first change
	relayed     map[string]*domain.RelayCopy
	transitions []domain.Transition
	roundDone   bool
	isolation   bool     // the isolation changed
	silences    bool     // a silence was made, changed or let go
	replies     []func() // answers to send once the snapshot is published
	leaves      bool     // a peer left, or came back after it left
	opinions    bool     // a relay changed what the verdicts are reached from
	certs       bool     // a target showed another certificate
	keys        bool     // a peer's key was pinned
}

func (o *Owner) applyIsolated(b *batch, news isolationNews) {
	if news.isolated == o.isolation {
		return
	}
	o.isolation, b.isolation = news.isolated, true
	spells := pruneSpells(o.isolations, domain.MaxIsolations, news.at)
	if news.isolated {
		// A spell begins no earlier than the last one ended: the guard's
		// reckoning of its start looks back.
		from := news.at
		if n := len(spells); n > 0 {
			from = later(from, spells[n-1].To)
		}
		o.isolations = append(spells, domain.Span{From: from})
		return
	}
	if n := len(spells); n > 0 && spells[n-1].Ongoing() {
		spells[n-1].To = later(news.at, spells[n-1].From)
	}
	o.isolations = spells
}

// pruneSpells returns a copy of spells, of isolation or of maintenance,
// without those that ended domain.HistoryMaxAge before now, and with at
// most most less one, to leave room for the next.
func pruneSpells[S interface{ EndedBefore(time.Time) bool }](spells []S, most int, now time.Time) []S {
	cut := now.Add(-domain.HistoryMaxAge)
	i := 0
	for i < len(spells) && spells[i].EndedBefore(cut) {
		i++
	}
	i = max(i, len(spells)-(most-1))
	return slices.Clone(spells[i:])
}

// restoredIsolations are the spells a state file kept, as of boot: a spell
// that lasted when the node stopped ended then, which the node cannot
// know better than its boot.
func restoredIsolations(saved []domain.Span, boot time.Time) []domain.Span {
	spells := pruneSpells(saved, domain.MaxIsolations, boot)
	if n := len(spells); n > 0 && spells[n-1].Ongoing() {
		spells[n-1].To = later(boot, spells[n-1].From)
	}
	return spells
}

func (o *Owner) applyResult(b *batch, r domain.ProbeResult) {
	if o.beforeApply != nil {
		o.beforeApply(r)
	}
	i, ok := o.index[r.Subject.Name]
	if !ok {
		o.cfg.Log.Warn().Str(r.Subject.Kind.String(), r.Subject.Name).Msg("probe result for a subject this node does not watch; ignored")
		return
	}
	p := o.subjects[i]
	t, changed := p.observe(r.OK, r.At, o.cfg.Threshold, max(o.cfg.SuccessThreshold, 1))
	p.measured(r.RTT)
	if r.Cert != (domain.Cert{}) && r.Cert != p.cert {
		p.cert, b.certs = r.Cert, true
	}
	if changed {
		p.record(t)
		o.logTransition(t)
		b.transitions = append(b.transitions, t)
	}
	if b.entries == nil {
		b.entries = slices.Clone(o.entries)
	}
	b.entries[i] = p.entry()
	// A round is every peer probed once since the last: what a relay
	// tells. Targets are probed on the same grid but get no relays.
	if p.subject.Kind == domain.KindPeer {
		o.probed[r.Subject.Name] = true
		if len(o.probed) == o.peers {
			clear(o.probed)
			b.roundDone = true
		}
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
	if !o.pinKey(b, m.node, m.copy.Key()) {
		return
	}
	if b.relayed == nil {
		b.relayed = maps.Clone(o.relayed)
	}
	m.copy = m.copy.SteadiedBy(held[m.node])
	b.relayed[m.node] = m.copy
	o.noteLeave(b, m.node, m.copy)
	o.learnLeaves(b, m.node, m.copy)
	if merged, changed := domain.MergeSilences(o.silences, m.copy.Silences(), m.copy.ReceivedAt()); changed {
		o.silences, b.silences = merged, true
	}
	// The verdicts stand if the copy it replaces was fresh, and so counted
	// in them, and said the same: a node of a hundred gets a relay every
	// few milliseconds, nearly always one of those.
	old, ok := held[m.node]
	if !ok || time.Since(old.ReceivedAt()) > o.cfg.Cluster.Fresh || !old.SameOpinions(m.copy) {
		b.opinions = true
	}
}

// noteLeave keeps a peer's word, in its last relay, that it is stopping
// on purpose, and notes when a relay of it says nothing of the kind: it
// is back. Without a LEAVE_GRACE, a leave changes nothing and is not kept.
func (o *Owner) noteLeave(b *batch, node string, r *domain.RelayCopy) {
	l, left := o.leaves[node]
	switch {
	case o.cfg.Cluster.LeaveGrace <= 0:
		return
	case r.Leaving() && (!left || !l.Back.IsZero()):
		// Dated by when it was said: a relay this node took late (it was
		// held up) must not make the leave look later than the peer's
		// return or its crash, as other nodes learn it from this one.
		l = domain.Leave{At: r.SentAt()}
		o.cfg.Log.Info().Str("peer", node).Str("grace", o.cfg.Cluster.LeaveGrace.String()).Msg("peer is stopping on purpose; it shows stopped, not down, for the grace")
	case !r.Leaving() && left && l.Back.IsZero():
		l.Back = r.ReceivedAt()
		o.cfg.Log.Info().Str("peer", node).Msg("peer that stopped on purpose relays again")
	default:
		return
	}
	leaves := maps.Clone(o.leaves)
	if leaves == nil {
		leaves = map[string]domain.Leave{}
	}
	leaves[node] = l
	o.leaves, b.leaves = leaves, true
}

// learnLeaves takes from a peer's relay the leaves it holds of peers this
// node holds none of: a node stopped, frozen or cut off when a peer left
// did not hear that peer say so, and without this would page for a
// restart every other node keeps quiet about. It takes one only while it
// has not seen that peer since it left, and within the grace.
func (o *Owner) learnLeaves(b *batch, from string, r *domain.RelayCopy) {
	if o.cfg.Cluster.LeaveGrace <= 0 {
		return
	}
	left := r.Away()
	entries := o.entries
	if b.entries != nil {
		entries = b.entries
	}
	for peer, at := range left {
		i, ok := o.index[peer]
		if _, held := o.leaves[peer]; held || !ok || peer == from || entries[i].Kind() != domain.KindPeer || time.Since(at) >= o.cfg.Cluster.LeaveGrace {
			continue
		}
		if seen := entries[i].View().LastSeen; !seen.IsZero() && !seen.Before(at) {
			continue // seen since: back already, or never gone from here
		}
		leaves := maps.Clone(o.leaves)
		if leaves == nil {
			leaves = map[string]domain.Leave{}
		}
		leaves[peer] = domain.Leave{At: at}
		o.leaves, b.leaves = leaves, true
		o.cfg.Log.Info().Str("peer", peer).Str("from", from).Str("grace", o.cfg.Cluster.LeaveGrace.String()).
			Msg("peer stopped on purpose, as another node heard it say; it shows stopped, not down, for the grace")
	}
}

// forgetLeaves lets go of the leave of a peer that is back once this
// node's own probes see it up and the relays that count in the verdicts
// are from after its return (the rule's Fresh): its first relay comes a
// round or so before its observers' probes see it up (SUCCESS_THRESHOLD
// probes), and until they do it is held as stopped, not found down.
func (o *Owner) forgetLeaves(b *batch, now time.Time) {
	back := func(peer string, l domain.Leave) bool {
		if l.Back.IsZero() || now.Sub(l.Back) < o.cfg.Cluster.Fresh {
			return false
		}
		i, ok := o.index[peer]
		return ok && o.entries[i].View().Status == domain.StatusUp
	}
	for peer, l := range o.leaves {
		if back(peer, l) {
			o.leaves = maps.Clone(o.leaves)
			maps.DeleteFunc(o.leaves, back)
			b.leaves = true
			o.cfg.Log.Debug().Str("peer", peer).Msg("a peer back from a stop on purpose is judged as any other again")
			return
		}
	}
}

// restoredLeaves are the leaves a state file kept of peers this node
// still has, and not older than the history a node keeps: a peer gone
// for longer is long past its grace, and its outage long told.
func restoredLeaves(saved map[string]time.Time, index map[string]int, subjects []domain.Subject, cfg OwnerConfig) map[string]domain.Leave {
	leaves := map[string]domain.Leave{}
	for peer, at := range saved {
		if i, ok := index[peer]; ok && subjects[i].Kind == domain.KindPeer && cfg.Boot.Sub(at) < domain.HistoryMaxAge && cfg.Cluster.LeaveGrace > 0 {
			leaves[peer] = domain.Leave{At: at}
		}
	}
	return leaves
}

func (o *Owner) publish(b *batch) {
	defer func() {
		for _, reply := range b.replies {
			reply()
		}
	}()
	if b.entries == nil && b.relayed == nil && !b.isolation && !b.silences && !b.keys {
		return
	}
	if b.entries != nil {
		o.entries = b.entries
	}
	if b.relayed != nil {
		o.relayed = b.relayed
	}
	now := time.Now()
	o.forgetLeaves(b, now)
	base := o.snapshot()
	maintained := o.recordMaintenance(base, now)
	if maintained {
		base = base.WithMaintained(o.maintained)
	}
	snap, reached := o.withVerdicts(base, len(b.transitions) > 0 || b.opinions || b.isolation || b.leaves, now)
	o.current.Store(snap)
	o.published = now
	if (reached || b.relayed != nil || b.certs || b.silences) && o.cfg.AlertsChanged != nil {
		o.cfg.AlertsChanged.Notify()
	}
	for _, t := range b.transitions {
		o.cfg.Metrics.Transition(t)
	}
	if (len(b.transitions) > 0 || b.isolation || b.leaves || b.silences || b.keys || maintained) && o.cfg.StatusChanged != nil {
		o.cfg.StatusChanged.Notify() // the state file keeps the spells, the leaves and the keys too
	}
	if b.roundDone && o.cfg.RoundDone != nil {
		o.cfg.RoundDone.Notify()
	}
}

// snapshot is a new snapshot of what the owner holds, without verdicts.
func (o *Owner) snapshot() *domain.Snapshot {
	return domain.NewSnapshot(o.cfg.Node, o.entries, o.relayed).WithIsolated(o.isolation).WithIsolations(domain.NewIsolations(o.isolations)).WithLeaves(o.leaves, o.cfg.Cluster.LeaveGrace).WithSilences(o.silences).WithTargetWindows(o.cfg.TargetWindows).WithMaintained(o.maintained).WithKeys(o.keys)
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
	var ev *zerolog.Event
	switch {
	case t.To == domain.StatusDown:
		ev = log.Warn()
	case t.From == domain.StatusUnknown:
		// First seen up: at start, every peer and target of the node; a
		// line each would bury the start (156 of them in a 12-node demo).
		ev = log.Debug()
	default:
		ev = log.Info()
	}
	what := t.Subject.Kind.String()
	ev = ev.Str(what, t.Subject.Name).Str("status", string(t.To)).Str("previous", string(t.From)).Int("failures", t.Failures)
	if !t.DownSince.IsZero() && t.To == domain.StatusUp {
		// A clock stepped back mid-outage must not log a negative downtime.
		ev = ev.Int64("duration_ms", max(t.At.Sub(t.DownSince), 0).Milliseconds())
	}
	ev.Msgf("%s is %s", what, t.To)
}
