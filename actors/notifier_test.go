package actors

import (
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rs/zerolog"
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
	n     *Notifier
	out   *messageRecorder
}

func newNotifierTest(t *testing.T) *notifierTest {
	start := time.Now()
	out := &messageRecorder{start: start}
	n := NewNotifier(NotifierConfig{Followups: defaultFollowups, Out: out, Log: zerolog.Nop()})
	go n.Serve(t.Context())
	return &notifierTest{t, start, n, out}
}

// transition sends one transition of peer at the current fake time.
func (nt *notifierTest) transition(peer string, from, to Status, downSince time.Duration) {
	nt.n.Transition(Transition{Peer: peer, From: from, To: to, At: time.Now(), DownSince: nt.start.Add(downSince)})
	synctest.Wait()
}

// until advances the fake clock to d after the start.
func (nt *notifierTest) until(d time.Duration) {
	time.Sleep(nt.start.Add(d).Sub(time.Now()))
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
		nt.transition("dec", StatusUnknown, StatusUp, 0)
		nt.until(24 * time.Hour)
		nt.expect()
	})
}

func TestRemindersFollowTheGapsAndTheLastRepeats(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nt := newNotifierTest(t)
		nt.transition("dec", StatusUp, StatusDown, 0)
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
		nt.transition("dec", StatusUnknown, StatusDown, 0)
		nt.expect(sentAt{20 * time.Second, "🔴 `dec` is unreachable"})
	})
}

func TestRecoveryCancelsTheChainAndReportsTheDowntime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nt := newNotifierTest(t)
		nt.transition("dec", StatusUp, StatusDown, 0)
		nt.until(20*m + 5*time.Second)
		nt.transition("dec", StatusDown, StatusUp, 0)
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
		nt.transition("dec", StatusUp, StatusDown, 0)
		nt.until(10 * m)
		nt.transition("dec", StatusDown, StatusUp, 0)
		nt.until(12 * m)
		nt.transition("dec", StatusUp, StatusDown, 0)
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
		nt.transition("dec", StatusUp, StatusDown, 0)
		nt.until(5 * m)
		nt.transition("oct", StatusUp, StatusDown, 0)
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
		n := NewNotifier(NotifierConfig{Followups: defaultFollowups, Out: out, Log: zerolog.Nop()})
		// The notifier is not running (busy, or the node was away) while the
		// outage goes on for two hours.
		n.Transition(Transition{Peer: "dec", From: StatusUp, To: StatusDown, At: time.Now()})
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
				n := NewNotifier(NotifierConfig{Followups: defaultFollowups, Out: out, Log: zerolog.Nop()})
				n.Restore("dec", time.Now().Add(-tc.downSince), tc.sent, time.Now())
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
		n := NewNotifier(NotifierConfig{Followups: defaultFollowups, Out: out, Log: zerolog.Nop()})
		since := time.Now().Add(-10 * m)
		n.Restore("dec", since, 0, time.Now())
		go n.Serve(t.Context())
		time.Sleep(m)
		n.Transition(Transition{Peer: "dec", From: StatusDown, To: StatusUp, At: time.Now(), DownSince: since})
		time.Sleep(time.Hour)
		if got := out.take(); len(got) != 1 || got[0].text != "🟢 `dec` is reachable again (down for 11m 0s)" {
			t.Fatalf("messages %v", got)
		}
		if p := n.Progress(); len(p) != 0 {
			t.Fatalf("progress %v after the recovery, want none", p)
		}
	})
}
