package actors

import (
	"context"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/dupunkto/mesh/actors/domain"
)

// fakeState is a snapshot source the test sets by hand: peer -> status,
// whether the node is isolated, and the cluster's verdicts reached from
// this node's view alone.
type fakeState struct {
	mu       sync.Mutex
	views    map[string]domain.Status
	failing  map[string]bool
	isolated bool
}

func (f *fakeState) Snapshot() *domain.Snapshot {
	f.mu.Lock()
	defer f.mu.Unlock()
	var entries []*domain.Entry
	for _, p := range slices.Sorted(maps.Keys(f.views)) {
		v := domain.PeerView{Status: f.views[p], Since: time.Now()}
		if f.failing[p] {
			v.ConsecutiveFailures = 1
		}
		entries = append(entries, domain.NewEntry(domain.Peer(p), v, domain.History{}))
	}
	s := domain.NewSnapshot("me", entries, nil).WithIsolated(f.isolated)
	return s.WithVerdicts(domain.ComputeVerdicts(s, domain.ClusterRule{Fresh: time.Second}, time.Now()))
}

// ownerStub records what the guard tells the owner.
type ownerStub struct{ said []bool }

func (o *ownerStub) SetIsolated(_ context.Context, isolated bool) error {
	o.said = append(o.said, isolated)
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
	state := &fakeState{views: map[string]domain.Status{"a": domain.StatusUp, "b": domain.StatusUp, "c": domain.StatusUp}}
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
	state.failing = map[string]bool{"a": true, "b": true, "c": true}
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
	state.failing = nil
	look()
	if len(owner.said) != 2 || !owner.said[0] || owner.said[1] {
		t.Fatalf("told the owner %v, want isolated, then not", owner.said)
	}
	if w, i := strings.Count(logs.String(), `"level":"warn"`), strings.Count(logs.String(), `"peers_lost":3`); w != 1 || i != 1 {
		t.Fatalf("log %s, want one warn as it began and one info with the peers lost as it ended", logs.String())
	}
}

// An answer from the outside stands for one spell of the peers saying
// "isolated" only. A node's first looks, before its peers answer, are
// such a spell; once they answer, a cut right after is found at the next
// look, not a minute later.
func TestAnOutsideAnswerIsForgottenOnceThePeersAnswer(t *testing.T) {
	var answering atomic.Bool
	answering.Store(true)
	outside := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !answering.Load() {
			panic(http.ErrAbortHandler)
		}
	}))
	defer outside.Close()
	state := &fakeState{views: map[string]domain.Status{"a": domain.StatusUnknown, "b": domain.StatusUnknown, "c": domain.StatusUnknown},
		failing: map[string]bool{"a": true, "b": true, "c": true}}
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
	state.views, state.failing = map[string]domain.Status{"a": domain.StatusUp, "b": domain.StatusUp, "c": domain.StatusUp}, nil
	look(time.Second)
	answering.Store(false)
	state.failing = map[string]bool{"a": true, "b": true, "c": true}
	look(time.Second)
	if len(owner.said) != 1 || !owner.said[0] {
		t.Fatalf("told the owner %v a second after the cut, want isolated", owner.said)
	}
}
