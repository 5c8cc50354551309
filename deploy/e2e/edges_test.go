package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// The edges of a node's life in cluster alerts: an announcer held up
// (SIGSTOP) or restarted from its state file mid-outage, while the next
// node took the outage over and ended it, says nothing stale when it is
// back: no late reminder, no second recovery.
func TestAnAnnouncerBackFromAwaySaysNothingStale(t *testing.T) {
	shareMachine(t, loadOf(5, 100*time.Millisecond))
	for _, away := range []string{"paused", "restarted"} {
		t.Run(away, func(t *testing.T) {
			hook := newChat(t)
			nodes := byName(clusterWith(t, 5, stateFiles(t.TempDir()), "RELAY_SECRET=edges", "WEBHOOK_URL="+hook.URL+"/hook",
				"FOLLOWUP_INTERVALS=3s", "FAILURE_THRESHOLD=5"))
			first, second, p := nodes[0], nodes[1], nodes[4]
			p.kill()
			eventually(t, 15*time.Second, first.name+" to announce "+p.name, func() bool { return len(hook.from(first.name, p.name)) > 0 })
			// Its relays have told the others: else it was away before it
			// could say it had announced, and the next node announces it
			// again (a duplicate, never a miss).
			eventually(t, 10*time.Second, second.name+" to hear "+first.name+"'s announcement", func() bool {
				families, _ := scrape(t, second)
				left, _ := sample(families, "mesh_messages_suppressed_total", map[string]string{"kind": "down", "reason": "announced_elsewhere"})
				return left >= 1
			})
			if away == "paused" {
				first.freeze()
				defer first.thaw() // whatever happens, the process must be able to end
			} else if code := first.stop(); code != 0 {
				t.Fatalf("%s exited %d on SIGTERM", first.name, code)
			}
			eventually(t, 20*time.Second, second.name+" to take "+p.name+" over and remind of it", func() bool {
				d, r, _ := kinds(hook.from(second.name, p.name))
				return d == 0 && r > 0
			})
			p.restart()
			eventually(t, 15*time.Second, second.name+" to say "+p.name+" is back", func() bool { _, _, g := kinds(hook.from(second.name, p.name)); return g > 0 })
			back := time.Now()
			if away == "paused" {
				first.thaw()
			} else {
				first.restart()
			}
			eventually(t, 15*time.Second, "the others to see "+first.name+" up again", func() bool { return sees(second, first.name, isUp) })
			time.Sleep(4 * time.Second) // past its listening, and past a reminder gap
			for _, m := range hook.from(first.name, p.name) {
				if m.at.After(back) {
					t.Fatalf("%s said %q about %s after it was back:%s", first.name, m.Content, p.name, dump(hook.about(p.name)))
				}
			}
			if d, _, g := kinds(hook.about(p.name)); d != 1 || g != 1 {
				t.Fatalf("%d down messages and %d recoveries of %s, want one each:%s", d, g, p.name, dump(hook.about(p.name)))
			}
		})
	}
}

// A node whose clock is ten minutes behind announces an outage and goes
// silent; the real node that takes it over reads its times against its own
// clock: the reminder it sends says how long the outage has really lasted.
// The skewed node is the test's, speaking Mesh's relays as such a node
// would: its times, and when it sent each relay, by its clock.
func TestATakeoverCarriesNoOtherNodesClockSkew(t *testing.T) {
	shareMachine(t, loadOf(3, 100*time.Millisecond))
	const secret, skew = "skew", -10 * time.Minute
	hook := newChat(t)
	ports := freePorts(t, 3)
	var real []string
	for _, p := range ports {
		real = append(real, fmt.Sprintf("127.0.0.1:%d", p))
	}
	// The skewed node answers probes and takes relays; its own relays go
	// out from the test below.
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"pong":true}`))
	}))
	defer fake.Close()
	skewed := strings.TrimPrefix(fake.URL, "http://")
	peers := "PEERS=http://" + strings.Join(append(append([]string{}, real...), skewed), ",http://")
	var nodes []*node
	for _, name := range real {
		nodes = append(nodes, startNode(t, name, peers, "POLL_INTERVAL=100ms", "PROBE_TIMEOUT=250ms", "FAILURE_THRESHOLD=5",
			"RELAY_SECRET="+secret, "WEBHOOK_URL="+hook.URL+"/hook", "FOLLOWUP_INTERVALS=4s"))
	}
	for _, n := range nodes {
		eventually(t, 15*time.Second, n.name+" to see everyone up", func() bool {
			s, err := n.state()
			return err == nil && len(s.Peers) == 3 && sees(n, skewed, isUp)
		})
	}
	p := nodes[2]
	p.kill()
	killed := time.Now()
	// The skewed node announces p's outage from the moment of the kill, by
	// its clock, for two seconds, then goes silent.
	relay := func(to *node, now time.Time) {
		body, _ := json.Marshal(map[string]any{"node": skewed, "peers": map[string]any{},
			"announced": map[string]any{p.name: map[string]any{"kind": "down", "since": killed.Add(skew).UTC().Format(time.RFC3339), "reminders": 0}},
			"sent_at":   now.Add(skew).UTC().Format(time.RFC3339Nano)})
		req, _ := http.NewRequest(http.MethodPost, "http://"+to.name+"/relay", bytes.NewReader(body))
		req.Header.Set("Authorization", secret)
		req.Header.Set("Content-Type", "application/json")
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}
	for end := time.Now().Add(2 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		for _, n := range nodes[:2] {
			relay(n, time.Now())
		}
	}
	eventually(t, 20*time.Second, "a reminder about "+p.name, func() bool { _, r, _ := kinds(hook.about(p.name)); return r > 0 })
	msgs := hook.about(p.name)
	if d, _, _ := kinds(msgs); d != 0 {
		t.Fatalf("a down message of an outage the skewed node announced:%s", dump(msgs))
	}
	var lasted time.Duration
	for _, m := range msgs {
		if strings.HasPrefix(m.Content, "🟠") {
			_, after, _ := strings.Cut(m.Content, "(down for ")
			if lasted, _ = time.ParseDuration(strings.ReplaceAll(strings.TrimSuffix(after, ")"), " ", "")); lasted > time.Minute || lasted < 3*time.Second {
				t.Fatalf("the reminder says the outage lasted %v, %v after the kill:%s", lasted, m.at.Sub(killed).Round(time.Second), dump(msgs))
			}
			break
		}
	}
}

// A chat service that is slow but works (it answers every post after 15 s,
// past a first attempt's 10 s) gets the down message twice, not once every
// ten seconds: the second attempt waits longer, and its answer is a
// delivery. The timed-out attempt is counted.
func TestASlowWebhookGetsTheMessageAtMostTwice(t *testing.T) {
	shareMachine(t, loadOf(3, 100*time.Millisecond))
	var mu sync.Mutex
	var posts []string
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			return // the isolation guard's HEAD: the service is there
		}
		var m chatMessage
		_ = json.NewDecoder(r.Body).Decode(&m)
		mu.Lock()
		posts = append(posts, m.Content)
		mu.Unlock()
		select {
		case <-time.After(15 * time.Second):
			w.WriteHeader(http.StatusNoContent)
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(slow.Close)
	nodes := cluster(t, 3, "RELAY_SECRET=slow", "WEBHOOK_URL="+slow.URL+"/hook", "FAILURE_THRESHOLD=5", "LOG_LEVEL=debug")
	nodes[2].kill()

	delivered := func() *node {
		for _, n := range nodes[:2] {
			if len(n.logsMatching(map[string]any{"message": "message delivered", "channel": "webhook"})) > 0 {
				return n
			}
		}
		return nil
	}
	eventually(t, 60*time.Second, "the slow webhook to take the down message", func() bool { return delivered() != nil })
	mu.Lock()
	got := slices.Clone(posts)
	mu.Unlock()
	if len(got) != 2 || got[0] != got[1] || !strings.HasPrefix(got[0], "🔴") {
		t.Fatalf("the webhook got %q: want the down message twice", got)
	}
	sender := delivered()
	var metrics string
	eventually(t, 5*time.Second, "the sender's metrics", func() bool {
		resp, err := client.Get("http://" + sender.name + "/metrics")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		_, _ = b.ReadFrom(resp.Body)
		metrics = b.String()
		return true
	})
	if !strings.Contains(metrics, `mesh_webhook_deliveries_total{channel="webhook",result="timed_out"} 1`) {
		t.Errorf("the timed-out attempt is not counted:\n%s", grepLines(metrics, "mesh_webhook_deliveries_total"))
	}
}

// grepLines returns text's lines that hold s.
func grepLines(text, s string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, s) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
