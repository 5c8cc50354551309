package domain

import (
	"slices"
	"testing"
	"time"
)

// viewsOf builds what one node sees: peer -> status.
type viewsOf map[string]Status

func snapshotFor(self string, own viewsOf, relays map[string]viewsOf, receivedAt map[string]time.Time) *Snapshot {
	var entries []*Entry
	for _, name := range sortedKeys(own) {
		entries = append(entries, NewEntry(Peer(name), PeerView{Status: own[name], Since: t0}, History{}))
	}
	copies := map[string]*RelayCopy{}
	for node, views := range relays {
		m := map[string]PeerView{}
		for p, st := range views {
			m[p] = PeerView{Status: st, Since: t0}
		}
		at, ok := receivedAt[node]
		if !ok {
			at = t0
		}
		copies[node] = NewRelayCopy(at, m)
	}
	return NewSnapshot(self, entries, copies)
}

func sortedKeys(m viewsOf) []string {
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func TestClusterVerdicts(t *testing.T) {
	rule := ClusterRule{Fresh: 3 * time.Second}
	const up, down, unknown = StatusUp, StatusDown, StatusUnknown
	cases := []struct {
		name       string
		own        viewsOf
		relays     map[string]viewsOf
		receivedAt map[string]time.Time
		rule       ClusterRule
		peer       string
		want       ClusterStatus
		downFrom   []string
		upFrom     []string
	}{
		{"four of five observers see it down: down", viewsOf{"p": down, "b": up, "c": up, "d": up},
			map[string]viewsOf{"b": {"p": down}, "c": {"p": down}, "d": {"p": up}}, nil, rule, "p", ClusterDown, []string{"a", "b", "c"}, []string{"d"}},
		{"one of four sees it down: up, as the other three see it", viewsOf{"p": down, "b": up, "c": up, "d": up},
			map[string]viewsOf{"b": {"p": up}, "c": {"p": up}, "d": {"p": up}}, nil, rule, "p", ClusterUp, []string{"a"}, []string{"b", "c", "d"}},
		{"two of four down, two up: partial", viewsOf{"p": down, "b": up, "c": up, "d": up},
			map[string]viewsOf{"b": {"p": down}, "c": {"p": up}, "d": {"p": up}}, nil, rule, "p", ClusterPartial, []string{"a", "b"}, []string{"c", "d"}},
		{"alone, this node's view is the verdict", viewsOf{"p": down}, nil, nil, rule, "p", ClusterDown, []string{"a"}, nil},
		{"two observers: one down is not a quorum", viewsOf{"p": down, "b": up},
			map[string]viewsOf{"b": {"p": up}}, nil, rule, "p", ClusterPartial, []string{"a"}, []string{"b"}},
		{"two observers: both down", viewsOf{"p": down, "b": up},
			map[string]viewsOf{"b": {"p": down}}, nil, rule, "p", ClusterDown, []string{"a", "b"}, nil},
		{"a quorum of 1 takes one observer's word", viewsOf{"p": down, "b": up},
			map[string]viewsOf{"b": {"p": up}}, nil, ClusterRule{Fresh: 3 * time.Second, Quorum: 1}, "p", ClusterDown, []string{"a"}, []string{"b"}},
		{"a stale relay does not count", viewsOf{"p": down, "b": up},
			map[string]viewsOf{"b": {"p": down}}, map[string]time.Time{"b": t0.Add(-4 * time.Second)}, rule, "p", ClusterDown, []string{"a"}, nil},
		{"a relay at the edge of freshness counts", viewsOf{"p": down, "b": up},
			map[string]viewsOf{"b": {"p": up}}, map[string]time.Time{"b": t0.Add(-3 * time.Second)}, rule, "p", ClusterPartial, []string{"a"}, []string{"b"}},
		{"a node's word on itself is not an observation", viewsOf{"p": down},
			map[string]viewsOf{"p": {"p": up}}, nil, rule, "p", ClusterDown, []string{"a"}, nil},
		{"unknown counts as an observer that sees neither", viewsOf{"p": unknown, "b": up, "c": up},
			map[string]viewsOf{"b": {"p": up}, "c": {"p": unknown}}, nil, rule, "p", ClusterPartial, nil, []string{"b"}},
		{"a relaying node that does not list the peer is no observer", viewsOf{"p": up, "b": up},
			map[string]viewsOf{"b": {"x": down}}, nil, rule, "p", ClusterUp, nil, []string{"a"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := snapshotFor("a", tc.own, tc.relays, tc.receivedAt)
			v, ok := ComputeVerdicts(s, tc.rule, t0).Of(tc.peer)
			if !ok || v.Status() != tc.want || !slices.Equal(v.DownFrom(), tc.downFrom) || !slices.Equal(v.UpFrom(), tc.upFrom) {
				t.Fatalf("verdict %s down from %v up from %v; want %s, %v, %v", v.Status(), v.DownFrom(), v.UpFrom(), tc.want, tc.downFrom, tc.upFrom)
			}
		})
	}
}

func TestDefaultQuorum(t *testing.T) {
	for n, want := range map[int]int{1: 1, 2: 2, 3: 2, 4: 3, 5: 3, 10: 6} {
		if got := (ClusterRule{}).quorum(n); got != want {
			t.Errorf("quorum of %d observers = %d, want %d", n, got, want)
		}
	}
}

func TestNextExpiryIsTheFirstRelayToGoStale(t *testing.T) {
	rule := ClusterRule{Fresh: 3 * time.Second}
	s := snapshotFor("a", viewsOf{"b": StatusUp, "c": StatusUp}, map[string]viewsOf{"b": {}, "c": {}, "d": {}},
		map[string]time.Time{"b": t0.Add(-time.Second), "c": t0.Add(-2 * time.Second), "d": t0.Add(-10 * time.Second)})
	if got := NextExpiry(s, rule, t0); !got.Equal(t0.Add(time.Second)) {
		t.Fatalf("next expiry %v, want when c's relay turns stale", got.Sub(t0))
	}
	if got := NextExpiry(snapshotFor("a", viewsOf{}, nil, nil), rule, t0); !got.IsZero() {
		t.Fatalf("next expiry %v with no relays, want none", got)
	}
}

// A peer that said it was leaving is stopped, whatever its observers see,
// until the grace is over, and the verdicts are reached again then; with
// no grace, a leave changes nothing.
func TestAPeerThatLeftIsStoppedForTheGrace(t *testing.T) {
	rule := ClusterRule{Fresh: 3 * time.Second}
	left := map[string]Leave{"b": {At: t0.Add(-time.Minute)}}
	base := snapshotFor("a", viewsOf{"b": StatusDown, "c": StatusUp}, map[string]viewsOf{"c": {"b": StatusDown}}, map[string]time.Time{"c": t0})
	s := base.WithLeaves(left, 15*time.Minute)
	v, _ := ComputeVerdicts(s, rule, t0).Of("b")
	if v.Status() != ClusterStopped || v.Observed() != ClusterDown {
		t.Fatalf("verdict %s (observed %s) within the grace, want stopped (observed down)", v.Status(), v.Observed())
	}
	if m, ok := s.Maintenance("b", t0); !ok || m.Reason != MaintenanceLeave || !m.Until.Equal(t0.Add(14*time.Minute)) {
		t.Fatalf("maintenance %+v %v, want a leave until the grace is over", m, ok)
	}
	if got := NextExpiry(s, rule, t0.Add(5*time.Second)); !got.Equal(t0.Add(14 * time.Minute)) {
		t.Fatalf("next expiry %v, want the end of the grace", got.Sub(t0))
	}
	if v, _ := ComputeVerdicts(s, rule, t0.Add(14*time.Minute)).Of("b"); v.Status() != ClusterDown {
		t.Fatalf("verdict %s once the grace is over, want down", v.Status())
	}
	if v, _ := ComputeVerdicts(base.WithLeaves(left, 0), rule, t0).Of("b"); v.Status() != ClusterDown {
		t.Fatalf("verdict %s with no grace, want down", v.Status())
	}
	if v, _ := ComputeVerdicts(s, rule, t0).Of("c"); v.Status() != ClusterUp {
		t.Fatalf("verdict on c %s, want up: only the peer that left is stopped", v.Status())
	}
}

// isolationSnapshot is node "me" whose own probes of the peers named in
// failing failed just now, with relays from the nodes in relays (each
// seeing every peer up, or as given) received at the times given.
func isolationSnapshot(peers []string, failing map[string]bool, relays map[string]viewsOf, receivedAt time.Time, isolatedRelays ...string) *Snapshot {
	var entries []*Entry
	for _, p := range peers {
		v := PeerView{Status: StatusUp, Since: t0}
		if failing[p] {
			v.ConsecutiveFailures = 1
		}
		entries = append(entries, NewEntry(Peer(p), v, History{}))
	}
	copies := map[string]*RelayCopy{}
	for node, views := range relays {
		m := map[string]PeerView{}
		for p, st := range views {
			m[p] = PeerView{Status: st, Since: t0}
		}
		copies[node] = NewRelayCopy(receivedAt, m).Isolating(slices.Contains(isolatedRelays, node))
	}
	return NewSnapshot("me", entries, copies)
}

func TestLooksIsolated(t *testing.T) {
	rule := ClusterRule{Fresh: 3 * time.Second}
	now := t0.Add(time.Hour)
	peers := []string{"a", "b", "c", "d"}
	all := map[string]bool{"a": true, "b": true, "c": true, "d": true}
	half := map[string]bool{"a": true, "b": true}
	seeUp := map[string]viewsOf{"a": {"b": StatusUp, "c": StatusUp, "d": StatusUp}, "b": {"a": StatusUp, "c": StatusUp, "d": StatusUp}}
	seeDown := map[string]viewsOf{"c": {"a": StatusDown, "b": StatusDown, "d": StatusUp}}
	for _, tc := range []struct {
		name string
		s    *Snapshot
		want bool
	}{
		{"every peer fails and no relay came", isolationSnapshot(peers, all, nil, now), true},
		{"every peer fails and the relays are stale", isolationSnapshot(peers, all, seeUp, now.Add(-4*time.Second)), true},
		{"every peer fails here, the fresh relays see them up", isolationSnapshot(peers, all, seeUp, now), true},
		{"half fail here and the others see those down too: a real outage", isolationSnapshot(peers, half, seeDown, now), false},
		{"half fail, no relay", isolationSnapshot(peers, half, nil, now), true},
		{"one fails: a peer's own trouble", isolationSnapshot(peers, map[string]bool{"a": true}, nil, now), false},
		{"two peers: both fail, no relay", isolationSnapshot([]string{"a", "b"}, map[string]bool{"a": true, "b": true}, nil, now), true},
		{"one peer (a cluster of two): no guard", isolationSnapshot([]string{"a"}, map[string]bool{"a": true}, nil, now), false},
		{"the only fresh relay is from an isolated node", isolationSnapshot(peers, half, seeDown, now, "c"), true},
		// The last relays before a cut, from b and c, go stale one by one:
		// c's, still fresh, speaks of b but not of c itself.
		{"three nodes cut off: the one fresh relay vouches for the other peer", isolationSnapshot([]string{"b", "c"}, map[string]bool{"b": true, "c": true}, map[string]viewsOf{"c": {"b": StatusUp}}, now), true},
		{"three nodes, the other peer seen down by the one fresh relay: a real outage", isolationSnapshot([]string{"b", "c"}, map[string]bool{"b": true, "c": true}, map[string]viewsOf{"c": {"b": StatusDown}}, now), false},
	} {
		if got := LooksIsolated(tc.s, rule, now); got != tc.want {
			t.Errorf("%s: LooksIsolated = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// An isolated node is no observer: not itself in its own verdicts, and not
// in another's when its relay says it is isolated.
func TestAnIsolatedNodeIsNoObserver(t *testing.T) {
	rule := ClusterRule{Fresh: 3 * time.Second}
	s := snapshotFor("me", viewsOf{"p": StatusDown}, map[string]viewsOf{"x": {"p": StatusDown}, "y": {"p": StatusUp}}, nil)
	if v, _ := ComputeVerdicts(s.WithIsolated(true), rule, t0).Of("p"); !slices.Equal(v.DownFrom(), []string{"x"}) || !slices.Equal(v.UpFrom(), []string{"y"}) {
		t.Fatalf("isolated: down from %v, up from %v; want x and y, not me", v.DownFrom(), v.UpFrom())
	}
	r, _ := s.Relay("x")
	s = NewSnapshot("me", slices.Collect(s.Peers()), map[string]*RelayCopy{"x": r.Isolating(true)})
	if v, _ := ComputeVerdicts(s, rule, t0).Of("p"); !slices.Equal(v.DownFrom(), []string{"me"}) {
		t.Fatalf("x isolated: down from %v, want only me", v.DownFrom())
	}
}

// A target is judged from every node, the relaying ones through their
// "targets", and its verdict sits among the peers' in name order.
func TestClusterVerdictsOnTargets(t *testing.T) {
	rule := ClusterRule{Fresh: 3 * time.Second}
	const target = "https://shop.example/"
	views := func(st Status) map[string]PeerView { return map[string]PeerView{target: {Status: st, Since: t0}} }
	own := []*Entry{NewEntry(Peer("b"), PeerView{Status: StatusUp, Since: t0}, History{}), NewEntry(Peer("c"), PeerView{Status: StatusUp, Since: t0}, History{})}
	for _, tc := range []struct {
		name     string
		a, b, c  Status
		want     ClusterStatus
		downFrom []string
	}{
		{"down from all three", StatusDown, StatusDown, StatusDown, ClusterDown, []string{"a", "b", "c"}},
		{"down from one of three", StatusUp, StatusDown, StatusUp, ClusterUp, []string{"b"}},
		{"down from two of three", StatusDown, StatusUp, StatusDown, ClusterDown, []string{"a", "c"}},
	} {
		relays := map[string]*RelayCopy{
			"b": NewRelayCopy(t0, map[string]PeerView{"c": {Status: StatusUp, Since: t0}}).WithTargets(views(tc.b)),
			"c": NewRelayCopy(t0, map[string]PeerView{"b": {Status: StatusUp, Since: t0}}).WithTargets(views(tc.c)),
		}
		s := NewSnapshot("a", append(slices.Clone(own), NewEntry(Target(target), PeerView{Status: tc.a, Since: t0}, History{})), relays)
		vs := ComputeVerdicts(s, rule, t0)
		v, ok := vs.Of(target)
		if !ok || v.Subject() != Target(target) || v.Status() != tc.want || !slices.Equal(v.DownFrom(), tc.downFrom) {
			t.Errorf("%s: %v %+v; want %s from %v", tc.name, ok, v, tc.want, tc.downFrom)
		}
		if b, ok := vs.Of("b"); !ok || b.Subject() != Peer("b") || b.Status() != ClusterUp {
			t.Errorf("%s: the peer b's verdict %+v among the targets'", tc.name, b)
		}
		var names []string
		for v := range vs.All() {
			names = append(names, v.Name())
		}
		if !slices.IsSorted(names) {
			t.Errorf("%s: verdicts out of name order: %v", tc.name, names)
		}
	}
}
