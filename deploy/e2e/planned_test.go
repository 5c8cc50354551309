package e2e

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// leaveGrace is LEAVE_GRACE in the planned work tests: long enough for a
// node to be stopped and started again, short enough to wait out.
const leaveGrace = 8 * time.Second

// clusterStatus is what observer's /state says the cluster's verdict on
// peer is; "" when it does not answer.
func clusterStatus(observer *node, peer string) string {
	s, err := observer.state()
	if err != nil {
		return ""
	}
	return s.Cluster[peer].Status
}

// everyoneHolds waits until every node in observers holds peer's cluster
// verdict at status.
func everyoneHolds(t *testing.T, observers []*node, peer *node, status string) {
	t.Helper()
	for _, o := range observers {
		eventually(t, 10*time.Second, o.name+" to hold "+peer.name+" "+status, func() bool { return clusterStatus(o, peer.name) == status })
	}
}

// settledAbout waits until nothing more has been said about subject for
// quiet, and returns what was said after the first skip messages: a count
// taken then is exact.
func settledAbout(hook *chat, subject string, skip int, quiet time.Duration) []chatMessage {
	for {
		before := len(hook.about(subject))
		time.Sleep(quiet)
		if msgs := hook.about(subject); len(msgs) == before {
			return msgs[min(skip, len(msgs)):]
		}
	}
}

// Five nodes with cluster alerts. A node stopped with SIGTERM tells the
// others as it goes: they show it stopped (/state, /metrics, the page),
// and if it is back within LEAVE_GRACE, the chat hears nothing. Stopped
// and not back: one message when the grace is over, saying so, and one
// recovery when it is back; a node restarted meanwhile remembers the
// leave from its state file. Killed with SIGKILL: down, as ever.
func TestANodeStoppedOnPurposePagesNobody(t *testing.T) {
	shareMachine(t, loadOf(5, 100*time.Millisecond)+browserLoad)
	hook := newChat(t)
	nodes := byName(clusterWith(t, 5, stateFiles(t.TempDir()), "RELAY_SECRET=planned", "WEBHOOK_URL="+hook.URL+"/hook",
		"FOLLOWUP_INTERVALS=1h", "FAILURE_THRESHOLD=5", "LEAVE_GRACE="+leaveGrace.String()))
	a, e, others := nodes[0], nodes[4], nodes[:4]

	t.Run("back within the grace", func(t *testing.T) {
		stopped := time.Now() // the grace counts from the last relay, sent as the stop begins
		if code := e.stop(); code != 0 {
			t.Fatalf("%s exited %d on SIGTERM", e.name, code)
		}
		everyoneHolds(t, others, e, "stopped")
		families, _ := scrape(t, a)
		if v, _ := sample(families, "mesh_cluster_peer_status", map[string]string{"peer": e.name, "status": "stopped"}); v != 1 {
			t.Errorf("mesh_cluster_peer_status{status=\"stopped\"} of %s is %v, want 1", e.name, v)
		}
		if v, _ := sample(families, "mesh_maintenance", map[string]string{"subject": e.name, "reason": "leave"}); v != 1 {
			t.Errorf("mesh_maintenance{reason=\"leave\"} of %s is %v, want 1", e.name, v)
		}
		e.restart()
		everyoneHolds(t, others, e, "up")
		time.Sleep(time.Until(stopped.Add(leaveGrace + 2*time.Second)))
		if msgs := settledAbout(hook, e.name, 0, time.Second); len(msgs) != 0 {
			t.Fatalf("the chat heard of a node back within its grace:%s", dump(msgs))
		}
	})

	t.Run("not back", func(t *testing.T) {
		said := len(hook.about(e.name))
		ctx := newBrowser(t)
		if err := chromedp.Do(ctx, chromedp.Navigate("http://"+a.name+"/ui/?refresh=1&view=matrix")); err != nil {
			t.Fatal(err)
		}
		waitViewSaying(t, ctx, "every node shown up", func(v pageView) string {
			for _, n := range nodes {
				if status, _, _, _ := v.row(n.name); status != "up" {
					return n.name + " is " + status
				}
			}
			return ""
		})
		stopped := time.Now() // the grace counts from the last relay, sent as the stop begins
		if code := e.stop(); code != 0 {
			t.Fatalf("%s exited %d on SIGTERM", e.name, code)
		}
		everyoneHolds(t, others, e, "stopped")
		// The first node by name, the one that would announce it, restarts
		// within the grace: its state file keeps the leave.
		if code := a.stop(); code != 0 {
			t.Fatalf("%s exited %d on SIGTERM", a.name, code)
		}
		a.restart()
		everyoneHolds(t, others[1:], a, "up")
		if got := clusterStatus(a, e.name); got != "stopped" {
			t.Fatalf("%s, restarted, holds %s %q, want stopped: the leave is forgotten", a.name, e.name, got)
		}
		waitViewSaying(t, ctx, e.name+" shown stopped", func(v pageView) string {
			if status, why, _, badge := v.row(e.name); status != "stopped" || !strings.Contains(why, "stopped on purpose") || !strings.Contains(badge, "stopped") {
				return "its row is " + status + " (" + why + ", " + badge + ")"
			}
			if cell := v.cell(a.name, e.name); cell != "stopped" {
				return "the matrix cell " + a.name + " → " + e.name + " is " + cell
			}
			return ""
		})
		screenshot(t, ctx, "stopped-on-purpose.png")
		eventually(t, 15*time.Second, "a message that "+e.name+" has not come back", func() bool { return len(hook.about(e.name)) > said })
		msgs := settledAbout(hook, e.name, said, 2*time.Second)
		if early := msgs[0].at.Sub(stopped); early < leaveGrace {
			t.Fatalf("the chat heard of a stopped node %v after it stopped, within its grace:%s", early, dump(msgs))
		}
		if len(msgs) != 1 || !strings.HasPrefix(msgs[0].Content, "🔴 `"+e.name+"` stopped ") || !strings.Contains(msgs[0].Content, "ago and has not come back; unreachable from 4 of 5 nodes") {
			t.Fatalf("want one message that %s stopped and has not come back:%s", e.name, dump(msgs))
		}
		e.restart()
		everyoneHolds(t, others, e, "up")
		msgs = settledAbout(hook, e.name, said, 2*time.Second)
		if down, _, green := kinds(msgs); down != 1 || green != 1 || len(msgs) != 2 {
			t.Fatalf("want the down message and one recovery:%s", dump(msgs))
		}
	})

	t.Run("killed", func(t *testing.T) {
		d := nodes[3]
		d.kill()
		eventually(t, 15*time.Second, "a down message about "+d.name, func() bool { return len(hook.about(d.name)) > 0 })
		if got := clusterStatus(a, d.name); got != "down" {
			t.Fatalf("%s holds the killed %s %q, want down", a.name, d.name, got)
		}
		msgs := settledAbout(hook, d.name, 0, 2*time.Second)
		if len(msgs) != 1 || !strings.HasPrefix(msgs[0].Content, "🔴 `"+d.name+"` is unreachable from 4 of 5 nodes") {
			t.Fatalf("want one down message, as for any outage:%s", dump(msgs))
		}
	})
}

// A rolling upgrade: every node of five, one after another, stopped with
// SIGTERM and started again a few seconds later, while a target is down
// all along. The chat hears nothing of the nodes; of the target, one down
// message, its reminders on schedule whichever node sends them, and one
// recovery.
func TestARollingRestartSendsNothingAndKeepsAnOutagesMessages(t *testing.T) {
	shareMachine(t, loadOf(5, 100*time.Millisecond))
	const gap = 4 * time.Second
	hook := newChat(t)
	shop := newService(t)
	shopName := "http://" + shop.addr + "/health"
	nodes := byName(clusterWith(t, 5, stateFiles(t.TempDir()), "RELAY_SECRET=rolling", "WEBHOOK_URL="+hook.URL+"/hook",
		"FOLLOWUP_INTERVALS="+gap.String(), "FAILURE_THRESHOLD=5", "LEAVE_GRACE=1m", "TARGETS="+shopName))
	eventually(t, 10*time.Second, "every node to see the target up", func() bool { return targetsSeen(nodes, map[string]string{shopName: "up"}) })
	shop.stop()
	eventually(t, 15*time.Second, "a down message about the target", func() bool { return len(hook.about(shopName)) > 0 })

	for _, n := range nodes {
		if code := n.stop(); code != 0 {
			t.Fatalf("%s exited %d on SIGTERM", n.name, code)
		}
		time.Sleep(2 * time.Second) // an upgrade's pull and start
		n.restart()
		var others []*node
		for _, o := range nodes {
			if o != n {
				others = append(others, o)
			}
		}
		everyoneHolds(t, others, n, "up")
		eventually(t, 10*time.Second, n.name+" to see the target down again", func() bool { return targetsSeen([]*node{n}, map[string]string{shopName: "down"}) })
	}
	time.Sleep(gap)
	shop.start()
	eventually(t, 15*time.Second, "a recovery of the target", func() bool { _, _, green := kinds(hook.about(shopName)); return green > 0 })
	msgs := settledAbout(hook, shopName, 0, 2*time.Second)

	for _, n := range nodes {
		if about := hook.about(n.name); len(about) != 0 {
			t.Errorf("the chat heard of %s, restarted on purpose:%s", n.name, dump(about))
		}
	}
	down, orange, green := kinds(msgs)
	if down != 1 || green != 1 || !strings.HasPrefix(msgs[len(msgs)-1].Content, "🟢") {
		t.Fatalf("want one down message and one recovery, last:%s", dump(msgs))
	}
	// The reminders: one per gap of the outage as the chat saw it, give or
	// take the one the recovery came before; never two within half a gap.
	lasted := msgs[len(msgs)-1].at.Sub(msgs[0].at)
	if want := int(lasted / gap); orange < want-1 || orange > want {
		t.Errorf("%d reminders in an outage of %v, want %d or %d (one each %v):%s", orange, lasted.Round(time.Second), want-1, want, gap, dump(msgs))
	}
	for i := 1; i < len(msgs); i++ {
		if strings.HasPrefix(msgs[i].Content, "🟠") && strings.HasPrefix(msgs[i-1].Content, "🟠") && msgs[i].at.Sub(msgs[i-1].at) < gap/2 {
			t.Errorf("two reminders %v apart:%s", msgs[i].at.Sub(msgs[i-1].at), dump(msgs))
		}
	}
}

// meshSilence runs `mesh silence args...` against node with the cluster's
// secret in the environment, as an operator would, and returns its exit
// code and what it printed.
func meshSilence(t *testing.T, secret string, node *node, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(binary, append(append([]string{"silence"}, args...), "--node", "http://"+node.name)...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "RELAY_SECRET=" + secret}
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatal(err)
	}
	return cmd.ProcessState.ExitCode(), string(out)
}

// A silence made with `mesh silence add` against one node of five: that
// node tells the chat who silenced what, once; every node holds it (its
// /state says so) and honours it, through a restart of the node that took
// it; the target's outage meanwhile is told of only when the silence is
// ended with `mesh silence expire`, once. What the CLI is refused it says.
func TestASilenceMadeOnOneNodeIsHonouredByEveryNode(t *testing.T) {
	shareMachine(t, loadOf(5, 100*time.Millisecond)+browserLoad)
	const secret = "silences"
	hook := newChat(t)
	shop := newService(t)
	shopName := "http://" + shop.addr + "/health"
	nodes := byName(clusterWith(t, 5, stateFiles(t.TempDir()), "RELAY_SECRET="+secret, "WEBHOOK_URL="+hook.URL+"/hook",
		"FOLLOWUP_INTERVALS=1h", "FAILURE_THRESHOLD=5", "TARGETS="+shopName))
	eventually(t, 10*time.Second, "every node to see the target up", func() bool { return targetsSeen(nodes, map[string]string{shopName: "up"}) })
	taker := nodes[2]

	if code, out := meshSilence(t, secret, taker, "add", "*", "--for", "1h"); code != 1 || !strings.Contains(out, "--all") {
		t.Fatalf("a silence of everything without --all: exit %d, %q", code, out)
	}
	if code, out := meshSilence(t, "wrong", taker, "list"); code != 1 || !strings.Contains(out, "401") {
		t.Fatalf("a wrong secret: exit %d, %q", code, out)
	}
	code, out := meshSilence(t, secret, taker, "add", shopName, "--for", "1h", "--by", "alice", "--comment", "kernel upgrade")
	if code != 0 {
		t.Fatalf("mesh silence add: exit %d, %q", code, out)
	}
	id, _, _ := strings.Cut(out, " ")
	for _, n := range nodes {
		eventually(t, 10*time.Second, n.name+" to hold the silence", func() bool {
			s, err := n.state()
			m := s.Maintenance[shopName]
			return err == nil && m.Reason == "silence" && m.ID == id && m.By == "alice" && m.Comment == "kernel upgrade"
		})
	}
	if code := taker.stop(); code != 0 {
		t.Fatalf("%s exited %d on SIGTERM", taker.name, code)
	}
	taker.restart()
	if code, out := meshSilence(t, secret, taker, "list"); code != 0 || !strings.Contains(out, id) || !strings.Contains(out, "active") {
		// The node may still be starting: ask again once it answers.
		eventually(t, 10*time.Second, taker.name+" to answer", func() bool { _, err := taker.state(); return err == nil })
		if code, out := meshSilence(t, secret, taker, "list"); code != 0 || !strings.Contains(out, id) || !strings.Contains(out, "active") {
			t.Fatalf("after a restart, %s lists: exit %d, %q", taker.name, code, out)
		}
	}

	shop.stop()
	eventually(t, 10*time.Second, "every node to see the target down", func() bool { return targetsSeen(nodes, map[string]string{shopName: "down"}) })
	time.Sleep(3 * time.Second) // rounds and election slots: what would have been said is said
	msgs := settledAbout(hook, shopName, 0, time.Second)
	if len(msgs) != 1 || msgs[0].Username != taker.name || !strings.HasPrefix(msgs[0].Content, "🔧 `"+shopName+"` silenced until ") || !strings.HasSuffix(msgs[0].Content, " by alice: kernel upgrade") {
		t.Fatalf("want only the message of the silence, from %s:%s", taker.name, dump(msgs))
	}
	// The page shows it in maintenance, not down: its row, its cells, and
	// today's bar, with who silenced it and why.
	ctx := newBrowser(t)
	if err := chromedp.Do(ctx, chromedp.Navigate("http://"+nodes[0].name+"/ui/?refresh=1")); err != nil {
		t.Fatal(err)
	}
	waitViewSaying(t, ctx, "the silenced target shown in maintenance", func(v pageView) string {
		for _, r := range v.Targets {
			if r.Target != shopName {
				continue
			}
			if r.Status != "maintenance" || !strings.Contains(r.Why, "silenced until ") || !strings.HasSuffix(r.Why, " by alice: kernel upgrade") || r.Today != "day maintenance" {
				return fmt.Sprintf("its row is %s, %q, today's bar %q", r.Status, r.Why, r.Today)
			}
			for _, c := range v.TargetCells {
				if c.To == shopName && (c.Status != "maintenance" || !strings.Contains(c.Title, "kernel upgrade")) {
					return fmt.Sprintf("%s's cell is %s, %q", c.From, c.Status, c.Title)
				}
			}
			return ""
		}
		return "no row of it"
	})

	if code, out := meshSilence(t, secret, nodes[4], "expire", id); code != 0 {
		t.Fatalf("mesh silence expire: exit %d, %q", code, out)
	}
	eventually(t, 15*time.Second, "a down message once the silence ended", func() bool { return len(hook.about(shopName)) > 1 })
	shop.start()
	eventually(t, 15*time.Second, "the recovery", func() bool { _, _, green := kinds(hook.about(shopName)); return green > 0 })
	msgs = settledAbout(hook, shopName, 1, 2*time.Second)
	if len(msgs) != 2 || !strings.HasPrefix(msgs[0].Content, "🔴 `"+shopName+"` is still unreachable after the silence ended, from 5 of 5 nodes") || !strings.HasPrefix(msgs[1].Content, "🟢") {
		t.Fatalf("want one down message when the silence ended, and one recovery:%s", dump(msgs))
	}
	if code, out := meshSilence(t, secret, nodes[0], "list"); code != 0 || !strings.Contains(out, "expired") {
		t.Fatalf("the ended silence is not listed as expired: exit %d, %q", code, out)
	}
}

// A node whose MAINTENANCE is a window every minute, for its first 40
// seconds, killed inside one: its peers know its windows from its relays,
// say nothing while the window lasts, and one message when it ends with
// the node still down; back outside a window, one recovery.
func TestANodeDownInsideItsMaintenanceWindowIsToldWhenTheWindowEnds(t *testing.T) {
	shareMachineEarly(t, loadOf(5, 100*time.Millisecond))
	hook := newChat(t)
	nodes := byName(clusterWith(t, 5, func(i int) []string {
		if i == 4 {
			return []string{"MAINTENANCE=* * * * * 40s UTC"}
		}
		return nil
	}, "RELAY_SECRET=windows", "WEBHOOK_URL="+hook.URL+"/hook", "FOLLOWUP_INTERVALS=1h", "FAILURE_THRESHOLD=5"))
	var p, watcher *node
	for _, n := range nodes {
		if strings.Contains(strings.Join(n.env, " "), "MAINTENANCE=") {
			p = n
		} else {
			watcher = n
		}
	}
	// Kill it early in a minute, its window on.
	for s := time.Now().Second(); s < 2 || s > 10; s = time.Now().Second() {
		time.Sleep(200 * time.Millisecond)
	}
	windowEnds := time.Now().Truncate(time.Minute).Add(40 * time.Second)
	p.kill()
	eventually(t, 10*time.Second, "its peers to hold it in its window", func() bool {
		s, err := watcher.state()
		return err == nil && s.Maintenance[p.name].Reason == "window" && s.Peers[p.name].Status == "down"
	})
	eventually(t, 60*time.Second, "a message once the window ended", func() bool { return len(hook.about(p.name)) > 0 })
	if first := hook.about(p.name)[0]; first.at.Before(windowEnds) {
		t.Fatalf("a message %v before the window ended:%s", windowEnds.Sub(first.at), dump(hook.about(p.name)))
	}
	p.restart()
	eventually(t, 15*time.Second, "the recovery", func() bool { _, _, green := kinds(hook.about(p.name)); return green > 0 })
	msgs := settledAbout(hook, p.name, 0, 2*time.Second)
	if len(msgs) != 2 || !strings.HasPrefix(msgs[0].Content, "🔴 `"+p.name+"` is still unreachable after its maintenance window ended, from 4 of 5 nodes") || !strings.HasPrefix(msgs[1].Content, "🟢") {
		t.Fatalf("want one down message as the window ended and one recovery:%s", dump(msgs))
	}
}
