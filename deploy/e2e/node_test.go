package e2e

import (
	"fmt"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

const threshold = 3

// cluster starts one node per port, all sharing one PEERS list, with fast
// timings so that a down is seen within a second.
func cluster(t *testing.T, n int, extraEnv ...string) []*node {
	t.Helper()
	return clusterWith(t, n, nil, extraEnv...)
}

// clusterWith is cluster with settings of each node's own: perNode(i) is
// added to node i's environment.
func clusterWith(t *testing.T, n int, perNode func(i int) []string, extraEnv ...string) []*node {
	t.Helper()
	ports := freePorts(t, n)
	var names, urls []string
	for _, p := range ports {
		name := fmt.Sprintf("127.0.0.1:%d", p)
		names = append(names, name)
		urls = append(urls, "http://"+name)
	}
	env := append([]string{
		"PEERS=" + strings.Join(urls, ","),
		"POLL_INTERVAL=100ms",
		"PROBE_TIMEOUT=250ms",
		fmt.Sprintf("FAILURE_THRESHOLD=%d", threshold),
	}, extraEnv...)
	var nodes []*node
	for i, name := range names {
		own := append([]string(nil), env...)
		if perNode != nil {
			own = append(own, perNode(i)...)
		}
		nodes = append(nodes, startNode(t, name, own...))
	}
	for _, obs := range nodes {
		for _, peer := range nodes {
			if obs != peer {
				eventually(t, 10*time.Second, obs.name+" to see "+peer.name+" up", func() bool { return sees(obs, peer.name, isUp) })
			}
		}
	}
	return nodes
}

func TestThreeNodesSeeAKilledNodeGoDownAndComeBack(t *testing.T) {
	shareMachine(t, loadOf(3, 100*time.Millisecond))
	nodes := cluster(t, 3)
	a, b, c := nodes[0], nodes[1], nodes[2]

	s, err := a.state()
	if err != nil {
		t.Fatal(err)
	}
	if s.Node != a.name || len(s.Peers) != 2 || len(s.Relay) != 0 {
		t.Fatalf("%s's /state = %+v, want itself, its two peers and no relay", a.name, s)
	}
	firstSince := mustParseTime(t, s.Peers[c.name].Since)

	c.kill()
	killedDown := map[*node]time.Time{} // when each observer logged the kill's down
	for _, obs := range []*node{a, b} {
		eventually(t, 10*time.Second, obs.name+" to see the killed node down", func() bool {
			return sees(obs, c.name, func(v peerView) bool { return v.Status == "down" && v.ConsecutiveFailures >= threshold })
		})
		// The kill's down, from up. (A node started on a loaded machine
		// may have called c down from unknown before c listened: a down
		// of its own, and not this one.)
		downs := obs.logsMatching(map[string]any{"level": "warn", "peer": c.name, "status": "down", "previous": "up"})
		if len(downs) != 1 || downs[0]["failures"].(float64) < threshold || downs[0]["node"] != obs.name {
			t.Fatalf("%s logged %v, want one warn line for the down with failures >= %d", obs.name, downs, threshold)
		}
		killedDown[obs] = logTime(t, downs[0])
		if fails := obs.logsMatching(map[string]any{"level": "info", "peer": c.name, "message": "probe failed"}); len(fails) == 0 || fails[0]["error"] == nil {
			t.Fatalf("%s did not log why the probe failed: %v", obs.name, fails)
		}
	}

	// Times travel in whole seconds; let the clock pass the old since so a
	// new one can be told apart from it.
	eventually(t, 2*time.Second, "the next second", func() bool { return time.Now().Truncate(time.Second).After(firstSince) })
	c.restart()
	for _, obs := range []*node{a, b} {
		eventually(t, 10*time.Second, obs.name+" to see the restarted node up", func() bool { return sees(obs, c.name, isUp) })
		s, _ := obs.state()
		if v := s.Peers[c.name]; !mustParseTime(t, v.Since).After(firstSince) || v.ConsecutiveFailures != 0 || v.LastSeen == nil {
			t.Fatalf("%s sees %+v, want up with a since after %v", obs.name, v, firstSince)
		}
		// The recovery from the kill's down. (The start's down from unknown,
		// above, ends with a recovery of its own, before the kill.)
		var ups []map[string]any
		for _, up := range obs.logsMatching(map[string]any{"level": "info", "peer": c.name, "status": "up", "previous": "down"}) {
			if logTime(t, up).After(killedDown[obs]) {
				ups = append(ups, up)
			}
		}
		if len(ups) != 1 || ups[0]["duration_ms"] == nil {
			t.Fatalf("%s logged %v, want one info line for the recovery with its duration", obs.name, ups)
		}
	}

	for _, n := range nodes {
		if code := n.stop(); code != 0 {
			t.Errorf("%s exited %d after SIGTERM, want 0", n.name, code)
		}
		if stopped := n.logsMatching(map[string]any{"message": "mesh stopped", "level": "info"}); len(stopped) != 1 {
			t.Errorf("%s did not log its stop", n.name)
		}
	}
}

func TestStartupLineListsNodeAddressAndPeers(t *testing.T) {
	shareMachine(t, loadOf(1, 100*time.Millisecond))
	ports := freePorts(t, 1)
	name := fmt.Sprintf("127.0.0.1:%d", ports[0])
	n := startNode(t, name, "PEERS=a.example http://b.example:8080,"+name, "RELAY_SECRET=hunter2-secret", "WEBHOOK_URL=http://hooks.example/api/webhooks/1/token-0815")
	eventually(t, 10*time.Second, "the node to answer", func() bool { _, err := n.state(); return err == nil })
	// Its own page is where its root sends a visitor, unless told otherwise.
	resp, err := noRedirect.Get("http://" + name + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 302 || resp.Header.Get("Location") != "/ui/" {
		t.Fatalf("GET / = %d to %q, want the node's own page, /ui/", resp.StatusCode, resp.Header.Get("Location"))
	}
	n.stop()
	lines := n.logsMatching(map[string]any{"message": "mesh starting"})
	if len(lines) != 1 {
		t.Fatalf("startup lines %v", lines)
	}
	l := lines[0]
	if l["node"] != name || l["addr"] != name || fmt.Sprint(l["peers"]) != "[a.example b.example:8080]" || l["level"] != "info" ||
		l["webhook_host"] != "hooks.example" || l["url"] != nil {
		t.Fatalf("startup line %v, want node, addr, the two peers and the webhook's host as webhook_host", l)
	}
	// Every line's time has its milliseconds: two lines of one second can
	// be put in order.
	for _, l := range n.logLines() {
		if at := fmt.Sprint(l["time"]); !regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}`).MatchString(at) {
			t.Fatalf("a line's time %q has no milliseconds: %v", at, l)
		}
	}
	if out := n.stdout.String() + n.stderr.String(); strings.Contains(out, "hunter2-secret") || strings.Contains(out, "token-0815") {
		t.Fatal("a secret appears in the logs")
	}
}

func TestANodeThatListsOnlyItselfSaysSoAtStart(t *testing.T) {
	shareMachine(t, loadOf(1, 100*time.Millisecond))
	ports := freePorts(t, 1)
	name := fmt.Sprintf("127.0.0.1:%d", ports[0])
	n := startNode(t, name, "PEERS=http://"+name)
	eventually(t, 10*time.Second, "the node to answer", func() bool { _, err := n.state(); return err == nil })
	n.stop()
	if lines := n.logsMatching(map[string]any{"level": "warn"}); len(lines) != 1 || !strings.Contains(fmt.Sprint(lines[0]["message"]), "PEERS lists only this node") {
		t.Fatalf("warnings %v, want one saying PEERS lists only this node", lines)
	}
}

func TestBadSettingStopsTheNodeWithOneLineAndExit2(t *testing.T) {
	shareMachine(t, loadOf(1, 100*time.Millisecond))
	ports := freePorts(t, 1)
	name := fmt.Sprintf("127.0.0.1:%d", ports[0])
	n := startNode(t, name, "PEERS=a.example", "POLL_INTERVAL=-1s")
	<-n.done
	if code := n.cmd.ProcessState.ExitCode(); code != 2 {
		t.Fatalf("exit code %d, want 2", code)
	}
	if got := n.stderr.String(); strings.Count(got, "\n") != 1 || !strings.Contains(got, "POLL_INTERVAL") || !strings.Contains(got, "-1s") {
		t.Fatalf("stderr %q, want one line naming POLL_INTERVAL and -1s", got)
	}
	if n.stdout.String() != "" {
		t.Fatalf("a node with a bad setting started: %s", n.stdout)
	}
}

func TestTakenPortStopsTheNodeWithAnError(t *testing.T) {
	shareMachine(t, loadOf(1, 100*time.Millisecond))
	ports := freePorts(t, 1)
	name := fmt.Sprintf("127.0.0.1:%d", ports[0])
	first := startNode(t, name, "PEERS=a.example")
	eventually(t, 10*time.Second, "the first node to answer", func() bool { _, err := first.state(); return err == nil })
	second := startNode(t, name, "PEERS=a.example")
	select {
	case <-second.done:
	case <-time.After(5 * time.Second):
		t.Fatal("a node that cannot listen kept running")
	}
	if code := second.cmd.ProcessState.ExitCode(); code != 1 {
		t.Fatalf("exit code %d, want 1", code)
	}
	if errs := second.logsMatching(map[string]any{"level": "error", "message": "mesh stopped"}); len(errs) != 1 || !strings.Contains(fmt.Sprint(errs[0]["error"]), "address already in use") {
		t.Fatalf("want an error line saying why, got %s", second.stdout)
	}
}

func TestVersionIsStampedAtBuildTime(t *testing.T) {
	shareMachine(t, loadOf(1, 100*time.Millisecond))
	out, err := exec.Command(binary, "--version").Output()
	if err != nil || string(out) != "mesh "+stampedVersion+"\n" {
		t.Fatalf("mesh --version = %q, %v", out, err)
	}
}
