package domain

import (
	"iter"
	"slices"
	"strings"
	"time"
)

// ClusterStatus is what the cluster, as one node can tell, says of a peer.
type ClusterStatus string

// The three cluster verdicts.
const (
	ClusterUp      ClusterStatus = "up"      // a majority of its observers see it up
	ClusterPartial ClusterStatus = "partial" // neither: some cannot reach it, or too few know
	ClusterDown    ClusterStatus = "down"    // at least a quorum of its observers see it down
	// ClusterStopped: the peer said it was stopping on purpose, less than
	// the rule's LeaveGrace ago, and has not relayed since: a reboot or an
	// upgrade, not an outage, whatever its observers see.
	ClusterStopped ClusterStatus = "stopped"
)

// Verdict is the cluster's verdict on one subject, with the vantage
// points: the observers that see it down and those that see it up, in
// name order.
type Verdict struct {
	subject  Subject
	status   ClusterStatus
	downFrom []string
	upFrom   []string
	// stopped: the subject is a peer that said it was stopping on
	// purpose, within the grace (ClusterRule.Stopped).
	stopped bool
}

// Subject is what the verdict is on.
func (v Verdict) Subject() Subject { return v.subject }

// Name is the name of the subject the verdict is on.
func (v Verdict) Name() string { return v.subject.Name }

// Status is the verdict: ClusterStopped for a peer stopped on purpose,
// else what its observers see (Observed).
func (v Verdict) Status() ClusterStatus {
	if v.stopped {
		return ClusterStopped
	}
	return v.status
}

// Observed is what the subject's observers see of it, stopped or not.
func (v Verdict) Observed() ClusterStatus { return v.status }

// DownFrom are the observers that see the peer down.
func (v Verdict) DownFrom() []string { return slices.Clone(v.downFrom) }

// UpFrom are the observers that see the peer up.
func (v Verdict) UpFrom() []string { return slices.Clone(v.upFrom) }

// Verdicts are the cluster's verdicts on every subject of a node, in name
// order. A snapshot shares them with the next while they stand.
type Verdicts struct{ list []Verdict }

// All yields the verdicts in name order.
func (vs *Verdicts) All() iter.Seq[Verdict] {
	return func(yield func(Verdict) bool) {
		if vs == nil {
			return
		}
		for _, v := range vs.list {
			if !yield(v) {
				return
			}
		}
	}
}

// Of returns the verdict on the subject of that name.
func (vs *Verdicts) Of(name string) (Verdict, bool) {
	if vs == nil {
		return Verdict{}, false
	}
	i, ok := slices.BinarySearchFunc(vs.list, name, func(v Verdict, name string) int { return strings.Compare(v.Name(), name) })
	if !ok {
		return Verdict{}, false
	}
	return vs.list[i], true
}

// ClusterRule is how verdicts are reached.
type ClusterRule struct {
	// Fresh is how recent a relayed view must be to count: received within
	// this long before now.
	Fresh time.Duration
	// Quorum is how many observers seeing a peer down make it down for the
	// cluster; 0 is a majority of its observers, and never fewer than 2
	// when there are 2 or more.
	Quorum int
	// LeaveGrace is how long a peer that said it was leaving (see
	// Snapshot.Left) is stopped rather than down (ClusterStopped); 0
	// judges it as any other, as before nodes said they left.
	LeaveGrace time.Duration
}

// quorum is the number of down observers, out of n, that make a peer down.
func (r ClusterRule) quorum(n int) int {
	if r.Quorum > 0 {
		return r.Quorum
	}
	q := n/2 + 1
	if n >= 2 {
		q = max(q, 2)
	}
	return q
}

// ComputeVerdicts reaches the cluster's verdict on every peer of s, as the
// node s is of can tell at now: its own view of each peer, and the view of
// every other node it holds a fresh relay from. The observers of peer P are
// this node and the relaying nodes other than P whose fresh view lists P,
// leaving out any node that is isolated (this one, or one whose relay says
// so): its view says nothing of P.
// P is down when at least the quorum of its observers see it down, up when
// more than half see it up, else partial.
//
// A target (TARGETS) is judged the same way from the relays' "targets";
// it is no node, so every node but an isolated one observes it.
func ComputeVerdicts(s *Snapshot, rule ClusterRule, now time.Time) *Verdicts {
	type fresh struct {
		node string
		copy *RelayCopy
	}
	var relays []fresh
	for node, r := range s.Relays() {
		if node != s.node && now.Sub(r.ReceivedAt()) <= rule.Fresh && !r.Isolated() {
			relays = append(relays, fresh{node, r})
		}
	}
	vs := &Verdicts{list: make([]Verdict, 0, len(s.entries))}
	for _, e := range s.entries {
		v := Verdict{subject: e.subject}
		n := 0
		see := func(observer string, status Status) {
			n++
			switch status {
			case StatusDown:
				v.downFrom = append(v.downFrom, observer)
			case StatusUp:
				v.upFrom = append(v.upFrom, observer)
			}
		}
		if !s.isolated {
			see(s.node, e.view.Status)
		}
		for _, r := range relays {
			if r.node == e.Name() {
				continue // a node's word on itself is not an observation
			}
			if pv, ok := r.copy.View(e.subject); ok {
				see(r.node, pv.Status)
			}
		}
		slices.Sort(v.downFrom)
		slices.Sort(v.upFrom)
		m, held := s.Maintenance(e.Name(), now)
		v.stopped = held && m.Reason == MaintenanceLeave
		switch {
		case len(v.downFrom) >= rule.quorum(n):
			v.status = ClusterDown
		case 2*len(v.upFrom) > n:
			v.status = ClusterUp
		default:
			v.status = ClusterPartial
		}
		vs.list = append(vs.list, v) // in name order, as the entries are
	}
	return vs
}

// LooksIsolated reports whether, by its peers alone, the node of s has lost
// its own network: it has at least 2 peers; at least half of them, and at
// least 2, failed their latest probe (within the last round); and either
// it holds no fresh relay from a node that is not isolated (none has
// arrived for the rule's Fresh), or the fresh relays it holds see most of
// the failing peers they speak of up (they reach them, this node does
// not). Whether it
// can still reach the outside is for the caller to check.
func LooksIsolated(s *Snapshot, rule ClusterRule, now time.Time) bool {
	if s.Len() < 2 {
		return false
	}
	var failing []string
	for e := range s.Peers() {
		if e.view.ConsecutiveFailures > 0 {
			failing = append(failing, e.Name())
		}
	}
	if len(failing) < 2 || 2*len(failing) < s.Len() {
		return false
	}
	var relays []*RelayCopy
	for node, r := range s.Relays() {
		if node != s.node && now.Sub(r.ReceivedAt()) <= rule.Fresh && !r.Isolated() {
			relays = append(relays, r)
		}
	}
	if len(relays) == 0 {
		return true
	}
	// A relay does not speak of its own sender: when the last relays before
	// a cut go stale one by one, the one still fresh vouches for the other
	// failing peers but not for the peer that sent it. A failing peer no
	// fresh relay speaks of is no evidence either way, as when none is
	// fresh at all.
	seenUp, spokenOf := 0, 0
	for _, p := range failing {
		spoken, up := false, false
		for _, r := range relays {
			if v, ok := r.Peer(p); ok {
				spoken = true
				up = up || v.Status == StatusUp && v.ConsecutiveFailures == 0
			}
		}
		if spoken {
			spokenOf++
		}
		if up {
			seenUp++
		}
	}
	return spokenOf == 0 || 2*seenUp > spokenOf
}

// NextExpiry returns when the next relay held in s stops being fresh, or
// the grace of a peer that left ends, after which the verdicts must be
// reached again; zero when there is neither.
func NextExpiry(s *Snapshot, rule ClusterRule, now time.Time) time.Time {
	var next time.Time
	consider := func(end time.Time) {
		if !end.Before(now) && (next.IsZero() || end.Before(next)) {
			next = end
		}
	}
	for node, r := range s.Relays() {
		if node != s.node {
			consider(r.ReceivedAt().Add(rule.Fresh))
		}
	}
	if s.leaveGrace > 0 {
		for _, l := range s.leaves {
			consider(l.At.Add(s.leaveGrace))
		}
	}
	return next
}
