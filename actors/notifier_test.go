package actors

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rs/zerolog"

	"github.com/dupunkto/mesh/actors/domain"
)

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

func (r *messageRecorder) Enqueue(m Message) {
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

var defaultFollowups = []time.Duration{15 * time.Minute, 30 * time.Minute, time.Hour, 2 * time.Hour, 5 * time.Hour}

// notifierTest runs a notifier in a synctest bubble; at(d) sends a transition
// d after the start.
type notifierTest struct {
	t     *testing.T
	start time.Time
	inbox *Inbox
	out   *messageRecorder
}

// newTestNotifier returns a notifier with the default follow-ups that
// reads inbox, resumes outages, and writes to out.
func newTestNotifier(inbox *Inbox, out MessageSink, outages ...Outage) *Notifier {
	return NewNotifier(NotifierConfig{Followups: defaultFollowups, Inbox: inbox, Out: out, Outages: outages, Now: time.Now(), Log: zerolog.Nop()})
}

func newNotifierTest(t *testing.T) *notifierTest {
	start := time.Now()
	out := &messageRecorder{start: start}
	inbox := NewInbox(1, nil, zerolog.Nop())
	go newTestNotifier(inbox, out).Serve(t.Context())
	return &notifierTest{t, start, inbox, out}
}

// transition sends one transition of peer at the current fake time.
func (nt *notifierTest) transition(peer string, from, to domain.Status, downSince time.Duration) {
	nt.inbox.Put(domain.Transition{Subject: domain.Peer(peer), From: from, To: to, At: time.Now(), DownSince: nt.start.Add(downSince)})
	synctest.Wait()
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
		nt.transition("dec", domain.StatusUnknown, domain.StatusUp, 0)
		nt.until(24 * time.Hour)
		nt.expect()
	})
}

func TestRemindersFollowTheGapsAndTheLastRepeats(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nt := newNotifierTest(t)
		nt.transition("dec", domain.StatusUp, domain.StatusDown, 0)
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
		nt.transition("dec", domain.StatusUnknown, domain.StatusDown, 0)
		nt.expect(sentAt{20 * time.Second, "🔴 `dec` is unreachable"})
	})
}

func TestRecoveryCancelsTheChainAndReportsTheDowntime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nt := newNotifierTest(t)
		nt.transition("dec", domain.StatusUp, domain.StatusDown, 0)
		nt.until(20*m + 5*time.Second)
		nt.transition("dec", domain.StatusDown, domain.StatusUp, 0)
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
		nt.transition("dec", domain.StatusUp, domain.StatusDown, 0)
		nt.until(10 * m)
		nt.transition("dec", domain.StatusDown, domain.StatusUp, 0)
		nt.until(12 * m)
		nt.transition("dec", domain.StatusUp, domain.StatusDown, 0)
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
		nt.transition("dec", domain.StatusUp, domain.StatusDown, 0)
		nt.until(5 * m)
		nt.transition("oct", domain.StatusUp, domain.StatusDown, 0)
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

func TestMissedRemindersSendOneNotABurst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		out := &messageRecorder{start: time.Now()}
		inbox := NewInbox(1, nil, zerolog.Nop())
		n := newTestNotifier(inbox, out)
		// The notifier is not running (busy, or the node was away) while the
		// outage goes on for two hours.
		inbox.Put(domain.Transition{Subject: domain.Peer("dec"), From: domain.StatusUp, To: domain.StatusDown, At: time.Now()})
		n.process(time.Now())
		time.Sleep(2 * time.Hour)
		go n.Serve(t.Context())
		synctest.Wait()
		got := out.take()
		if len(got) != 2 || got[1] != (sentAt{2 * time.Hour, "🟠 `dec` is still unreachable (down for 2h 0m)"}) {
			t.Fatalf("messages %v, want the down and one reminder at 2h", got)
		}
		// It carries on at the next slot after now: 3h45m.
		time.Sleep(105 * m)
		synctest.Wait()
		if got := out.take(); len(got) != 1 || got[0].after != 225*m {
			t.Fatalf("messages %v, want one at 3h45m", got)
		}
	})
}

func TestRestoredOutagesCarryOnTheirReminderSchedule(t *testing.T) {
	cases := []struct {
		name      string
		downSince time.Duration // before the restart
		sent      int
		want      []sentAt // after the restart, over the next 3 hours
	}{
		{"the next reminder comes on the schedule counted from since", 20 * m, 1, []sentAt{
			{25 * m, "🟠 `dec` is still unreachable (down for 45m 0s)"},
			{85 * m, "🟠 `dec` is still unreachable (down for 1h 45m)"},
		}},
		{"several missed reminders give one, not a burst", 2 * time.Hour, 0, []sentAt{
			{0, "🟠 `dec` is still unreachable (down for 2h 0m)"},
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
				n := newTestNotifier(NewInbox(1, nil, zerolog.Nop()), out, Outage{Subject: domain.Peer("dec"), DownSince: time.Now().Add(-tc.downSince), Sent: tc.sent})
				go n.Serve(t.Context())
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
		inbox := NewInbox(1, nil, zerolog.Nop())
		n := newTestNotifier(inbox, out, Outage{Subject: domain.Peer("dec"), DownSince: since, Sent: 0})
		go n.Serve(t.Context())
		time.Sleep(m)
		inbox.Put(domain.Transition{Subject: domain.Peer("dec"), From: domain.StatusDown, To: domain.StatusUp, At: time.Now(), DownSince: since})
		time.Sleep(time.Hour)
		if got := out.take(); len(got) != 1 || got[0].text != "🟢 `dec` is reachable again (down for 11m 0s)" {
			t.Fatalf("messages %v", got)
		}
		if p := n.Progress(); len(p) != 0 {
			t.Fatalf("progress %v after the recovery, want none", p)
		}
	})
}

// A full inbox gives way with transitions that announce nothing first; a
// dropped transition is logged and counted.
func TestAFullInboxDropsSilentTransitionsFirstAndCountsTheDrops(t *testing.T) {
	var logs syncWriter
	m := NewMetrics(peerSubjects("a"))
	inbox := NewInbox(1, m, zerolog.New(&logs))
	silent := domain.Transition{Subject: domain.Peer("a"), From: domain.StatusUnknown, To: domain.StatusUp}
	down := domain.Transition{Subject: domain.Peer("a"), From: domain.StatusUp, To: domain.StatusDown}
	inbox.Put(silent)
	for range 255 {
		inbox.Put(down)
	}
	inbox.Put(down) // full: the one silent transition gives way
	inbox.Put(down) // full of downs: this one is dropped
	got := inbox.TakeAll()
	if len(got) != 256 || slices.ContainsFunc(got, func(t domain.Transition) bool { return !t.Notifies() }) {
		t.Fatalf("%d queued, silent ones among them: %v", len(got), slices.ContainsFunc(got, func(t domain.Transition) bool { return !t.Notifies() }))
	}
	if n := strings.Count(logs.String(), "notifier inbox full: transition dropped"); n != 2 {
		t.Fatalf("%d drops logged, want 2:\n%s", n, logs.String())
	}
	dropped := scrape(t, m, newTestOwner("a"))["mesh_mailbox_dropped_total"]
	for _, s := range dropped.GetMetric() {
		if s.GetLabel()[0].GetValue() == "notifier" && s.GetCounter().GetValue() != 2 {
			t.Fatalf("mesh_mailbox_dropped_total{mailbox=\"notifier\"} = %v, want 2", s.GetCounter().GetValue())
		}
	}
	if len(dropped.GetMetric()) != 2 {
		t.Fatalf("mesh_mailbox_dropped_total has %d series, want notifier and webhook from the start", len(dropped.GetMetric()))
	}
}

// due and dueBy are each other's inverse, for any gaps: reminder i is due
// at due(i), and dueBy counts it from that instant on, not a nanosecond
// before.
func TestReminderArithmeticAgreesWithItsInverse(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	since := t0
	for range 2000 {
		gaps := make([]time.Duration, 1+r.IntN(5))
		for i := range gaps {
			gaps[i] = time.Duration(1 + r.Int64N(int64(5*time.Hour)))
		}
		n := newTestNotifierWith(gaps)
		i := r.IntN(100)
		at := n.cfg.Followups.due(since, i)
		if got := n.cfg.Followups.dueBy(since, at); got != i+1 {
			t.Fatalf("gaps %v: reminder %d due at %v, but dueBy then is %d", gaps, i, at.Sub(since), got)
		}
		if got := n.cfg.Followups.dueBy(since, at.Add(-1)); got != i {
			t.Fatalf("gaps %v: a nanosecond before reminder %d, dueBy is %d", gaps, i, got)
		}
	}
}

// A state file may claim any number of reminders sent; resuming such an
// outage is arithmetic, so it takes no longer than resuming any other.
func TestAHugeReminderCountResumesAtOnce(t *testing.T) {
	for _, sent := range []int{math.MaxInt, 9e18, 1 << 40} {
		n := newTestNotifier(NewInbox(1, nil, zerolog.Nop()), &messageRecorder{}, Outage{Subject: domain.Peer("dec"), DownSince: t0, Sent: sent})
		if p := n.Progress()["dec"]; p.Sent != sent {
			t.Fatalf("progress %+v, want %d sent", p, sent)
		}
		if next := n.chains["dec"].next; next.Before(t0.Add(100 * 365 * 24 * time.Hour)) {
			t.Fatalf("after %d reminders the next is due at %v, want beyond any outage", sent, next)
		}
	}
	// Missed slots are counted, not walked: a chain of 1 ns gaps resumed a
	// year later.
	n := NewNotifier(NotifierConfig{Followups: []time.Duration{1}, Inbox: NewInbox(1, nil, zerolog.Nop()), Out: &messageRecorder{},
		Outages: []Outage{{Subject: domain.Peer("dec"), DownSince: t0, Sent: -1}}, Now: t0.Add(365 * 24 * time.Hour), Log: zerolog.Nop()})
	if p := n.Progress()["dec"]; p.Sent != int(365*24*time.Hour) {
		t.Fatalf("progress %+v after a year of 1 ns gaps", p)
	}
}

func newTestNotifierWith(gaps []time.Duration) *Notifier {
	return NewNotifier(NotifierConfig{Followups: gaps, Inbox: NewInbox(1, nil, zerolog.Nop()), Out: &messageRecorder{}, Now: t0, Log: zerolog.Nop()})
}
