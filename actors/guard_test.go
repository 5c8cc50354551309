package actors

import (
	"context"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/dupunkto/mesh/actors/domain"
)

// ownerStub records what the guard tells the owner, and as of when.
type ownerStub struct {
	said []bool
	at   []time.Time
}

func (o *ownerStub) SetIsolated(_ context.Context, isolated bool, at time.Time) error {
	o.said, o.at = append(o.said, isolated), append(o.at, at)
	return nil
}

// The guard: isolated when the peers say so and nothing outside answers;
// not when the outside answers; one warn when it starts, one info when it
// ends.
func TestGuardAsksTheOutsideBeforeCallingTheNodeIsolated(t *testing.T) {
	var answering atomic.Bool
	var asked atomic.Int32
	outside := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked.Add(1)
		if !answering.Load() {
			panic(http.ErrAbortHandler) // the connection is cut: no answer at all
		}
		w.WriteHeader(http.StatusNotFound) // any answer counts
	}))
	defer outside.Close()
	state := newOwnView("a", "b", "c")
	state.put(domain.StatusUp, 0, "a", "b", "c")
	owner := &ownerStub{}
	var logs syncWriter
	g := NewGuard(GuardConfig{Every: time.Second, Rule: domain.ClusterRule{Fresh: time.Second}, State: state, Owner: owner,
		Outside: []string{outside.URL}, Timeout: time.Second, Log: zerolog.New(&logs)})
	// Looks two minutes apart: an answer from the outside stands for one.
	now := time.Now()
	look := func() {
		now = now.Add(2 * time.Minute)
		if err := g.look(t.Context(), now); err != nil {
			t.Fatal(err)
		}
	}
	look()
	state.put(domain.StatusUp, 1, "a", "b", "c") // each failed its latest probe
	answering.Store(true)
	look()
	if len(owner.said) != 0 {
		t.Fatalf("told the owner %v while the outside answers", owner.said)
	}
	answering.Store(false)
	if err := g.look(t.Context(), now.Add(30*time.Second)); err != nil || len(owner.said) != 0 || asked.Load() != 1 {
		t.Fatalf("half a minute after an answer: told the owner %v, asked the outside %d times; want nothing, once", owner.said, asked.Load())
	}
	look()
	if err := g.look(t.Context(), now.Add(time.Second)); err != nil { // asks again: no answer is remembered
		t.Fatal(err)
	}
	look()
	state.put(domain.StatusUp, 0, "a", "b", "c")
	look()
	if len(owner.said) != 2 || !owner.said[0] || owner.said[1] {
		t.Fatalf("told the owner %v, want isolated, then not", owner.said)
	}
	if w, i := strings.Count(logs.String(), `"level":"warn"`), strings.Count(logs.String(), `"peers_lost":3`); w != 1 || i != 1 {
		t.Fatalf("log %s, want one warn as it began and one info with the peers lost as it ended", logs.String())
	}
}

// An answer from the outside stands for one spell of the peers saying
// "isolated" only: once they answer, a cut right after is found at the
// next look, not a minute later.
func TestAnOutsideAnswerIsForgottenOnceThePeersAnswer(t *testing.T) {
	var answering atomic.Bool
	answering.Store(true)
	outside := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !answering.Load() {
			panic(http.ErrAbortHandler)
		}
	}))
	defer outside.Close()
	state := newOwnView("a", "b", "c")
	state.put(domain.StatusUnknown, 1, "a", "b", "c")
	owner := &ownerStub{}
	g := NewGuard(GuardConfig{Every: time.Second, Rule: domain.ClusterRule{Fresh: time.Second}, State: state, Owner: owner,
		Outside: []string{outside.URL}, Timeout: time.Second, Log: zerolog.Nop()})
	now := time.Now()
	look := func(after time.Duration) {
		now = now.Add(after)
		if err := g.look(t.Context(), now); err != nil {
			t.Fatal(err)
		}
	}
	look(0) // at start, no peer has answered yet: the outside does
	state.put(domain.StatusUp, 0, "a", "b", "c")
	look(time.Second)
	answering.Store(false)
	state.put(domain.StatusUp, 1, "a", "b", "c")
	look(time.Second)
	if len(owner.said) != 1 || !owner.said[0] {
		t.Fatalf("told the owner %v a second after the cut, want isolated", owner.said)
	}
}

// The first node of a new cluster, deployed before the others, sees every
// peer fail and holds no relay, as a node cut off does. But no peer has
// answered yet: nothing is known, and nothing is claimed. It says so once.
func TestTheFirstNodeOfANewClusterClaimsNothing(t *testing.T) {
	boot := time.Now()
	state := newOwnView("a", "b", "c")
	state.put(domain.StatusUnknown, 3, "a", "b", "c")
	owner := &ownerStub{}
	var logs syncWriter
	g := NewGuard(GuardConfig{Every: time.Second, Rule: domain.ClusterRule{Fresh: time.Second}, State: state, Owner: owner,
		Timeout: time.Second, Boot: boot, Log: zerolog.New(&logs)})
	for i := range 3 {
		if err := g.look(t.Context(), boot.Add(time.Duration(i)*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	if len(owner.said) != 0 || strings.Contains(logs.String(), "cut off") || strings.Count(logs.String(), "no peer has answered yet") != 1 {
		t.Fatalf("told the owner %v; logs %s; want nothing claimed, and one line that no peer has answered yet", owner.said, logs.String())
	}
	// Once a peer has answered, the same view is a cut.
	state.put(domain.StatusUp, 0, "a")
	state.put(domain.StatusUp, 3, "a")
	if err := g.look(t.Context(), boot.Add(time.Minute)); err != nil || len(owner.said) != 1 || !owner.said[0] {
		t.Fatalf("told the owner %v (%v) once a peer had answered and all failed, want isolated", owner.said, err)
	}
}

// relayedView is a node's own view of its peers and the relays it holds,
// as the guard reads them.
type relayedView struct {
	own    map[string]domain.PeerView
	relays map[string]*domain.RelayCopy
}

func (v *relayedView) Snapshot() *domain.Snapshot {
	var entries []*domain.Entry
	for _, name := range slices.Sorted(maps.Keys(v.own)) {
		entries = append(entries, domain.NewEntry(domain.Peer(name), v.own[name], domain.History{}))
	}
	return domain.NewSnapshot("me", entries, v.relays)
}

// The peers of a node that started first come up together and relay to
// it, each seeing the other up, before its own next probes of them have
// had an answer: for that moment its view is a cut node's. It waits a
// round after it first hears from anyone before it decides; a node whose
// probes still fail then, while the relays see the peers up, is cut off.
func TestTheFirstNodeWaitsARoundAfterItsPeersFirstRelay(t *testing.T) {
	boot := time.Now()
	failing := domain.PeerView{Status: domain.StatusDown, Since: boot, ConsecutiveFailures: 3}
	view := &relayedView{own: map[string]domain.PeerView{"a": failing, "b": failing}}
	owner := &ownerStub{}
	var logs syncWriter
	const round = time.Second
	g := NewGuard(GuardConfig{Every: round, Rule: domain.ClusterRule{Fresh: 3 * round}, State: view, Owner: owner,
		Timeout: time.Second, Boot: boot, Log: zerolog.New(&logs)})
	look := func(at time.Duration) {
		t.Helper()
		if err := g.look(t.Context(), boot.Add(at)); err != nil {
			t.Fatal(err)
		}
	}
	look(round)
	// a and b start, see each other up and relay to this node.
	up := domain.PeerView{Status: domain.StatusUp, Since: boot.Add(round), LastSeen: boot.Add(round)}
	relayed := boot.Add(round + round/2)
	view.relays = map[string]*domain.RelayCopy{
		"a": domain.NewRelayCopy(relayed, map[string]domain.PeerView{"b": up}),
		"b": domain.NewRelayCopy(relayed, map[string]domain.PeerView{"a": up}),
	}
	look(2 * round)
	if len(owner.said) != 0 || strings.Contains(logs.String(), "cut off") {
		t.Fatalf("told the owner %v on the first relays of peers just started; logs %s", owner.said, logs.String())
	}
	// A round on, its probes still fail while the others (their relays
	// still fresh) see them up: cut off.
	look(3 * round)
	if len(owner.said) != 1 || !owner.said[0] {
		t.Fatalf("told the owner %v a round after, its probes still failing, want isolated", owner.said)
	}
}

// A spell of isolation begins when the peers that fail last answered, not
// when the guard could tell: the down transitions their failures brought
// meanwhile are the spell's. A peer down long before does not move it
// back. It ends when the guard sees the peers answer again.
func TestAnIsolationSpellBeginsWhenThePeersLastAnswered(t *testing.T) {
	state := newOwnView("a", "b", "c", "d")
	state.put(domain.StatusUp, 0, "a", "b", "c", "d")
	d := state.views["d"]
	d.LastSeen = d.LastSeen.Add(-time.Hour) // d answered last an hour before the others
	state.views["d"] = d
	lastHeard := func(name string) time.Time { v, _ := state.Snapshot().View(name); return v.LastSeen }
	dAnswered := lastHeard("d")
	state.put(domain.StatusDown, 9, "d") // down, and answered before the others
	state.put(domain.StatusDown, 4, "a", "b", "c")
	owner := &ownerStub{}
	g := NewGuard(GuardConfig{Every: time.Second, Rule: domain.ClusterRule{Fresh: time.Second}, State: state, Owner: owner,
		Timeout: time.Second, Log: zerolog.Nop()})
	cut := lastHeard("c").Add(time.Minute)
	if err := g.look(t.Context(), cut); err != nil || len(owner.said) != 1 || !owner.said[0] {
		t.Fatalf("told the owner %v (%v), want isolated", owner.said, err)
	}
	if latest := lastHeard("c"); !owner.at[0].Equal(latest) || !latest.After(dAnswered) {
		t.Fatalf("the spell began at %v, want the latest answer of a failing peer, %v (d's was %v)", owner.at[0], latest, dAnswered)
	}
	state.put(domain.StatusUp, 0, "a", "b", "c")
	back := cut.Add(time.Minute)
	if err := g.look(t.Context(), back); err != nil || len(owner.said) != 2 || owner.said[1] || !owner.at[1].Equal(back) {
		t.Fatalf("told the owner %v at %v (%v), want back at %v", owner.said, owner.at, err, back)
	}
}
