package actors

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rs/zerolog"
	"github.com/thejerf/suture/v4"

	"github.com/dupunkto/mesh/actors/domain"
	"github.com/dupunkto/mesh/actors/wire"
)

// sinkRecorder is the owner's StatusChanged waker: at each wake-up it notes
// the transitions the owner's snapshot then shows, so that a test sees
// what a listener saw when it was woken.
type sinkRecorder struct {
	owner *Owner
	mu    sync.Mutex
	seen  [][]domain.Transition // at each wake-up, every transition the snapshot held
}

func (s *sinkRecorder) Notify() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seen = append(s.seen, transitionsOf(s.owner.Snapshot()))
}

// transitions are the transitions the owner's latest snapshot shows.
func (s *sinkRecorder) transitions() []domain.Transition { return transitionsOf(s.owner.Snapshot()) }

// transitionsOf are the transitions a snapshot's histories hold, oldest
// first (by name within an instant), each from the status before it.
func transitionsOf(snap *domain.Snapshot) []domain.Transition {
	var out []domain.Transition
	for e := range snap.Subjects() {
		from := domain.StatusUnknown
		for _, h := range e.History().All() {
			out = append(out, domain.Transition{Subject: e.Subject(), From: from, To: h.Status, At: h.At})
			from = h.Status
		}
	}
	slices.SortStableFunc(out, func(a, b domain.Transition) int { return a.At.Compare(b.At) })
	return out
}

// peerSubjects are the subjects of peers of these names.
func peerSubjects(names ...string) []domain.Subject {
	out := make([]domain.Subject, len(names))
	for i, name := range names {
		out[i] = domain.Peer(name)
	}
	return out
}

// newTestOwner returns an owner of peers with a threshold of 2 that tells
// nobody of its changes.
func newTestOwner(peers ...string) *Owner { return newOwnerTellingTo(nil, nil, peers...) }

// newOwnerTellingTo returns an owner of peers with a threshold of 2 that
// wakes sink at each change of status and rounds at each complete round.
func newOwnerTellingTo(sink *sinkRecorder, rounds Waker, peers ...string) *Owner {
	var changed Waker
	if sink != nil {
		changed = sink
	}
	o := NewOwner(OwnerConfig{Node: "me", Subjects: peerSubjects(peers...), Threshold: 2, Boot: time.Now(),
		StatusChanged: changed, RoundDone: rounds, Log: zerolog.Nop()})
	if sink != nil {
		sink.owner = o
	}
	return o
}

// roundCounter counts the owner's complete rounds.
type roundCounter struct {
	mu     sync.Mutex
	rounds int
}

func (c *roundCounter) Notify() { c.mu.Lock(); c.rounds++; c.mu.Unlock() }

func report(t *testing.T, o *Owner, peer string, ok bool) {
	t.Helper()
	var err error
	if !ok {
		err = errors.New("connection refused")
	}
	if err := o.Report(t.Context(), domain.ProbeResult{Subject: domain.Peer(peer), At: time.Now(), OK: ok, Err: err}); err != nil {
		t.Fatal(err)
	}
}

func TestOwnerStartsEveryPeerUnknown(t *testing.T) {
	o := newTestOwner("b", "a")
	s := o.Snapshot()
	peers := slices.Collect(s.Peers())
	if s.Node() != "me" || len(peers) != 2 || peers[0].Name() != "a" || peers[1].Name() != "b" {
		t.Fatalf("initial snapshot %+v", s)
	}
	if want := `{"node":"me","peers":{"a":{"status":"unknown","since":"` + peers[0].View().Since.UTC().Format(time.RFC3339) +
		`","last_seen":null,"consecutive_failures":0,"rtt_ms":null},"b":{"status":"unknown","since":"` + peers[1].View().Since.UTC().Format(time.RFC3339) +
		`","last_seen":null,"consecutive_failures":0,"rtt_ms":null}},"relay":{},` +
		`"cluster":{"a":{"status":"partial","down_from":[],"up_from":[]},"b":{"status":"partial","down_from":[],"up_from":[]}},"isolated":false}`; string(new(wire.StateEncoder).Encode(s)) != want {
		t.Fatalf("initial /state\n got %s\nwant %s", new(wire.StateEncoder).Encode(s), want)
	}
}

func TestOwnerPublishesAfterEveryChangeAndNotifiesAfterPublishing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sink := &sinkRecorder{}
		o := newOwnerTellingTo(sink, nil, "a", "b")
		go o.Serve(t.Context())

		before := o.Snapshot()
		report(t, o, "a", true)
		synctest.Wait()
		after := o.Snapshot()
		if after == before {
			t.Fatal("no snapshot was published after a change")
		}
		if v, _ := before.Peer("a"); v.Status != domain.StatusUnknown {
			t.Fatal("a published snapshot changed afterwards")
		}
		if v, _ := after.Peer("a"); v.Status != domain.StatusUp || v.LastSeen.IsZero() {
			t.Fatalf("a = %+v, want up with last_seen", v)
		}
		if b1, _ := before.Entry("b"); !has(after, b1) {
			t.Fatal("an unchanged peer's entry was copied rather than shared")
		}

		report(t, o, "b", false)
		report(t, o, "b", false)
		settle()
		got := sink.transitions()
		if len(got) != 2 || got[0].Subject.Name != "a" || got[0].To != domain.StatusUp || got[1].Subject.Name != "b" || got[1].To != domain.StatusDown || got[1].From != domain.StatusUnknown {
			t.Fatalf("transitions %+v, want a up then b down", got)
		}
		if len(sink.seen) != 2 || len(sink.seen[0]) != 1 || len(sink.seen[1]) != 2 {
			t.Fatalf("a listener was woken before the snapshot showed its transition: it saw %v", sink.seen)
		}
	})
}

// settle lets the owner publish what it has applied: inside a synctest
// bubble, it waits out publishGap and everything that follows from it.
func settle() {
	time.Sleep(publishGap)
	synctest.Wait()
}

// Results that come in a burst are applied as they come but published
// together, once publishGap after the last snapshot; the first after a
// quiet spell is published at once.
func TestOwnerPublishesABurstOfResultsAsOneSnapshot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		peers := []string{"a", "b", "c", "d", "e"}
		o := newTestOwner(peers...)
		go o.Serve(t.Context())

		report(t, o, "a", true)
		synctest.Wait()
		first := o.Snapshot()
		if v, _ := first.Peer("a"); v.Status != domain.StatusUp {
			t.Fatal("the first result after a quiet spell was not published at once")
		}
		for _, p := range peers[1:] {
			report(t, o, p, true)
		}
		synctest.Wait()
		if o.Snapshot() != first {
			t.Fatal("a snapshot was published within publishGap of the last")
		}
		time.Sleep(publishGap)
		synctest.Wait()
		second := o.Snapshot()
		for _, p := range peers {
			if v, _ := second.Peer(p); v.Status != domain.StatusUp {
				t.Fatalf("after publishGap, %s is %s, want every result of the burst in one snapshot", p, v.Status)
			}
		}
	})
}

func TestOwnerSignalsEachCompleteRound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rounds := &roundCounter{}
		o := newOwnerTellingTo(nil, rounds, "a", "b", "c")
		go o.Serve(t.Context())
		count := func() int { settle(); rounds.mu.Lock(); defer rounds.mu.Unlock(); return rounds.rounds }

		report(t, o, "a", true)
		report(t, o, "a", false) // probing one peer twice does not complete a round
		report(t, o, "b", true)
		if n := count(); n != 0 {
			t.Fatalf("%d rounds before every peer was probed", n)
		}
		report(t, o, "c", false)
		if n := count(); n != 1 {
			t.Fatalf("%d rounds after every peer was probed, want 1", n)
		}
		report(t, o, "c", true)
		report(t, o, "b", true)
		if n := count(); n != 1 {
			t.Fatalf("%d rounds before the second round was complete, want 1", n)
		}
		report(t, o, "a", true)
		if n := count(); n != 2 {
			t.Fatalf("%d rounds, want 2", n)
		}
	})
}

func TestOwnerKeepsRelaysApartFromItsOwnView(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o := newTestOwner("a")
		go o.Serve(t.Context())
		peers := map[string]domain.PeerView{"me": {Status: domain.StatusUp, Since: time.Now(), LastSeen: time.Now()}, "a": {Status: domain.StatusDown, Since: time.Now(), ConsecutiveFailures: 9}}
		if err := o.StoreRelay(t.Context(), "a", domain.NewRelayCopy(time.Now(), peers)); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		s := o.Snapshot()
		r, ok := s.Relay("a")
		if me, _ := r.Peer("me"); !ok || me.Status != domain.StatusUp || !r.ReceivedAt().Equal(time.Now()) {
			t.Fatalf("relay[a] = %+v", r)
		}
		if v, _ := s.Peer("a"); v.Status != domain.StatusUnknown {
			t.Fatalf("a relay changed this node's own view of a: %+v", v)
		}
	})
}

func TestOwnerPanicIsRestartedBySutureAndPeerStatesSurvive(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sink := &sinkRecorder{}
		o := newOwnerTellingTo(sink, nil, "a", "b") // two peers: room in the inbox for three queued results
		injected := false
		o.beforeApply = func(r domain.ProbeResult) {
			if r.Err != nil && r.Err.Error() == "boom" && !injected {
				injected = true
				panic("injected panic")
			}
		}
		var mu sync.Mutex
		var panics []suture.EventServicePanic
		sup := suture.New("test", suture.Spec{EventHook: func(e suture.Event) {
			if p, ok := e.(suture.EventServicePanic); ok {
				mu.Lock()
				panics = append(panics, p)
				mu.Unlock()
			}
		}})
		sup.Add(o)

		// Queued before the owner starts, these three land in one batch: the
		// second takes a down, the third panics mid-batch. What was applied
		// before the panic must still be published and announced.
		report(t, o, "a", false)
		report(t, o, "a", false)
		if err := o.Report(t.Context(), domain.ProbeResult{Subject: domain.Peer("a"), At: time.Now(), Err: errors.New("boom")}); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := sup.ServeBackground(ctx)
		synctest.Wait()
		mu.Lock()
		if len(panics) != 1 || panics[0].ServiceName != "state-owner" || !panics[0].Restarting {
			t.Fatalf("suture events %+v, want one restarting panic of state-owner", panics)
		}
		mu.Unlock()
		down, _ := o.Snapshot().Peer("a")
		if down.Status != domain.StatusDown || len(sink.transitions()) != 1 {
			t.Fatalf("a = %+v with transitions %+v: the down applied before the panic was lost", down, sink.transitions())
		}

		time.Sleep(time.Minute) // a later instant, so a reset since would show
		report(t, o, "a", false)
		synctest.Wait()
		after, _ := o.Snapshot().Peer("a")
		if after.Status != domain.StatusDown || after.Since != down.Since || after.ConsecutiveFailures != 3 {
			t.Fatalf("after the restart a = %+v, want down since %v with 3 failures", after, down.Since)
		}
		if n := len(sink.transitions()); n != 1 {
			t.Fatalf("%d transitions, want only the first down", n)
		}
		cancel()
		<-done
	})
}

// has reports whether s shares entry e, rather than a copy of it.
func has(s *domain.Snapshot, e *domain.Entry) bool {
	got, ok := s.Entry(e.Name())
	return ok && got == e
}

// Two relays from one node that pass the handler's check at once reach the
// owner in either order; the owner keeps the newer by their own times.
func TestOwnerKeepsTheNewerOfTwoRelays(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o := newTestOwner("a")
		go o.Serve(t.Context())
		now := time.Now()
		view := func(seen time.Time) map[string]domain.PeerView {
			return map[string]domain.PeerView{"me": {Status: domain.StatusUp, Since: now.Add(-time.Hour), LastSeen: seen}}
		}
		newer, older := now.Add(-time.Minute), now.Add(-2*time.Minute)
		for _, seen := range []time.Time{newer, older} {
			if err := o.StoreRelay(t.Context(), "a", domain.NewRelayCopy(time.Now(), view(seen))); err != nil {
				t.Fatal(err)
			}
		}
		settle()
		r, _ := o.Snapshot().Relay("a")
		if v, _ := r.Peer("me"); !v.LastSeen.Equal(newer) {
			t.Fatalf("held last_seen %v, want the newer relay's %v", v.LastSeen, newer)
		}
	})
}

// A peer's last relay says it is leaving: the owner keeps when, the peer
// is stopped, and the state file is told; its next relay, back, clears it.
// A leave a state file kept is restored, unless the peer is gone from
// PEERS or no grace is set.
func TestOwnerKeepsALeaveUntilThePeerRelaysAgain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sink := &sinkRecorder{}
		o := NewOwner(OwnerConfig{Node: "me", Subjects: peerSubjects("a", "b"), Threshold: 2, Boot: time.Now(), StatusChanged: sink,
			Cluster: domain.ClusterRule{Fresh: time.Minute, LeaveGrace: 15 * time.Minute}, Log: zerolog.Nop()})
		sink.owner = o
		go o.Serve(t.Context())
		relay := func(leaving bool) {
			views := map[string]domain.PeerView{"me": {Status: domain.StatusUp, Since: time.Now(), LastSeen: time.Now()}}
			if err := o.StoreRelay(t.Context(), "a", domain.NewRelayCopy(time.Now(), views).Saying(domain.Said{Leaving: leaving}, time.Now())); err != nil {
				t.Fatal(err)
			}
			settle()
		}
		relay(false)
		if _, left := o.Snapshot().Left("a"); left {
			t.Fatal("a peer that relays is held as left")
		}
		at := time.Now()
		relay(true)
		if got, left := o.Snapshot().Left("a"); !left || !got.At.Equal(at) || !got.Back.IsZero() {
			t.Fatalf("left %v %v, want since the leaving relay came", got, left)
		}
		if v, _ := o.Snapshot().Verdicts().Of("a"); v.Status() != domain.ClusterStopped {
			t.Fatalf("verdict on a %s, want stopped", v.Status())
		}
		sink.mu.Lock()
		told := len(sink.seen)
		sink.mu.Unlock()
		if told == 0 {
			t.Fatal("the state file was not told of the leave")
		}
		time.Sleep(time.Second)
		back := time.Now()
		relay(false)
		if got, left := o.Snapshot().Left("a"); !left || !got.Back.Equal(back) {
			t.Fatalf("left %+v %v, want it back since its relay, held while its observers catch up", got, left)
		}
		if v, _ := o.Snapshot().Verdicts().Of("a"); v.Status() != domain.ClusterStopped {
			t.Fatalf("verdict on a %s just after it is back, want stopped still", v.Status())
		}
		time.Sleep(time.Minute) // the rule's Fresh
		relay(false)
		if _, left := o.Snapshot().Left("a"); !left {
			t.Fatal("a peer back, which this node's probes do not see up yet, is no longer held")
		}
		report(t, o, "a", true)
		settle()
		if _, left := o.Snapshot().Left("a"); left {
			t.Fatal("a peer back for longer than Fresh, seen up, is still held as left")
		}
	})
	saved := map[string]time.Time{"a": time.Now().Add(-time.Minute), "gone": time.Now()}
	restored := func(grace time.Duration) *domain.Snapshot {
		return NewOwner(OwnerConfig{Node: "me", Subjects: peerSubjects("a", "b"), Boot: time.Now(), SavedLeaves: saved,
			Cluster: domain.ClusterRule{Fresh: time.Minute, LeaveGrace: grace}, Log: zerolog.Nop()}).Snapshot()
	}
	if got, left := restored(15 * time.Minute).Left("a"); !left || !got.At.Equal(saved["a"]) {
		t.Fatalf("restored leave %v %v, want the saved one", got, left)
	}
	if _, left := restored(15 * time.Minute).Left("gone"); left {
		t.Fatal("restored the leave of a peer no longer in PEERS")
	}
	if _, left := restored(0).Left("a"); left {
		t.Fatal("restored a leave with no LEAVE_GRACE")
	}
}

// A node that was away when a peer left learns of the leave from another
// peer's relay, and holds it stopped as that peer does; not when it has
// seen the peer since it left, nor from the peer itself, nor past the
// grace.
func TestOwnerLearnsALeaveItMissedFromAnotherPeersRelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o := NewOwner(OwnerConfig{Node: "me", Subjects: peerSubjects("a", "b", "c"), Threshold: 1, Boot: time.Now(),
			Cluster: domain.ClusterRule{Fresh: time.Minute, LeaveGrace: 15 * time.Minute}, Log: zerolog.Nop()})
		go o.Serve(t.Context())
		left := time.Now()
		time.Sleep(time.Minute)
		report(t, o, "b", true) // seen here since
		settle()
		relay := func(from string, l map[string]time.Time) {
			views := map[string]domain.PeerView{"me": {Status: domain.StatusUp, Since: time.Now(), LastSeen: time.Now()}}
			if err := o.StoreRelay(t.Context(), from, domain.NewRelayCopy(time.Now(), views).Saying(domain.Said{Left: l}, time.Now())); err != nil {
				t.Fatal(err)
			}
			settle()
		}
		relay("a", map[string]time.Time{"c": left, "b": left, "a": left})
		if got, ok := o.Snapshot().Left("c"); !ok || !got.At.Equal(left) {
			t.Fatalf("c's leave %+v %v, want it learnt from a's relay, since it left", got, ok)
		}
		if _, ok := o.Snapshot().Left("b"); ok {
			t.Fatal("b, seen up here after it 'left', is held as left")
		}
		if _, ok := o.Snapshot().Left("a"); ok {
			t.Fatal("a is held as left on its own relay's word of itself, without leaving")
		}
		if m, ok := o.Snapshot().Maintenance("c", time.Now()); !ok || m.Reason != domain.MaintenanceLeave {
			t.Fatalf("c's maintenance %+v %v, want the leave", m, ok)
		}
		relay("a", map[string]time.Time{"stranger:1": left})
		if _, ok := o.Snapshot().Left("stranger:1"); ok {
			t.Fatal("a leave of a node not in PEERS is held")
		}
		o2 := NewOwner(OwnerConfig{Node: "me", Subjects: peerSubjects("a", "c"), Boot: time.Now(),
			Cluster: domain.ClusterRule{Fresh: time.Minute, LeaveGrace: 15 * time.Minute}, Log: zerolog.Nop()})
		go o2.Serve(t.Context())
		if err := o2.StoreRelay(t.Context(), "a", domain.NewRelayCopy(time.Now(), nil).Saying(domain.Said{Left: map[string]time.Time{"c": time.Now().Add(-16 * time.Minute)}}, time.Now())); err != nil {
			t.Fatal(err)
		}
		settle()
		if _, ok := o2.Snapshot().Left("c"); ok {
			t.Fatal("a leave past its grace is held")
		}
	})
}

// A clock stepped back mid-outage makes a recovery come "before" the
// outage began: the log says a downtime of zero, never a negative one.
func TestARecoveryBeforeItsOutageLogsNoNegativeDowntime(t *testing.T) {
	var logs syncWriter
	o := NewOwner(OwnerConfig{Node: "me", Subjects: peerSubjects("a"), Threshold: 1, Boot: t0, Log: zerolog.New(&logs)})
	var b batch
	o.applyResult(&b, domain.ProbeResult{Subject: domain.Peer("a"), At: t0.Add(time.Hour)})             // down an hour in
	o.applyResult(&b, domain.ProbeResult{Subject: domain.Peer("a"), At: t0.Add(time.Minute), OK: true}) // the clock went back
	if !strings.Contains(logs.String(), `"duration_ms":0`) || strings.Contains(logs.String(), `"duration_ms":-`) {
		t.Fatalf("log %s, want a recovery with duration_ms 0", logs.String())
	}
}

// A subject first seen up (at start, every peer and target) is logged at
// debug, not info: a 12-node demo printed 156 such lines as it started.
// Back up after an outage it is logged at info, and down at warn.
func TestAFirstUpIsLoggedAtDebugAndAComebackAtInfo(t *testing.T) {
	var logs syncWriter
	o := NewOwner(OwnerConfig{Node: "me", Subjects: peerSubjects("a"), Threshold: 1, Boot: t0, Log: zerolog.New(&logs)})
	var b batch
	o.applyResult(&b, domain.ProbeResult{Subject: domain.Peer("a"), At: t0.Add(time.Second), OK: true})
	o.applyResult(&b, domain.ProbeResult{Subject: domain.Peer("a"), At: t0.Add(2 * time.Second)})
	o.applyResult(&b, domain.ProbeResult{Subject: domain.Peer("a"), At: t0.Add(3 * time.Second), OK: true})
	var levels []string
	for l := range strings.Lines(logs.String()) {
		var line struct{ Level, Message, Previous string }
		if err := json.Unmarshal([]byte(l), &line); err == nil && strings.HasPrefix(line.Message, "peer is") {
			levels = append(levels, line.Level+" "+line.Message+" from "+line.Previous)
		}
	}
	want := []string{"debug peer is up from unknown", "warn peer is down from up", "info peer is up from down"}
	if !slices.Equal(levels, want) {
		t.Fatalf("logged %q, want %q", levels, want)
	}
}

// The cluster notifier hears of every snapshot whose verdicts may have
// changed: a relay came, a status changed, or a relay the verdicts counted
// went stale; not of one where only failure counts moved.
func TestOwnerWakesTheClusterNotifierWhenTheVerdictsMayChange(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		wakes := &roundCounter{}
		o := NewOwner(OwnerConfig{Node: "me", Subjects: peerSubjects("a", "b"), Threshold: 2, Boot: time.Now(),
			Cluster: domain.ClusterRule{Fresh: 3 * time.Second}, AlertsChanged: wakes, Log: zerolog.Nop()})
		go o.Serve(t.Context())
		woken := func() int {
			settle()
			wakes.mu.Lock()
			defer wakes.mu.Unlock()
			n := wakes.rounds
			wakes.rounds = 0
			return n
		}
		report(t, o, "a", true) // unknown -> up
		report(t, o, "b", true)
		if n := woken(); n == 0 {
			t.Fatal("no wake-up for a change of status")
		}
		time.Sleep(time.Second)
		report(t, o, "a", false) // a failure, no change of status
		if n := woken(); n != 0 {
			t.Fatalf("%d wake-ups for a failure count", n)
		}
		b := map[string]domain.PeerView{"a": {Status: domain.StatusDown, Since: time.Now()}}
		if err := o.StoreRelay(t.Context(), "b", domain.NewRelayCopy(time.Now(), b)); err != nil {
			t.Fatal(err)
		}
		if n := woken(); n != 1 {
			t.Fatalf("%d wake-ups for a relay, want 1", n)
		}
		if v, _ := o.Snapshot().Verdicts().Of("a"); !slices.Equal(v.DownFrom(), []string{"b"}) {
			t.Fatalf("verdict on a %+v, want b among those that see it down", v)
		}
		time.Sleep(4 * time.Second) // b's relay is stale
		report(t, o, "b", true)
		if n := woken(); n != 1 {
			t.Fatalf("%d wake-ups once a relay went stale, want 1", n)
		}
		if v, _ := o.Snapshot().Verdicts().Of("a"); len(v.DownFrom()) != 0 {
			t.Fatalf("verdict on a %+v, still counting b's stale relay", v)
		}
	})
}

// A relay that says what the last one from its node said, while that one
// is fresh, leaves the verdicts as they were: reaching them costs the
// square of the cluster, and a node of a hundred gets twenty relays a
// second. One that says something else has them reached again.
func TestOwnerReachesTheVerdictsAgainOnlyWhenARelaySaysSomethingNew(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o := NewOwner(OwnerConfig{Node: "me", Subjects: peerSubjects("a", "b"), Threshold: 2, Boot: time.Now(),
			Cluster: domain.ClusterRule{Fresh: 3 * time.Second}, Log: zerolog.Nop()})
		go o.Serve(t.Context())
		report(t, o, "a", true)
		report(t, o, "b", true)
		relay := func(status domain.Status) *domain.Verdicts {
			t.Helper()
			views := map[string]domain.PeerView{"a": {Status: status, Since: time.Unix(1, 0)}}
			if err := o.StoreRelay(t.Context(), "b", domain.NewRelayCopy(time.Now(), views)); err != nil {
				t.Fatal(err)
			}
			settle()
			return o.Snapshot().Verdicts()
		}
		first := relay(domain.StatusDown)
		time.Sleep(time.Second)
		if again := relay(domain.StatusDown); again != first {
			t.Fatal("a relay that said the same had the verdicts reached again")
		}
		if v, _ := o.Snapshot().Verdicts().Of("a"); !slices.Equal(v.DownFrom(), []string{"b"}) {
			t.Fatalf("verdict on a %+v, want b among those that see it down", v)
		}
		time.Sleep(time.Second)
		changed := relay(domain.StatusUp)
		if changed == first {
			t.Fatal("a relay that said something new left the verdicts as they were")
		}
		if v, _ := changed.Of("a"); v.Status() != domain.ClusterUp || !slices.Equal(v.UpFrom(), []string{"b", "me"}) {
			t.Fatalf("verdict on a %+v, want up from b and me", v)
		}
		// Once b's copy has gone stale, the same word from b counts anew.
		time.Sleep(4 * time.Second)
		report(t, o, "a", true) // the owner notices the stale copy
		stale := o.Snapshot().Verdicts()
		if back := relay(domain.StatusUp); back == stale {
			t.Fatal("a relay replacing a stale copy left the verdicts as they were")
		}
	})
}

// The owner keeps the node's spells of isolation, as its history: one
// begins when the guard says so (as of when the peers last answered) and
// ends when it says the node is back; a snapshot published meanwhile never
// changes. A spell a state file kept as lasting ended when the node
// stopped, which the node knows no better than its boot; spells older than
// the history's age are dropped.
func TestTheOwnerKeepsTheSpellsOfIsolation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		boot := time.Now()
		old := domain.Span{From: boot.Add(-100 * 24 * time.Hour), To: boot.Add(-99 * 24 * time.Hour)}
		kept := domain.Span{From: boot.Add(-2 * time.Hour), To: boot.Add(-time.Hour)}
		lasting := domain.Span{From: boot.Add(-time.Minute)}
		sink := &sinkRecorder{}
		o := NewOwner(OwnerConfig{Node: "me", Subjects: peerSubjects("a", "b"), Threshold: 2, Boot: boot, StatusChanged: sink,
			SavedIsolations: []domain.Span{old, kept, lasting}, Log: zerolog.Nop()})
		sink.owner = o
		spells := func(s *domain.Snapshot) []domain.Span { return slices.Collect(s.Isolations().All()) }
		if got, want := spells(o.Snapshot()), []domain.Span{kept, {From: lasting.From, To: boot}}; !slices.Equal(got, want) {
			t.Fatalf("restored %v, want %v", got, want)
		}
		go o.Serve(t.Context())

		time.Sleep(time.Minute)
		cutAt := time.Now().Add(-10 * time.Second)
		if err := o.SetIsolated(t.Context(), true, cutAt); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		during := o.Snapshot()
		if got := spells(during); len(got) != 3 || got[2] != (domain.Span{From: cutAt}) || !during.Isolated() {
			t.Fatalf("while cut off: %v, isolated %v", got, during.Isolated())
		}
		time.Sleep(time.Minute)
		if err := o.SetIsolated(t.Context(), false, time.Now()); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if got := spells(o.Snapshot()); len(got) != 3 || got[2] != (domain.Span{From: cutAt, To: time.Now()}) || o.Snapshot().Isolated() {
			t.Fatalf("back: %v", got)
		}
		if got := spells(during); !got[2].Ongoing() {
			t.Fatalf("the snapshot published while cut off changed afterwards: %v", got)
		}
		if len(sink.seen) != 2 {
			t.Fatalf("the state file was woken %d times, want at each change of isolation", len(sink.seen))
		}
	})
}
