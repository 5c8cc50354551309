package actors

import (
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/dupunkto/mesh/actors/domain"
)

// simGrace is LEAVE_GRACE in the simulated cluster.
const simGrace = time.Minute

// newLeavingCluster is a simulated cluster of five whose nodes keep a
// peer's leave for simGrace.
func newLeavingCluster(t *testing.T) *simCluster {
	c := newSimCluster(t, "a", "b", "c", "d", "e")
	c.mu.Lock()
	c.rule.LeaveGrace = simGrace
	c.mu.Unlock()
	time.Sleep(simFresh) // past every node's warm-up
	return c
}

// A peer stopped on purpose (SIGTERM) and started again within the grace:
// a reboot, an upgrade. Nothing is sent, though every node saw it down,
// and saw it up only a while after its first relay came; each counts the
// down message it kept back, with its reason.
func TestAPeerStoppedOnPurposeAndBackWithinTheGraceSendsNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newLeavingCluster(t)
		c.leave("e")
		c.everyoneSees("e", domain.StatusDown, 100*time.Millisecond)
		time.Sleep(simGrace - 5*time.Second)
		if v, _ := c.nodes["a"].Snapshot().Verdicts().Of("e"); v.Status() != domain.ClusterStopped || v.Observed() != domain.ClusterDown {
			t.Fatalf("a's verdict on e: %s (observed %s), want stopped (observed down)", v.Status(), v.Observed())
		}
		c.boot("e", nil)
		time.Sleep(simRound) // its first relays come before its observers' probes see it up
		c.everyoneSees("e", domain.StatusUp, 500*time.Millisecond)
		time.Sleep(simGrace + 5*simSlot)
		if got := c.messages(); len(got) != 0 {
			t.Fatalf("sent %q for a peer back within its grace, want nothing", got)
		}
		for _, node := range []string{"a", "b", "c", "d"} {
			if n := testutil.ToFloat64(c.nodes[node].metrics.suppressed.WithLabelValues(domain.MessageDown.String(), SuppressedLeave)); n != 1 {
				t.Errorf("%s counted %v down messages kept back for a leave, want 1", node, n)
			}
		}
	})
}

// A peer stopped on purpose that does not come back: one message when the
// grace is over, saying so, from one node; reminders from then on, not at
// once for the slots that passed; one recovery when it is back, its
// downtime counted from the leave.
func TestAPeerStoppedOnPurposeThatOverstaysItsGraceIsToldOfOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newLeavingCluster(t)
		c.leave("e")
		c.everyoneSees("e", domain.StatusDown, 100*time.Millisecond)
		time.Sleep(simGrace - time.Second)
		if got := c.messages(); len(got) != 0 {
			t.Fatalf("sent %q within the grace, want nothing", got)
		}
		time.Sleep(time.Second + 5*simSlot)
		got := c.messages()
		if len(got) != 1 || !strings.HasPrefix(got[0], "a: 🔴 `e` stopped 1m ") || !strings.Contains(got[0], "ago and has not come back; unreachable from 4 of 5 nodes (a, b, c, d)") {
			t.Fatalf("sent %q after the grace, want one message from a that e stopped a minute ago and has not come back", got)
		}
		time.Sleep(simFollowups[0] - simGrace - 5*simSlot - time.Second)
		if got := c.messages(); len(got) != 1 {
			t.Fatalf("sent %q before the first reminder is due, want only the down message", got)
		}
		time.Sleep(2 * time.Second)
		if n := c.count(domain.MessageReminder, "e"); n != 1 {
			t.Fatalf("%d reminders once the first gap from the leave passed, want 1: %q", n, c.messages())
		}
		c.boot("e", nil)
		c.everyoneSees("e", domain.StatusUp, 100*time.Millisecond)
		time.Sleep(5 * simSlot)
		if got := c.marks("e"); strings.Join(got, " ") != "a: 🔴 a: 🟠 a: 🟢" {
			t.Fatalf("the chat read %q, want a's down, reminder and recovery", got)
		}
		if all := c.messages(); !strings.Contains(all[2], "(down for 10m") {
			t.Fatalf("recovery %q, want the downtime counted from the leave", all[2])
		}
	})
}

// The announcer of an outage restarts (a rolling upgrade) just as a
// reminder falls due: the next node takes the outage over and sends it.
// Back with its state file, which says no reminder went out, the first
// node by name does not claim the outage back and send the reminder again:
// it listens until it has heard from every node, and leaves the outage to
// the node that holds it now.
func TestAnAnnouncerRestartedAfterATakeoverSendsNoReminderTwice(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newLeavingCluster(t)
		c.kill("e")
		c.everyoneSees("e", domain.StatusDown, 0)
		time.Sleep(5 * simSlot)
		if got := c.marks("e"); strings.Join(got, " ") != "a: 🔴" {
			t.Fatalf("the chat read %q, want a's down message", got)
		}
		time.Sleep(simFollowups[0] - 5*simSlot - 2*time.Second)
		saved := c.nodes["a"].notifier.Record()
		c.leave("a")
		time.Sleep(2*time.Second + simFresh + 2*simSlot) // b took it over and sent the reminder
		c.bootWith("a", saved)
		time.Sleep(5 * simFresh)
		if got := c.marks("e"); strings.Join(got, " ") != "a: 🔴 b: 🟠" {
			t.Fatalf("the chat read %q, want a's down message and one reminder, from b", got)
		}
		c.everyoneSees("e", domain.StatusUp, 0)
		time.Sleep(5 * simSlot)
		if got := c.marks("e"); strings.Join(got, " ") != "a: 🔴 b: 🟠 b: 🟢" {
			t.Fatalf("the chat read %q, want one recovery, from b", got)
		}
	})
}
