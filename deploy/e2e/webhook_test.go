package e2e

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// chat is a chat service's webhook, a recorder that reads each message as
// Discord's and Slack's do.
type chat struct {
	*recorder
	t *testing.T
}

type chatMessage struct {
	Content  string `json:"content"`
	Username string `json:"username"`
	at       time.Time
}

// newChat runs a chat on a loopback port.
func newChat(t *testing.T) *chat { return newChatIn(t, "", "127.0.0.1:0") }

// newChatIn runs a chat inside the namespace ns, listening at addr.
func newChatIn(t *testing.T, ns, addr string) *chat {
	return &chat{recorder: newRecorderIn(t, ns, addr), t: t}
}

// all returns every message received, in order.
func (c *chat) all() []chatMessage {
	var out []chatMessage
	for _, p := range c.posts(c.t) {
		m := chatMessage{at: p.At}
		if err := json.Unmarshal(p.Body, &m); err != nil {
			c.t.Errorf("webhook body %s: %v", p.Body, err)
		}
		out = append(out, m)
	}
	return out
}

// about returns the messages about peer, from any node, in order.
func (c *chat) about(peer string) []chatMessage {
	var out []chatMessage
	for _, m := range c.all() {
		if strings.Contains(m.Content, "`"+peer+"`") {
			out = append(out, m)
		}
	}
	return out
}

// from returns the messages one node sent about peer, in order.
func (c *chat) from(observer, peer string) []chatMessage {
	var out []chatMessage
	for _, m := range c.about(peer) {
		if m.Username == observer {
			out = append(out, m)
		}
	}
	return out
}

func (c *chat) count() int { return len(c.all()) }

var downFor = regexp.MustCompile(`\(down for (\d+)s\)$`)

func secondsDown(t *testing.T, m chatMessage) int {
	t.Helper()
	match := downFor.FindStringSubmatch(m.Content)
	if match == nil {
		t.Fatalf("%q does not say how long the peer was down in seconds", m.Content)
	}
	n, _ := strconv.Atoi(match[1])
	return n
}

// Node alerts, the seed's: each node messages its own view. They are the
// default without relaying, and what ALERTS=node keeps with it.
func TestWebhookAlertsFromRealNodes(t *testing.T) {
	shareMachine(t, loadOf(3, 100*time.Millisecond))
	for name, env := range map[string][]string{
		"without relaying":          nil,
		"ALERTS=node with relaying": {"RELAY_SECRET=node-alerts", "ALERTS=node"},
	} {
		t.Run(name, func(t *testing.T) { nodeAlerts(t, env...) })
	}
}

func nodeAlerts(t *testing.T, env ...string) {
	hook := newChat(t)
	// A threshold of 5 (half a second of refusals) keeps the staggered
	// start of the three processes from counting as an outage.
	nodes := cluster(t, 3, append([]string{"WEBHOOK_URL=" + hook.URL + "/api/webhooks/123/t0ken-e2e", "FOLLOWUP_INTERVALS=1s,2s", "FAILURE_THRESHOLD=5"}, env...)...)
	a, b, c := nodes[0], nodes[1], nodes[2]
	if n := hook.count(); n != 0 {
		t.Fatalf("boot sent %d messages, want none", n)
	}

	c.kill()
	observers := []*node{a, b}
	for _, obs := range observers {
		eventually(t, 10*time.Second, obs.name+" to send a down and two reminders", func() bool { return len(hook.from(obs.name, c.name)) >= 3 })
		got := hook.from(obs.name, c.name)
		if want := "🔴 `" + c.name + "` is unreachable"; got[0].Content != want {
			t.Fatalf("%s's first message %q, want %q", obs.name, got[0].Content, want)
		}
		for i, wantDown := range []int{1, 3} { // gaps of 1s, then 2s
			r := got[i+1]
			if !strings.HasPrefix(r.Content, "🟠 `"+c.name+"` is still unreachable (down for ") || secondsDown(t, r) != wantDown {
				t.Fatalf("%s's reminder %d: %q, want down for %ds", obs.name, i+1, r.Content, wantDown)
			}
			gap := r.at.Sub(got[i].at)
			if gap < 700*time.Millisecond {
				t.Fatalf("%s's reminder %d came %v after the previous message", obs.name, i+1, gap)
			}
		}
	}

	c.restart()
	for _, obs := range observers {
		eventually(t, 10*time.Second, obs.name+" to announce the recovery", func() bool {
			msgs := hook.from(obs.name, c.name)
			return strings.HasPrefix(msgs[len(msgs)-1].Content, "🟢")
		})
	}
	// Nothing follows a recovery: wait longer than the reminder gap and look.
	settled := map[string]int{}
	for _, obs := range observers {
		settled[obs.name] = len(hook.from(obs.name, c.name))
	}
	time.Sleep(2500 * time.Millisecond)
	for _, obs := range observers {
		msgs := hook.from(obs.name, c.name)
		if len(msgs) != settled[obs.name] {
			t.Fatalf("%s sent %v after the recovery", obs.name, msgs[settled[obs.name]:])
		}
		downs, recoveries := 0, 0
		for _, m := range msgs {
			switch {
			case strings.HasPrefix(m.Content, "🔴"):
				downs++
			case strings.HasPrefix(m.Content, "🟢"):
				recoveries++
			}
		}
		if downs != 1 || recoveries != 1 {
			t.Fatalf("%s sent %d downs and %d recoveries, want one each: %v", obs.name, downs, recoveries, msgs)
		}
		last := msgs[len(msgs)-1]
		lastReminder := secondsDown(t, msgs[len(msgs)-2])
		if d := secondsDown(t, last); d < lastReminder || last.Content != fmt.Sprintf("🟢 `%s` is reachable again (down for %ds)", c.name, d) {
			t.Fatalf("%s's recovery %q, want the downtime of at least %ds", obs.name, last.Content, lastReminder)
		}
	}
	// The restarted node saw nobody go down, so it said nothing at all.
	if msgs := hook.from(c.name, a.name); len(msgs) != 0 {
		t.Fatalf("the restarted node sent %v", msgs)
	}
	for _, n := range nodes {
		n.stop()
		if strings.Contains(n.stdout.String()+n.stderr.String(), "t0ken-e2e") {
			t.Fatalf("%s logged the webhook token", n.name)
		}
	}
}
