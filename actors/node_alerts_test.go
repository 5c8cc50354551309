package actors

import (
	"context"
	"maps"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"

	"github.com/dupunkto/mesh/actors/domain"
)

// The alert engine with the node policy (ALERTS=node): it follows this
// node's own view. These tests set that view by hand, as the state owner
// would after each probe, and read what the engine hands its channels.

// sentAt is a message and how long after the test's start it was queued.
type sentAt struct {
	after time.Duration
	text  string
}

// messageRecorder is a MessageSink that notes when each message arrived.
type messageRecorder struct {
	start time.Time
	mu    sync.Mutex
	got   []sentAt
}

func (r *messageRecorder) Enqueue(m domain.Message) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, sentAt{time.Since(r.start), m.Text})
}

func (r *messageRecorder) take() []sentAt {
	r.mu.Lock()
	defer r.mu.Unlock()
	got := r.got
	r.got = nil
	return got
}

// ownView is a snapshot source of this node's own view, set by the test:
// each subject's view, and whether the node is isolated. Its verdicts are
// reached from that view alone, as a node's are with no relays.
type ownView struct {
	mu       sync.Mutex
	views    map[string]domain.PeerView
	isolated bool
	changes  *Signal
}

func newOwnView(names ...string) *ownView {
	v := &ownView{views: map[string]domain.PeerView{}, changes: NewSignal()}
	for _, name := range names {
		v.views[name] = domain.PeerView{Status: domain.StatusUnknown, Since: time.Now()}
	}
	return v
}

func (v *ownView) Snapshot() *domain.Snapshot {
	v.mu.Lock()
	defer v.mu.Unlock()
	var entries []*domain.Entry
	for _, name := range slices.Sorted(maps.Keys(v.views)) {
		entries = append(entries, domain.NewEntry(domain.Peer(name), v.views[name], domain.History{}))
	}
	s := domain.NewSnapshot("me", entries, nil).WithIsolated(v.isolated)
	return s.WithVerdicts(domain.ComputeVerdicts(s, domain.ClusterRule{Fresh: time.Second}, time.Now()))
}

// put sets what this node sees of subjects from now on, with as many
// failed probes in a row: none is a probe that succeeded just now.
func (v *ownView) put(st domain.Status, failures int, names ...string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, name := range names {
		view := v.views[name]
		if view.Status != st {
			view = domain.PeerView{Status: st, Since: time.Now(), LastSeen: view.LastSeen}
		}
		view.ConsecutiveFailures = failures
		if failures == 0 && st == domain.StatusUp {
			view.LastSeen = time.Now()
		}
		v.views[name] = view
	}
}

// see sets what this node sees of a subject from now on, and wakes the
// engine, as the owner does after a change of status.
func (v *ownView) see(name string, st domain.Status) {
	v.put(st, 0, name)
	v.changes.Notify()
	synctest.Wait()
}

// isolate says whether this node is cut off, as the isolation guard does.
func (v *ownView) isolate(isolated bool) {
	v.mu.Lock()
	v.isolated = isolated
	v.mu.Unlock()
	v.changes.Notify()
	synctest.Wait()
}

var defaultFollowups = []time.Duration{15 * time.Minute, 30 * time.Minute, time.Hour, 2 * time.Hour, 5 * time.Hour}

// quietStart is how long the engines of these tests listen after they
// start, or after a pause, before they say anything: their Fresh.
const quietStart = 3 * time.Second

// newNodeAlerts returns an engine with the node policy and the default
// follow-ups that follows state, resumes saved, and writes to out. Its
// rounds are a second long.
func newNodeAlerts(state *ownView, out MessageSink, saved ...domain.AnnouncementRecord) *Notifier {
	return NewNotifier(NotifierConfig{Node: "me", Policy: AlertPolicy(false, 0), Followups: defaultFollowups, Fresh: quietStart, Round: time.Second,
		State: state, Changes: state.changes, Out: out, Saved: domain.AlertRecord{Announcements: saved}, Now: time.Now(), Log: zerolog.Nop()})
}

// notifierTest runs a node-policy engine in a synctest bubble.
type notifierTest struct {
	t     *testing.T
	start time.Time
	state *ownView
	out   *messageRecorder
}

// newNotifierTest starts an engine and lets its quiet start pass: the
// test's times count from then.
func newNotifierTest(t *testing.T) *notifierTest {
	out := &messageRecorder{}
	state := newOwnView("dec", "oct")
	go newNodeAlerts(state, out).Serve(t.Context())
	time.Sleep(quietStart)
	synctest.Wait()
	start := time.Now()
	out.start = start
	return &notifierTest{t, start, state, out}
}

// until advances the fake clock to d after the start.
func (nt *notifierTest) until(d time.Duration) {
	time.Sleep(time.Until(nt.start.Add(d)))
	synctest.Wait()
}

func (nt *notifierTest) expect(want ...sentAt) {
	nt.t.Helper()
	got := nt.out.take()
	if len(got) != len(want) {
		nt.t.Fatalf("messages %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			nt.t.Fatalf("message %d: %v, want %v", i, got[i], want[i])
		}
	}
}

const m = time.Minute

func TestBootIsSilent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nt := newNotifierTest(t)
		nt.state.see("dec", domain.StatusUp)
		nt.until(24 * time.Hour)
		nt.expect()
	})
}

func TestRemindersFollowTheGapsAndTheLastRepeats(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nt := newNotifierTest(t)
		nt.state.see("dec", domain.StatusUp)
		nt.state.see("dec", domain.StatusDown)
		nt.expect(sentAt{0, "🔴 `dec` is unreachable"})
		nt.until(14*m + 59*time.Second)
		nt.expect()
		nt.until(19 * time.Hour)
		nt.expect(
			sentAt{15 * m, "🟠 `dec` is still unreachable (down for 15m 0s)"},
			sentAt{45 * m, "🟠 `dec` is still unreachable (down for 45m 0s)"},
			sentAt{105 * m, "🟠 `dec` is still unreachable (down for 1h 45m)"},
			sentAt{225 * m, "🟠 `dec` is still unreachable (down for 3h 45m)"},
			sentAt{525 * m, "🟠 `dec` is still unreachable (down for 8h 45m)"},
			sentAt{825 * m, "🟠 `dec` is still unreachable (down for 13h 45m)"},
			sentAt{1125 * m, "🟠 `dec` is still unreachable (down for 18h 45m)"},
		)
	})
}

func TestUnknownToDownNotifies(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nt := newNotifierTest(t)
		nt.until(20 * time.Second)
		nt.state.see("dec", domain.StatusDown)
		nt.expect(sentAt{20 * time.Second, "🔴 `dec` is unreachable"})
	})
}

func TestRecoveryCancelsTheChainAndReportsTheDowntime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nt := newNotifierTest(t)
		nt.state.see("dec", domain.StatusDown)
		nt.until(20*m + 5*time.Second)
		nt.state.see("dec", domain.StatusUp)
		nt.until(48 * time.Hour)
		nt.expect(
			sentAt{0, "🔴 `dec` is unreachable"},
			sentAt{15 * m, "🟠 `dec` is still unreachable (down for 15m 0s)"},
			sentAt{20*m + 5*time.Second, "🟢 `dec` is reachable again (down for 20m 5s)"},
		)
	})
}

func TestANewOutageStartsANewChain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nt := newNotifierTest(t)
		nt.state.see("dec", domain.StatusDown)
		nt.until(10 * m)
		nt.state.see("dec", domain.StatusUp)
		nt.until(12 * m)
		nt.state.see("dec", domain.StatusDown)
		nt.until(60 * m)
		// Only the second outage's chain: 12m+15m and 12m+45m, none at 15m or 45m.
		nt.expect(
			sentAt{0, "🔴 `dec` is unreachable"},
			sentAt{10 * m, "🟢 `dec` is reachable again (down for 10m 0s)"},
			sentAt{12 * m, "🔴 `dec` is unreachable"},
			sentAt{27 * m, "🟠 `dec` is still unreachable (down for 15m 0s)"},
			sentAt{57 * m, "🟠 `dec` is still unreachable (down for 45m 0s)"},
		)
	})
}

func TestChainsOfSeveralPeersInterleaveInTimeOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nt := newNotifierTest(t)
		nt.state.see("dec", domain.StatusDown)
		nt.until(5 * m)
		nt.state.see("oct", domain.StatusDown)
		nt.until(50 * m)
		nt.expect(
			sentAt{0, "🔴 `dec` is unreachable"},
			sentAt{5 * m, "🔴 `oct` is unreachable"},
			sentAt{15 * m, "🟠 `dec` is still unreachable (down for 15m 0s)"},
			sentAt{20 * m, "🟠 `oct` is still unreachable (down for 15m 0s)"},
			sentAt{45 * m, "🟠 `dec` is still unreachable (down for 45m 0s)"},
			sentAt{50 * m, "🟠 `oct` is still unreachable (down for 45m 0s)"},
		)
	})
}

// A node held up for two hours (paused, suspended, starved) with an outage
// on listens again first, then sends one reminder for the missed ones, not
// a burst.
func TestMissedRemindersSendOneNotABurst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		out := &messageRecorder{start: time.Now()}
		state := newOwnView("dec")
		n := newNodeAlerts(state, out)
		running, stop := context.WithCancel(t.Context())
		go n.Serve(running)
		time.Sleep(quietStart)
		state.see("dec", domain.StatusDown)
		if got := out.take(); len(got) != 1 || got[0] != (sentAt{quietStart, "🔴 `dec` is unreachable"}) {
			t.Fatalf("messages %v, want the down message", got)
		}
		// The engine is not running (held up, or the node was away) while
		// the outage goes on for two hours.
		stop()
		time.Sleep(2 * time.Hour)
		go n.Serve(t.Context())
		synctest.Wait()
		if got := out.take(); len(got) != 0 {
			t.Fatalf("messages %v as the engine wakes: it listens first", got)
		}
		time.Sleep(quietStart)
		synctest.Wait()
		if got := out.take(); len(got) != 1 || got[0] != (sentAt{2*time.Hour + 2*quietStart, "🟠 `dec` is still unreachable (down for 2h 0m)"}) {
			t.Fatalf("messages %v, want one reminder once it has listened", got)
		}
		// It carries on at the next slot after now: 3h45m.
		time.Sleep(105 * m)
		synctest.Wait()
		if got := out.take(); len(got) != 1 || got[0].after != 225*m+quietStart {
			t.Fatalf("messages %v, want one at 3h45m into the outage", got)
		}
	})
}

// The engine follows state, not a queue of events: however long it was
// starved of CPU, it has nothing to overflow, and acts on the latest
// state, once it has listened again: an outage that came and went
// meanwhile is not told; one still going is told once, with its downtime
// from its start.
func TestAStarvedEngineActsOnTheLatestState(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		out := &messageRecorder{start: time.Now()}
		state := newOwnView("dec", "oct")
		n := newNodeAlerts(state, out)
		state.see("dec", domain.StatusDown) // not running: nobody looks
		state.see("oct", domain.StatusDown)
		time.Sleep(5 * m)
		state.see("dec", domain.StatusUp)
		go n.Serve(t.Context())
		synctest.Wait()
		time.Sleep(quietStart)
		synctest.Wait()
		if got := out.take(); len(got) != 1 || got[0] != (sentAt{5*m + quietStart, "🔴 `oct` is unreachable"}) {
			t.Fatalf("messages %v, want oct's down message alone", got)
		}
		time.Sleep(10*m - quietStart)
		synctest.Wait()
		if got := out.take(); len(got) != 1 || got[0] != (sentAt{15 * m, "🟠 `oct` is still unreachable (down for 15m 0s)"}) {
			t.Fatalf("messages %v, want oct's first reminder 15 minutes after it went down", got)
		}
	})
}

// restoredDown is a state whose own view a previous run left: dec down
// since then.
func restoredDown(since time.Time) *ownView {
	state := newOwnView()
	state.views["dec"] = domain.PeerView{Status: domain.StatusDown, Since: since}
	return state
}

// announcedBy is a record of dec's outage since then, announced by node
// with sent reminders.
func announcedBy(node string, since time.Time, sent int) domain.AnnouncementRecord {
	return domain.AnnouncementRecord{Subject: domain.Peer("dec"), By: node,
		Announcement: domain.Announcement{Kind: domain.AnnouncedDown, Since: since, Reminders: sent}}
}

func TestRestoredOutagesCarryOnTheirReminderSchedule(t *testing.T) {
	cases := []struct {
		name      string
		downSince time.Duration // before the restart
		sent      int           // < 0: the state file does not say
		want      []sentAt      // after the restart, over the next 3 hours
	}{
		{"the next reminder comes on the schedule counted from since", 20 * m, 1, []sentAt{
			{25 * m, "🟠 `dec` is still unreachable (down for 45m 0s)"},
			{85 * m, "🟠 `dec` is still unreachable (down for 1h 45m)"},
		}},
		{"several missed reminders give one, not a burst, once the node has listened", 2 * time.Hour, 0, []sentAt{
			{quietStart, "🟠 `dec` is still unreachable (down for 2h 0m)"},
			{105 * m, "🟠 `dec` is still unreachable (down for 3h 45m)"},
		}},
		{"unknown progress counts past slots as sent", 50 * m, -1, []sentAt{
			{55 * m, "🟠 `dec` is still unreachable (down for 1h 45m)"},
			{175 * m, "🟠 `dec` is still unreachable (down for 3h 45m)"},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				out := &messageRecorder{start: time.Now()}
				since := time.Now().Add(-tc.downSince)
				var saved []domain.AnnouncementRecord
				if tc.sent >= 0 {
					saved = append(saved, announcedBy("me", since, tc.sent))
				}
				go newNodeAlerts(restoredDown(since), out, saved...).Serve(t.Context())
				time.Sleep(3 * time.Hour)
				got := out.take()
				if len(got) != len(tc.want) {
					t.Fatalf("messages %v, want %v (and no down message)", got, tc.want)
				}
				for i := range got {
					if got[i] != tc.want[i] {
						t.Fatalf("message %d: %v, want %v", i, got[i], tc.want[i])
					}
				}
			})
		})
	}
}

func TestRestoredOutageRecoveryCountsTheWholeDowntime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		out := &messageRecorder{start: time.Now()}
		since := time.Now().Add(-10 * m)
		state := restoredDown(since)
		n := newNodeAlerts(state, out, announcedBy("me", since, 0))
		go n.Serve(t.Context())
		time.Sleep(m)
		state.see("dec", domain.StatusUp)
		time.Sleep(time.Hour)
		if got := out.take(); len(got) != 1 || got[0].text != "🟢 `dec` is reachable again (down for 11m 0s)" {
			t.Fatalf("messages %v", got)
		}
		if r := n.Record(); len(r.Announcements) != 0 {
			t.Fatalf("record %v after the recovery, want none", r)
		}
	})
}

// With node alerts, a record of an earlier outage than the one the own
// view shows (the previous run had not caught up with the new one) is not
// taken for it: the outage resumes with its past reminders (15m, 45m)
// counted as sent.
func TestStateFileIgnoresTheProgressOfAnEarlierOutage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		since := time.Now().Add(-50 * m)
		n := newNodeAlerts(restoredDown(since), &messageRecorder{}, announcedBy("me", since.Add(-time.Hour), 4))
		if r := n.Record().Announcements; len(r) != 1 || !r[0].Since.Equal(since) || r[0].Reminders != 2 {
			t.Fatalf("record %+v, want the outage since the view's down, two reminders past", r)
		}
	})
}

// With node alerts, an outage this node announced that ended while a run
// listened after its start, and so said nothing, is not lost with that
// run: the next run finds the view up since after the outage began and the
// announcement still held, and sends the recovery once it has listened,
// counting the downtime to when the view came up. (The soak found it: a
// node restarted, saw the peer up within its quiet start, was stopped
// before the start was over, and its next run took the announcement for
// an earlier outage's and dropped it; the chat never heard the recovery.)
func TestARecoveryARunSawWhileItListenedIsSentByTheNext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		out := &messageRecorder{start: time.Now()}
		since := time.Now().Add(-10 * m)
		state := newOwnView()
		state.views["dec"] = domain.PeerView{Status: domain.StatusUp, Since: time.Now().Add(-2 * m), LastSeen: time.Now()}
		n := newNodeAlerts(state, out, announcedBy("me", since, 0))
		go n.Serve(t.Context())
		time.Sleep(time.Hour)
		if got := out.take(); len(got) != 1 || got[0].after != quietStart || got[0].text != "🟢 `dec` is reachable again (down for 8m 0s)" {
			t.Fatalf("messages %v, want the recovery once the node has listened", got)
		}
		if r := n.Record(); len(r.Announcements) != 0 {
			t.Fatalf("record %v after the recovery, want none", r)
		}
	})
}

// Each message the engine sends changes what a restart must not forget,
// and the state file is woken to write it at once; a pass that changes
// nothing wakes it for nothing.
func TestTheStateFileIsWokenWhenTheRecordChanges(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		state := newOwnView("dec")
		recorded := &roundCounter{}
		n := NewNotifier(NotifierConfig{Node: "me", Policy: AlertPolicy(false, 0), Followups: defaultFollowups, Fresh: quietStart, Round: time.Second,
			State: state, Changes: state.changes, Recorded: recorded, Out: &messageRecorder{}, Now: time.Now(), Log: zerolog.Nop()})
		go n.Serve(t.Context())
		time.Sleep(quietStart)
		state.see("dec", domain.StatusUp)
		woken := func() int { recorded.mu.Lock(); defer recorded.mu.Unlock(); return recorded.rounds }
		if w := woken(); w != 0 {
			t.Fatalf("woken %d times before anything was said, want none", w)
		}
		for i, st := range []domain.Status{domain.StatusDown, domain.StatusUp} {
			state.see("dec", st)
			if w := woken(); w != i+1 {
				t.Fatalf("woken %d times after %d messages, want %d", w, i+1, i+1)
			}
		}
	})
}

// Node alerts: the down messages of outages that begin while the node is
// isolated are held; one that ends meanwhile is dropped with its recovery;
// when the isolation ends, one the cluster confirms goes out, one it does
// not is dropped with what follows it.
func TestNodeAlertsHoldDownMessagesWhileIsolated(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		state := newOwnView("a", "b", "c")
		state.put(domain.StatusUp, 0, "a", "b", "c")
		out := &messageRecorder{start: time.Now()}
		metrics := NewMetrics(nil)
		n := NewNotifier(NotifierConfig{Node: "me", Policy: AlertPolicy(false, 0), Followups: Schedule{time.Hour}, Fresh: 3 * time.Second,
			State: state, Changes: state.changes, Out: out, Now: time.Now(), Metrics: metrics, Log: zerolog.Nop()})
		go n.Serve(t.Context())
		state.isolate(true)
		for _, p := range []string{"a", "b", "c"} {
			state.see(p, domain.StatusDown)
		}
		time.Sleep(2 * time.Hour) // reminders fall due, and are held too
		state.see("a", domain.StatusUp)
		if got := out.take(); len(got) != 0 {
			t.Fatalf("sent %v while isolated", got)
		}
		// Back: the cluster (this node's own view, here) confirms b's outage, not c's.
		state.put(domain.StatusUp, 0, "c")
		state.isolate(false)
		if got := out.take(); len(got) != 0 {
			t.Fatalf("sent %v as soon as the isolation ended, before the relays could come again", got)
		}
		time.Sleep(3 * time.Second)
		synctest.Wait()
		got := out.take()
		if len(got) != 1 || got[0].text != "🔴 `b` is unreachable" {
			t.Fatalf("sent %v once back, want only b's down message", got)
		}
		state.see("c", domain.StatusUp)
		if got := out.take(); len(got) != 0 {
			t.Fatalf("sent %v for an outage whose down message was dropped", got)
		}
		dropped := testutil.ToFloat64(metrics.suppressed.WithLabelValues("down", SuppressedIsolated))
		recoveries := testutil.ToFloat64(metrics.suppressed.WithLabelValues("recovery", SuppressedIsolated))
		if dropped != 2 || recoveries != 2 {
			t.Fatalf("counted %v down messages and %v recoveries dropped, want 2 and 2 (a's and c's)", dropped, recoveries)
		}
	})
}

// With node alerts, the alerts follow the own view and no other node
// hears of them: the relays carry no announcement, and the engine ignores
// those of cluster-alerting nodes beside it.
func TestNodeAlertsTellNoOtherNode(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		state := restoredDown(time.Now())
		n := newNodeAlerts(state, &messageRecorder{})
		n.process(time.Now())
		if said := n.Said(); !reflect.DeepEqual(said, domain.Said{}) {
			t.Fatalf("relays would carry %+v", said)
		}
		if r := n.Record(); len(r.Announcements) != 1 || r.Announcements[0].By != "me" {
			t.Fatalf("record %+v, want its own announcement of dec for the state file", r)
		}
	})
}

// due and dueBy are each other's inverse, for any gaps: reminder i is due
// at due(i), and dueBy counts it from that instant on, not a nanosecond
// before.
func TestReminderArithmeticAgreesWithItsInverse(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	since := t0
	for range 2000 {
		gaps := make(Schedule, 1+r.IntN(5))
		for i := range gaps {
			gaps[i] = time.Duration(1 + r.Int64N(int64(5*time.Hour)))
		}
		i := r.IntN(100)
		at := gaps.due(since, i)
		if got := gaps.dueBy(since, at); got != i+1 {
			t.Fatalf("gaps %v: reminder %d due at %v, but dueBy then is %d", gaps, i, at.Sub(since), got)
		}
		if got := gaps.dueBy(since, at.Add(-1)); got != i {
			t.Fatalf("gaps %v: a nanosecond before reminder %d, dueBy is %d", gaps, i, got)
		}
	}
}

// A state file may claim any number of reminders sent; resuming such an
// outage is arithmetic, so it takes no longer than resuming any other.
func TestAHugeReminderCountResumesAtOnce(t *testing.T) {
	for _, sent := range []int{math.MaxInt, 9e18, 1 << 40} {
		n := NewNotifier(NotifierConfig{Node: "me", Followups: defaultFollowups, State: restoredDown(t0), Out: &messageRecorder{},
			Saved: domain.AlertRecord{Announcements: []domain.AnnouncementRecord{announcedBy("me", t0, sent)}}, Now: t0, Log: zerolog.Nop()})
		if r := n.Record().Announcements; len(r) != 1 || r[0].Reminders != sent {
			t.Fatalf("record %+v, want %d sent", r, sent)
		}
		if next := n.episodes["dec"].next; next.Before(t0.Add(100 * 365 * 24 * time.Hour)) {
			t.Fatalf("after %d reminders the next is due at %v, want beyond any outage", sent, next)
		}
	}
	// Missed slots are counted, not walked: a chain of 1 ns gaps resumed a
	// year later.
	n := NewNotifier(NotifierConfig{Node: "me", Followups: Schedule{1}, State: restoredDown(t0), Out: &messageRecorder{},
		Now: t0.Add(365 * 24 * time.Hour), Log: zerolog.Nop()})
	if r := n.Record().Announcements; len(r) != 1 || r[0].Reminders != int(365*24*time.Hour) {
		t.Fatalf("record %+v after a year of 1 ns gaps", r)
	}
}
