package domain

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

func TestSnapshotFindsEveryPeerByName(t *testing.T) {
	var entries []*Entry
	for i := range 1000 {
		entries = append(entries, NewEntry(Peer(fmt.Sprintf("node-%04d.example", i)), PeerView{ConsecutiveFailures: i}, History{}))
	}
	s := NewSnapshot("me", entries, nil)
	for i, e := range entries {
		if v, ok := s.Peer(e.Name()); !ok || v.ConsecutiveFailures != i {
			t.Fatalf("Peer(%s) = %+v, %v", e.Name(), v, ok)
		}
	}
	for _, name := range []string{"", "a", "node-0000.example.", "node-1000.example", "zzz"} {
		if _, ok := s.Peer(name); ok {
			t.Fatalf("Peer(%q) found a peer this node does not probe", name)
		}
	}
	if got := slices.Collect(s.Peers()); len(got) != 1000 || got[0] != entries[0] || s.Len() != 1000 || s.Node() != "me" {
		t.Fatalf("Peers() yields %d entries", len(got))
	}
}

func TestSnapshotRefusesPeersOutOfOrder(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("NewSnapshot took peers out of name order, which its binary search cannot find")
		}
	}()
	NewSnapshot("me", []*Entry{NewEntry(Peer("b"), PeerView{}, History{}), NewEntry(Peer("a"), PeerView{}, History{})}, nil)
}

func TestRelaysAreYieldedInNameOrder(t *testing.T) {
	r := NewRelayCopy(t0, map[string]PeerView{"b": {Status: StatusDown}, "a": {Status: StatusUp}})
	s := NewSnapshot("me", nil, map[string]*RelayCopy{"y": r, "x": NewRelayCopy(t0, nil)})
	var nodes, peers []string
	for node := range s.Relays() {
		nodes = append(nodes, node)
	}
	for name := range r.Peers() {
		peers = append(peers, name)
	}
	if !slices.Equal(nodes, []string{"x", "y"}) || !slices.Equal(peers, []string{"a", "b"}) || s.RelayCount() != 2 {
		t.Fatalf("relays %v, peers %v", nodes, peers)
	}
	if v, ok := r.Peer("b"); !ok || v.Status != StatusDown {
		t.Fatalf("Peer(b) = %+v, %v", v, ok)
	}
	if x, _ := s.Relay("x"); x.Len() != 0 || !x.ReceivedAt().Equal(t0) {
		t.Fatal("a relay made from nil peers is not empty")
	}
}

func TestARelaySupersedesOnlyWhatIsNotNewer(t *testing.T) {
	now := time.Date(2026, 6, 6, 13, 0, 0, 0, time.UTC)
	held := NewRelayCopy(now, map[string]PeerView{"p": {Status: StatusUp, Since: now.Add(-time.Hour), LastSeen: now.Add(-time.Second)}})
	cases := []struct {
		name   string
		held   *RelayCopy
		newest time.Time
		want   bool
	}{
		{"nothing held", nil, now.Add(-time.Hour), true},
		{"newer", held, now, true},
		{"as new", held, now.Add(-time.Second), true},
		{"older: a replay", held, now.Add(-time.Minute), false},
		{"older, but the held copy is from a clock that ran ahead", NewRelayCopy(now, map[string]PeerView{"p": {Since: now.Add(24 * time.Hour)}}), now, true},
	}
	for _, tc := range cases {
		if got := tc.held.Supersedes(tc.newest, now); got != tc.want {
			t.Errorf("%s: Supersedes = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// The offset of a sender's clock is the least delayed of its recent
// relays': one stamped before its sender was held up and posted after does
// not move the sender's times by the hold-up, and a clock that stepped is
// taken once the memory of the old one is past.
func TestALateRelayDoesNotMoveTheSendersOffset(t *testing.T) {
	at := func(received time.Time, sentBefore time.Duration) *RelayCopy {
		return NewRelayCopy(received, nil).Saying(Said{}, received.Add(-sentBefore))
	}
	first := at(t0, 10*time.Millisecond)
	late := at(t0.Add(time.Second), 5*time.Second).SteadiedBy(first)
	if late.Offset() != 10*time.Millisecond {
		t.Fatalf("a relay five seconds on the way moved the offset to %v", late.Offset())
	}
	sooner := at(t0.Add(2*time.Second), 2*time.Millisecond).SteadiedBy(late)
	if sooner.Offset() != 2*time.Millisecond {
		t.Fatalf("a relay that came sooner left the offset at %v", sooner.Offset())
	}
	stepped := sooner
	for i := range 70 { // the sender's clock stepped ten minutes back: each relay says so
		stepped = at(t0.Add(3*time.Second+time.Duration(i)*time.Second), 10*time.Minute).SteadiedBy(stepped)
	}
	if stepped.Offset() != 10*time.Minute {
		t.Fatalf("a minute after the sender's clock stepped, the offset is %v", stepped.Offset())
	}
	if unsaid := NewRelayCopy(t0, nil).SteadiedBy(first); unsaid.Offset() != 0 {
		t.Fatalf("a relay that says no time took the offset %v", unsaid.Offset())
	}
	// A relay taken late is dated by when it was sent: the late one was
	// sent five seconds before it came, a second after the first.
	if got, want := late.SentAt(), t0.Add(-4*time.Second+10*time.Millisecond); !got.Equal(want) {
		t.Fatalf("the late relay is dated %v, want %v", got.Sub(t0), want.Sub(t0))
	}
	if unsaid := NewRelayCopy(t0, nil); !unsaid.SentAt().Equal(t0) {
		t.Fatalf("a relay that says no time is dated %v, want when it came", unsaid.SentAt())
	}
}
