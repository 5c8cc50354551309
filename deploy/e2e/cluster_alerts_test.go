package e2e

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"
)

// clusterAlertsEnv are the settings of the cluster alerts tests on
// loopback: relaying on, so ALERTS=cluster by default, reminders every two
// seconds, and a threshold of 5 so that the staggered start of five
// processes does not count as an outage.
func clusterAlertsEnv(hook *chat) []string {
	return []string{"RELAY_SECRET=cluster-alerts", "WEBHOOK_URL=" + hook.URL + "/hook", "FOLLOWUP_INTERVALS=2s", "FAILURE_THRESHOLD=5"}
}

// byName returns the nodes in name order: the order of the election.
func byName(nodes []*node) []*node {
	return slices.SortedFunc(slices.Values(nodes), func(a, b *node) int { return strings.Compare(a.name, b.name) })
}

func names(nodes []*node) string {
	var out []string
	for _, n := range nodes {
		out = append(out, n.name)
	}
	return strings.Join(out, ", ")
}

// downFromMajority checks a down message about subject, of a cluster of
// total nodes whose observers are watchers: that it names the nodes it is
// seen down from, each a watcher, and that they are a majority. On a quiet
// machine they are every watcher; on one loaded by the suite, one watcher's
// probes or relay may come a moment late, and the message, sent once a
// majority sees it down, rightly names the others only.
func downFromMajority(content, subject string, total int, watchers []*node) error {
	rest, ok := strings.CutPrefix(content, "🔴 `"+subject+"` is unreachable from ")
	i := strings.LastIndex(rest, " (")
	if !ok || i < 0 || !strings.HasSuffix(rest, ")") {
		return fmt.Errorf("%q is not a down message about %s naming where it is seen from", content, subject)
	}
	named := strings.Split(rest[i+2:len(rest)-1], ", ")
	switch {
	case !strings.HasPrefix(rest, fmt.Sprintf("%d of ", len(named))):
		return fmt.Errorf("%q: the count and the names do not agree", content)
	case 2*len(named) <= total:
		return fmt.Errorf("%q: not a majority of %d", content, total)
	case slices.ContainsFunc(named, func(name string) bool {
		return !slices.ContainsFunc(watchers, func(w *node) bool { return w.name == name })
	}):
		return fmt.Errorf("%q names a node that does not watch it", content)
	}
	return nil
}

// kinds counts the messages by their mark: 🔴 down, 🟠 reminder or
// partial, 🟢 recovery.
func kinds(msgs []chatMessage) (down, orange, green int) {
	for _, m := range msgs {
		switch {
		case strings.HasPrefix(m.Content, "🔴"):
			down++
		case strings.HasPrefix(m.Content, "🟠"):
			orange++
		case strings.HasPrefix(m.Content, "🟢"):
			green++
		}
	}
	return
}

func dump(msgs []chatMessage) string {
	var b strings.Builder
	for _, m := range msgs {
		fmt.Fprintf(&b, "\n  %s %s: %s", m.at.Format("15:04:05.000"), m.Username, m.Content)
	}
	return b.String()
}

// Five nodes, one killed: one down message for the whole cluster, from the
// first observer by name, naming the four vantage points; one reminder per
// gap, from the same node; one recovery.
func TestClusterAlertsOneDownOneReminderPerGapOneRecovery(t *testing.T) {
	shareMachine(t, loadOf(5, 100*time.Millisecond))
	hook := newChat(t)
	nodes := byName(cluster(t, 5, clusterAlertsEnv(hook)...))
	if n := hook.count(); n != 0 {
		t.Fatalf("boot sent %d messages, want none: %s", n, dump(hook.all()))
	}
	observers, p := nodes[:4], nodes[4]
	p.kill()
	killed := time.Now()

	eventually(t, 15*time.Second, "a down message about "+p.name, func() bool { d, _, _ := kinds(hook.about(p.name)); return d > 0 })
	time.Sleep(7 * time.Second) // three reminder gaps
	msgs := hook.about(p.name)
	if err := downFromMajority(msgs[0].Content, p.name, 5, observers); err != nil || msgs[0].Username != observers[0].name {
		t.Fatalf("first message from %s (%v), want one from %s naming where it is seen down from:%s", msgs[0].Username, err, observers[0].name, dump(msgs))
	}
	down, reminders, _ := kinds(msgs)
	if down != 1 {
		t.Fatalf("%d down messages, want 1:%s", down, dump(msgs))
	}
	// Reminders at 2 s, 4 s and 6 s of downtime (counted from the
	// announcer's own down, a second or so after the kill): two or three
	// by now, each from the announcer, one per gap.
	if reminders < 2 || reminders > 3 {
		t.Fatalf("%d reminders %v after the kill with a gap of 2s, want 2 or 3:%s", reminders, time.Since(killed).Round(time.Second), dump(msgs))
	}
	for i, m := range msgs[1:] {
		if m.Username != observers[0].name || !strings.HasPrefix(m.Content, "🟠 `"+p.name+"` is still unreachable from 4 of 5 nodes (down for ") {
			t.Fatalf("reminder %d: %q from %s:%s", i+1, m.Content, m.Username, dump(msgs))
		}
		if gap := m.at.Sub(msgs[i].at); i > 0 && gap < 1500*time.Millisecond {
			t.Fatalf("reminder %d came %v after the one before:%s", i+1, gap, dump(msgs))
		}
	}

	p.restart()
	eventually(t, 15*time.Second, "a recovery", func() bool { _, _, g := kinds(hook.about(p.name)); return g > 0 })
	time.Sleep(3 * time.Second) // longer than a reminder gap: nothing follows
	msgs = hook.about(p.name)
	last := msgs[len(msgs)-1]
	if _, _, green := kinds(msgs); green != 1 || last.Username != observers[0].name ||
		!strings.HasPrefix(last.Content, "🟢 `"+p.name+"` is reachable again (down for ") {
		t.Fatalf("want one recovery from %s, last:%s", observers[0].name, dump(msgs))
	}
	if d, _, _ := kinds(hook.all()); d != 1 {
		t.Fatalf("%d down messages in all, want 1:%s", d, dump(hook.all()))
	}
	// Each node's metrics say what it sent and what it left to the sender.
	for i, obs := range observers {
		families, _ := scrape(t, obs)
		sent, _ := sample(families, "mesh_messages_sent_total", map[string]string{"kind": "down"})
		left, _ := sample(families, "mesh_messages_suppressed_total", map[string]string{"kind": "down", "reason": "announced_elsewhere"})
		leftRecovery, _ := sample(families, "mesh_messages_suppressed_total", map[string]string{"kind": "recovery", "reason": "announced_elsewhere"})
		if want := map[bool][3]float64{true: {1, 0, 0}, false: {0, 1, 1}}[i == 0]; [3]float64{sent, left, leftRecovery} != want {
			t.Errorf("%s: down messages sent %v, left to another %v, recoveries left %v; want %v", obs.name, sent, left, leftRecovery, want)
		}
	}
}

// The announcer killed mid-outage: the next node by name carries on with
// the reminders, and no second down message goes out.
func TestClusterAlertsTheNextNodeTakesOverFromAKilledAnnouncer(t *testing.T) {
	shareMachine(t, loadOf(5, 100*time.Millisecond))
	hook := newChat(t)
	nodes := byName(cluster(t, 5, clusterAlertsEnv(hook)...))
	first, second, p := nodes[0], nodes[1], nodes[4]
	p.kill()
	// Mid-outage: after the down message and a reminder, both from first.
	eventually(t, 15*time.Second, first.name+" to announce "+p.name+" and remind of it", func() bool { return len(hook.from(first.name, p.name)) > 1 })
	first.kill()
	eventually(t, 20*time.Second, second.name+" to send a reminder about "+p.name, func() bool {
		for _, m := range hook.from(second.name, p.name) {
			if strings.HasPrefix(m.Content, "🟠") {
				return true
			}
		}
		return false
	})
	time.Sleep(3 * time.Second)
	msgs := hook.about(p.name)
	if down, _, _ := kinds(msgs); down != 1 {
		t.Fatalf("%d down messages about %s, want 1:%s", down, p.name, dump(msgs))
	}
	// Once it took over, only the second node sends; and the first's
	// outage is announced once, by the second, from the three left.
	for _, m := range hook.from(first.name, p.name)[1:] {
		if m.at.After(hook.from(second.name, p.name)[0].at) {
			t.Fatalf("%s still sending after the takeover:%s", first.name, dump(msgs))
		}
	}
	// p is down too: the three that answer are counted, and p said apart.
	want := fmt.Sprintf("🔴 `%s` is unreachable from 3 of 3 nodes that answer; 1 other node down (%s)", first.name, names(nodes[1:4]))
	if got := hook.about(first.name); len(got) == 0 || got[0].Content != want || got[0].Username != second.name {
		t.Fatalf("messages about the killed announcer:%s\nwant first %q from %s", dump(got), want, second.name)
	}
}

// A one-way cut: one of the four observers cannot open connections to the
// peer, the others can. No down message; after PARTIAL_AFTER one message,
// from the first observer by name, naming who cannot reach it and who can;
// one when the cut is gone.
func TestClusterAlertsAOneWayCutGetsOnePartialMessage(t *testing.T) {
	shareMachine(t, loadOf(5, 200*time.Millisecond))
	c, hook := netClusterWithHook(t, 5, "PARTIAL_AFTER=4s")
	cut, p := 2, 4
	rule := []string{"INPUT", "-p", "tcp", "--syn", "-s", c.ips[cut], "-j", "DROP"}
	run(t, append([]string{"ip", "netns", "exec", c.ns[p], "iptables", "-A"}, rule...)...)
	cutAt := time.Now()
	eventually(t, 15*time.Second, "the cut observer to see the peer down", func() bool { return c.sees(cut, p, "down") })
	eventually(t, 20*time.Second, "a message about the peer", func() bool { return len(hook.about(c.name(p))) > 0 })
	if since := time.Since(cutAt); since < 4*time.Second {
		t.Fatalf("a message %v after the cut, before PARTIAL_AFTER:%s", since, dump(hook.all()))
	}
	time.Sleep(3 * time.Second)
	msgs := hook.about(c.name(p))
	want := fmt.Sprintf("🟠 `%s` is unreachable from %s; reachable from %s, %s, %s", c.name(p), c.name(cut), c.name(0), c.name(1), c.name(3))
	if len(msgs) != 1 || msgs[0].Content != want || msgs[0].Username != c.name(0) {
		t.Fatalf("messages:%s\nwant one: %q from %s", dump(msgs), want, c.name(0))
	}
	run(t, append([]string{"ip", "netns", "exec", c.ns[p], "iptables", "-D"}, rule...)...)
	eventually(t, 15*time.Second, "a message that the cut is over", func() bool { return len(hook.about(c.name(p))) > 1 })
	time.Sleep(2 * time.Second)
	msgs = hook.about(c.name(p))
	if len(msgs) != 2 || msgs[1].Username != c.name(0) || !strings.HasPrefix(msgs[1].Content, "🟢 `"+c.name(p)+"` is reachable from every node again (partly unreachable for ") {
		t.Fatalf("messages:%s\nwant the partial one and one that it ended", dump(msgs))
	}
	if d, _, _ := kinds(hook.all()); d != 0 {
		t.Fatalf("down messages for a peer only one node cannot reach:%s", dump(hook.all()))
	}
}

// A partition 2 | 3: each side announces the other side's nodes down, each
// once; when it heals, each announcer sends one recovery.
func TestClusterAlertsAPartitionAnnouncesOncePerSide(t *testing.T) {
	shareMachine(t, loadOf(5, 200*time.Millisecond))
	c, hook := netClusterWithHook(t, 5, "PARTIAL_AFTER=1m")
	left, right := []int{0, 1}, []int{2, 3, 4}
	var rules [][]string
	for _, l := range left {
		for _, r := range right {
			rules = append(rules,
				[]string{"ip", "netns", "exec", c.ns[l], "iptables", "-A", "INPUT", "-s", c.ips[r], "-j", "DROP"},
				[]string{"ip", "netns", "exec", c.ns[r], "iptables", "-A", "INPUT", "-s", c.ips[l], "-j", "DROP"})
		}
	}
	for _, r := range rules {
		run(t, r...)
	}
	side := func(name string) string {
		for _, l := range left {
			if c.name(l) == name {
				return "left"
			}
		}
		return "right"
	}
	count := func(mark string) map[string]int {
		n := map[string]int{}
		for _, m := range hook.all() {
			if strings.HasPrefix(m.Content, mark) {
				peer := strings.Split(m.Content, "`")[1]
				n[side(m.Username)+" about "+peer]++
			}
		}
		return n
	}
	want := map[string]int{}
	for _, l := range left {
		want["right about "+c.name(l)] = 1
	}
	for _, r := range right {
		want["left about "+c.name(r)] = 1
	}
	eventually(t, 30*time.Second, "each side to announce the other's nodes", func() bool { return len(count("🔴")) == len(want) })
	time.Sleep(5 * time.Second) // every node past its turn
	if got := count("🔴"); !maps.Equal(got, want) {
		t.Fatalf("down messages by side %v, want one per side and peer:%s", got, dump(hook.all()))
	}
	for _, r := range rules {
		r[5] = "-D"
		run(t, r...)
	}
	eventually(t, 30*time.Second, "each announcer to send its recoveries", func() bool { return len(count("🟢")) == len(want) })
	time.Sleep(3 * time.Second)
	if got := count("🟢"); !maps.Equal(got, want) {
		t.Fatalf("recoveries by side %v, want one per side and peer:%s", got, dump(hook.all()))
	}
}

// netClusterWithHook starts n nodes in network namespaces with a webhook
// served in the hub's namespace, cluster alerts, and extra settings, and
// waits until every node sees every other up.
func netClusterWithHook(t *testing.T, n int, extra ...string) (*netCluster, *chat) {
	t.Helper()
	c := newNetwork(t, n)
	hook := newChatIn(t, c.hub, hubIP+":0")
	c.start(append([]string{"WEBHOOK_URL=" + hook.URL + "/hook", "FAILURE_THRESHOLD=5"}, extra...)...)
	c.allUp(t)
	if n := hook.count(); n != 0 {
		t.Fatalf("boot sent %d messages:%s", n, dump(hook.all()))
	}
	return c, hook
}

// A target goes down while one node of three is down itself: the messages
// count the nodes that answer and say the other apart, "from 2 of 2 nodes
// that answer; 1 node down", rather than "from 2 of 3 nodes", which reads
// as if one node could reach the target.
func TestATargetsOutageWhileANodeIsDownCountsTheNodesThatAnswer(t *testing.T) {
	shareMachine(t, loadOf(3, 100*time.Millisecond))
	hook := newChat(t)
	shop := newService(t)
	shopName := "http://" + shop.addr + "/health"
	nodes := byName(cluster(t, 3, append(clusterAlertsEnv(hook), "TARGETS="+shopName)...))
	eventually(t, 10*time.Second, "every node to see the target up", func() bool { return targetsSeen(nodes, map[string]string{shopName: "up"}) })
	c := nodes[2]
	c.kill()
	eventually(t, 15*time.Second, "a down message about "+c.name, func() bool { d, _, _ := kinds(hook.about(c.name)); return d > 0 })

	shop.stop()
	eventually(t, 15*time.Second, "a reminder about "+shopName, func() bool { _, r, _ := kinds(hook.about(shopName)); return r > 0 })
	msgs := hook.about(shopName)
	if d, _, _ := kinds(msgs); d != 1 {
		t.Fatalf("%d down messages about the target by its first reminder, want 1:%s", d, dump(msgs))
	}
	want := fmt.Sprintf("🔴 `%s` is unreachable from 2 of 2 nodes that answer; 1 node down (%s)", shopName, names(nodes[:2]))
	if msgs[0].Content != want {
		t.Fatalf("first message %q, want %q:%s", msgs[0].Content, want, dump(msgs))
	}
	if !strings.HasPrefix(msgs[1].Content, "🟠 `"+shopName+"` is still unreachable from 2 of 2 nodes that answer; 1 node down (down for ") {
		t.Fatalf("reminder %q:%s", msgs[1].Content, dump(msgs))
	}
	// The node that is down is told of as ever: "from 2 of 3 nodes", the
	// third being itself.
	if got := hook.about(c.name)[0].Content; !strings.HasPrefix(got, "🔴 `"+c.name+"` is unreachable from 2 of 3 nodes (") {
		t.Fatalf("the down node's message %q", got)
	}
}
