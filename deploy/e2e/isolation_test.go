package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// One node of five cut off entirely, its link to the bridge taken down: it
// says it is isolated, sends no message at all, and none when the link is
// back; the four others send one down message about it between them (node
// alerts: one each), and one recovery.
func TestAnIsolatedNodeSendsNothing(t *testing.T) {
	shareMachineEarly(t, loadOf(5, 200*time.Millisecond))
	for _, alerts := range []string{"cluster", "node"} {
		t.Run("ALERTS="+alerts, func(t *testing.T) {
			// Reminders every 3 s, to fall due while the node is cut off.
			// A partial message waits 10 s, not the first reminder's 3 s:
			// once the link is back the nodes see the cut node up a round
			// or two apart, and on a machine the suite loads a relay saying
			// so may come two seconds late (a run saw the last straggler's
			// word come 3.1 s after the recovery, and a partial message
			// about that tail); 10 s is still a seventh of the rounds the
			// default PARTIAL_AFTER gives.
			c, hook := netClusterWithHook(t, 5, "ALERTS="+alerts, "FOLLOWUP_INTERVALS=3s", "PARTIAL_AFTER=10s")
			cut := c.name(0) // the first by name: the election must pass over it
			link := fmt.Sprintf("mh%d%s", 0, c.id)
			run(t, "ip", "-n", c.hub, "link", "set", link, "down")
			eventually(t, 20*time.Second, cut+" to say it is isolated", func() bool {
				s, err := c.state(0)
				return err == nil && s.Isolated
			})
			if m, err := c.get(0, "/metrics"); err != nil || !strings.Contains(string(m), "\nmesh_isolated 1\n") {
				t.Fatalf("the cut node's /metrics (%v) does not say mesh_isolated 1", err)
			}
			eventually(t, 20*time.Second, "the others to announce it", func() bool { d, _, _ := kinds(hook.about(cut)); return d > 0 })
			time.Sleep(8 * time.Second) // reminders fall due on the cut node too
			run(t, "ip", "-n", c.hub, "link", "set", link, "up")
			c.allUp(t)
			eventually(t, 20*time.Second, cut+" to be back", func() bool {
				s, err := c.state(0)
				return err == nil && !s.Isolated
			})
			time.Sleep(5 * time.Second) // anything held would have gone out by now
			if m, err := c.get(0, "/metrics"); err != nil || !strings.Contains(string(m), "\nmesh_isolated 0\n") {
				t.Fatalf("the node back (%v) does not say mesh_isolated 0", err)
			}

			msgs := hook.all()
			for _, m := range msgs {
				if m.Username == cut {
					t.Fatalf("the isolated node sent a message:%s", dump(msgs))
				}
			}
			down, _, green := kinds(hook.about(cut))
			want := map[string]int{"cluster": 1, "node": 4}[alerts]
			if down != want || green != want {
				t.Fatalf("%d down messages and %d recoveries about the cut node, want %d each:%s", down, green, want, dump(msgs))
			}
			if d, _, _ := kinds(msgs); d != want {
				t.Fatalf("down messages about others than the cut node:%s", dump(msgs))
			}
			var began, ended int
			for _, l := range c.nodes[0].logLines() {
				msg, _ := l["message"].(string)
				switch {
				case l["level"] == "warn" && strings.Contains(msg, "cut off"):
					began++
				case l["level"] == "info" && strings.Contains(msg, "back on the network") && l["peers_lost"] == 4.0:
					ended++
				}
			}
			if began != 1 || ended != 1 {
				t.Fatalf("the cut node logged %d warnings as it was cut off and %d info lines with peers_lost 4 as it came back, want 1 and 1:\n%s", began, ended, c.nodes[0].stdout)
			}
		})
	}
}

// The first node of a new cluster, deployed before the others: its peers
// all fail, and it holds no relay, as a node cut off does; but no peer has
// answered yet, so nothing is known of them and nothing is claimed. It says
// so once, is never isolated, and when the others come up it simply sees
// them.
func TestTheFirstNodeOfANewClusterClaimsNothing(t *testing.T) {
	shareMachine(t, loadOf(3, 100*time.Millisecond))
	ports := freePorts(t, 3)
	names := make([]string, 3)
	var urls []string
	for i, p := range ports {
		names[i] = fmt.Sprintf("127.0.0.1:%d", p)
		urls = append(urls, "http://"+names[i])
	}
	// Probes get 1 s: on a machine loaded by the suite, two peers just
	// started may both miss 250 ms for a round, which is what a node cut
	// off sees, and this test is of a new cluster, not of timing.
	env := []string{"PEERS=" + strings.Join(urls, ","), "POLL_INTERVAL=100ms", "PROBE_TIMEOUT=1s", "FAILURE_THRESHOLD=3", "RELAY_SECRET=first"}
	first := startNode(t, names[0], env...)
	// Many rounds of the guard, each with every peer failing.
	eventually(t, 15*time.Second, "both peers down after a dozen failures", func() bool {
		s, err := first.state()
		return err == nil && s.Peers[names[1]].ConsecutiveFailures > 12 && s.Peers[names[2]].ConsecutiveFailures > 12
	})
	if s, _ := first.state(); s.Isolated {
		t.Fatalf("%s says it is isolated before any peer ever answered", first.name)
	}
	startNode(t, names[1], env...)
	startNode(t, names[2], env...)
	eventually(t, 15*time.Second, "the others seen up", func() bool {
		s, err := first.state()
		return err == nil && s.Peers[names[1]].Status == "up" && s.Peers[names[2]].Status == "up"
	})
	if said := first.logsMatching(map[string]any{"message": "no peer has answered yet; nothing is known of them, so nothing is claimed"}); len(said) != 1 {
		t.Fatalf("said %d times that no peer has answered yet, want once", len(said))
	}
	if cut := strings.Count(first.stdout.String(), "looks cut off"); cut != 0 {
		t.Fatalf("logged %d times that it looks cut off", cut)
	}
}
