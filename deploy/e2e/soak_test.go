package e2e

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// soakFor is how long the soak test churns the cluster: 30 seconds in
// the README's test command, so that a newcomer's run stays short; CI sets
// MESH_SOAK=90s, and MESH_SOAK=30m (go test -run TestSoak) soaks longer.
func soakFor(t *testing.T) time.Duration {
	if v := os.Getenv("MESH_SOAK"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("MESH_SOAK=%q: %v", v, err)
		}
		return d
	}
	return 30 * time.Second
}

// soakSeed is the seed of the soak's steps: MESH_SOAK_SEED, to replay a
// run that failed (the steps and their spacing, not the machine's timing),
// or a new one.
func soakSeed(t *testing.T) uint64 {
	if v := os.Getenv("MESH_SOAK_SEED"); v != "" {
		seed, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("MESH_SOAK_SEED=%q: %v", v, err)
		}
		return seed
	}
	return uint64(time.Now().UnixNano())
}

// runtimeStats reads a node's goroutines and heap in use from /metrics.
func runtimeStats(t *testing.T, n *node) (goroutines, heap float64) {
	t.Helper()
	families, _ := scrape(t, n)
	return value(t, families, "go_goroutines", nil), value(t, families, "go_memstats_heap_inuse_bytes", nil)
}

// Five nodes, with webhooks, state files and cluster alerts, while three of
// them are stopped and started again, or frozen (SIGSTOP, as a long GC
// pause, a VM migration or a laptop's suspend do) and thawed, at random
// for a few minutes.
// Afterwards the two that ran all along have as many goroutines and as much
// heap as before the churn (nothing leaks); about each node, the cluster
// never sent two down messages for one outage, and the last message was a
// recovery; and no node reported a data race
// (the suite's binary is built with -race when the tests are). Node alerts
// through the same churn: every message a node logged reached the chat
// once, and every outage it logged was told (see below).
func TestSoakFiveNodesThroughRandomStopsAndStartsWithClusterAlerts(t *testing.T) {
	shareMachineEarly(t, loadOf(5, 100*time.Millisecond))
	soak(t, "cluster")
}

// The same with node alerts: each node tells of what it sees itself.
func TestSoakFiveNodesThroughRandomStopsAndStartsWithNodeAlerts(t *testing.T) {
	shareMachineEarly(t, loadOf(5, 100*time.Millisecond))
	soak(t, "node")
}

func soak(t *testing.T, alerts string) {
	dir := t.TempDir()
	hook := newChat(t)
	env := []string{"WEBHOOK_URL=" + hook.URL + "/hook", "FOLLOWUP_INTERVALS=1h", "RELAY_SECRET=soak", "ALERTS=" + alerts}
	if alerts == "node" {
		// Node alerts are checked against each node's log: every down it
		// logged, told. A peer stopped with SIGTERM would be within its
		// LEAVE_GRACE and rightly untold; with cluster alerts the stops
		// are leaves, and the frozen nodes the outages.
		env = append(env, "LEAVE_GRACE=0")
	}
	nodes := clusterWith(t, 5, stateFiles(dir), env...)
	steady, churned := nodes[:2], nodes[2:]

	time.Sleep(2 * time.Second) // every node has probed and relayed for a while
	// What a node logged before then is the cluster's start: a node up
	// before its peers sees them down for a moment, and says nothing while
	// it listens after its start, by design. The churn is what is checked.
	churnStart := time.Now()
	type stats struct{ goroutines, heap float64 }
	baseline := map[*node]stats{}
	for _, n := range steady {
		g, h := runtimeStats(t, n)
		baseline[n] = stats{g, h}
	}

	seed := soakSeed(t)
	t.Logf("soak for %s, seed %d (MESH_SOAK_SEED=%d replays its steps)", soakFor(t), seed, seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	stopped, frozen := map[*node]bool{}, map[*node]bool{}
	// The steps taken, by the test's clock, for a failure to be read
	// against the nodes' logs and the chat.
	var steps strings.Builder
	step := func(n *node, what string) {
		fmt.Fprintf(&steps, "\n  %s %s %s", time.Now().Format("15:04:05.000"), what, n.name)
	}
	defer func() {
		if t.Failed() {
			t.Logf("the churn:%s", steps.String())
		}
	}()
	for end := time.Now().Add(soakFor(t)); time.Now().Before(end); {
		n := churned[rng.IntN(len(churned))]
		switch {
		case stopped[n]:
			step(n, "restart")
			n.restart()
			delete(stopped, n)
		case frozen[n]:
			step(n, "thaw")
			n.thaw()
			delete(frozen, n)
		case rng.IntN(3) == 0:
			step(n, "freeze")
			n.freeze() // for many rounds: until the next step that picks it
			frozen[n] = true
		default:
			step(n, "stop")
			if code := n.stop(); code != 0 {
				t.Fatalf("%s exited %d on SIGTERM", n.name, code)
			}
			stopped[n] = true
		}
		time.Sleep(time.Duration(1000+rng.IntN(4000)) * time.Millisecond)
	}
	for n := range stopped {
		n.restart()
	}
	for n := range frozen {
		n.thaw()
	}
	for _, obs := range nodes {
		for _, peer := range nodes {
			if obs != peer {
				eventually(t, 20*time.Second, obs.name+" to see "+peer.name+" up", func() bool { return sees(obs, peer.name, isUp) })
			}
		}
	}

	if alerts == "cluster" {
		// About each node, down and recovery in turn; the last a recovery.
		for _, peer := range nodes {
			marks := func() string {
				var s strings.Builder
				for _, m := range hook.about(peer.name) {
					if r := []rune(m.Content)[0]; r == '🔴' || r == '🟢' {
						s.WriteRune(r)
					}
				}
				return s.String()
			}
			for deadline := time.Now().Add(60 * time.Second); strings.HasSuffix(marks(), "🔴"); time.Sleep(100 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("after 60s the last message about %s is still a down message:%s", peer.name, dump(hook.about(peer.name)))
				}
			}
			// Never two down messages for one outage, nor two recoveries:
			// a sender restarted or thawed after another took its outage
			// over and ended it learns of the end from the relays.
			if m := marks(); strings.Contains(m, "🔴🔴") || strings.Contains(m, "🟢🟢") || strings.HasPrefix(m, "🟢") {
				t.Errorf("about %s, the cluster sent %s, want down and recovery in turn:%s", peer.name, m, dump(hook.about(peer.name)))
			}
		}
		down, _, green := kinds(hook.all())
		t.Logf("the cluster sent %d down messages and %d recoveries", down, green)
	}

	// In node mode each node speaks for itself. Every message it logged as
	// sent reached the chat once (none lost, none twice); about each peer
	// its messages alternate, down and recovery, the last a recovery; and
	// every outage it logged was told, but those merged in its quiet
	// spells: after a start, and after a freeze, a node says nothing for a
	// moment, as its view may be stale, and a peer seen back and gone
	// again within it is one outage (at most one a spell).
	for _, obs := range nodes {
		if alerts == "cluster" {
			break
		}
		// What was logged when the churn began or later counts: the logs
		// say the time to the millisecond, by the clock the test reads.
		since := func(fields map[string]any) int {
			n := 0
			for _, l := range obs.logsMatching(fields) {
				if at, err := time.Parse(time.RFC3339Nano, fmt.Sprint(l["time"])); err == nil && !at.Before(churnStart.Truncate(time.Millisecond)) {
					n++
				}
			}
			return n
		}
		quiet := since(map[string]any{"message": "mesh starting"}) + since(map[string]any{"message": "this node was held up (paused, suspended or starved of CPU); listening again before it says anything"})
		for _, peer := range nodes {
			if obs == peer {
				continue
			}
			logged := func(kind string) int {
				return since(map[string]any{"message": "sent to the chat channels", "peer": peer.name, "kind": kind})
			}
			marks := func() string {
				var b strings.Builder
				for _, m := range hook.from(obs.name, peer.name) {
					if r := []rune(m.Content)[0]; !m.at.Before(churnStart) && (r == '🔴' || r == '🟢') {
						b.WriteRune(r)
					}
				}
				return b.String()
			}
			// Messages leave at most one a second; the last may still be
			// queued. What does not hold after a minute is said below.
			m := marks()
			for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); m = marks() {
				if strings.Count(m, "🔴") >= logged("down") && strings.Count(m, "🟢") >= logged("recovery") && !strings.HasSuffix(m, "🔴") {
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			downs := since(map[string]any{"message": "peer is down", "peer": peer.name})
			switch {
			case strings.Count(m, "🔴") != logged("down") || strings.Count(m, "🟢") != logged("recovery"):
				t.Errorf("%s about %s: logged %d down messages and %d recoveries sent, the chat got %s", obs.name, peer.name, logged("down"), logged("recovery"), m)
			case strings.Contains(m, "🔴🔴") || strings.Contains(m, "🟢🟢") || strings.HasSuffix(m, "🔴"):
				t.Errorf("%s about %s sent %s, want down and recovery in turn, the last a recovery", obs.name, peer.name, m)
			case strings.Count(m, "🔴") < downs-quiet:
				t.Errorf("%s about %s: logged %d outages, told %d, with %d quiet spells", obs.name, peer.name, downs, strings.Count(m, "🔴"), quiet)
			}
		}
	}

	// Nothing leaks in the nodes that ran all along.
	for _, n := range steady {
		base := baseline[n]
		eventually(t, 30*time.Second, n.name+"'s goroutines and heap back to their baseline", func() bool {
			g, h := runtimeStats(t, n)
			return g <= base.goroutines+10 && h <= 2*base.heap+8e6
		})
		g, h := runtimeStats(t, n)
		t.Logf("%s: goroutines %.0f (baseline %.0f), heap in use %.1f MB (baseline %.1f)", n.name, g, base.goroutines, h/1e6, base.heap/1e6)
	}
	for _, n := range nodes {
		if code := n.stop(); code != 0 {
			t.Errorf("%s exited %d", n.name, code)
		}
	}
}
