package e2e

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestNodesRelayTheirViewsToEachOther(t *testing.T) {
	shareMachine(t, loadOf(3, 100*time.Millisecond))
	nodes := cluster(t, 3, "RELAY_SECRET=e2e-s3cret", "LOG_LEVEL=debug")
	a, b, c := nodes[0], nodes[1], nodes[2]

	// Within a couple of rounds every node holds the other two's views, and
	// each of those lists the holder as up.
	for _, holder := range nodes {
		eventually(t, 5*time.Second, holder.name+" to hold relays from both others", func() bool {
			s, err := holder.state()
			if err != nil || len(s.Relay) != 2 {
				return false
			}
			for _, sender := range nodes {
				if sender == holder {
					continue
				}
				copy, ok := s.Relay[sender.name]
				if !ok || copy.Peers[holder.name].Status != "up" || len(copy.Peers) != 2 {
					return false
				}
			}
			return true
		})
	}

	c.kill()
	eventually(t, 10*time.Second, "a to see c down", func() bool {
		return sees(a, c.name, func(v peerView) bool { return v.Status == "down" })
	})
	s, _ := a.state()
	lastFromC, lastFromB := s.Relay[c.name].ReceivedAt, s.Relay[b.name].ReceivedAt
	// b's copy keeps being refreshed (times are whole seconds: wait for the
	// next), c's stays where it was when c died.
	eventually(t, 5*time.Second, "b's relay to a to be refreshed", func() bool {
		s, err := a.state()
		return err == nil && mustParseTime(t, s.Relay[b.name].ReceivedAt).After(mustParseTime(t, lastFromB))
	})
	s, _ = a.state()
	if got := s.Relay[c.name].ReceivedAt; got != lastFromC {
		t.Fatalf("the dead node's relay was refreshed: %s -> %s", lastFromC, got)
	}
	if s.Relay[b.name].Peers[c.name].Status != "down" {
		t.Fatalf("b's relayed view of c is %+v, want down", s.Relay[b.name].Peers[c.name])
	}
	for _, n := range []*node{a, b} {
		if code := n.stop(); code != 0 {
			t.Errorf("%s exited %d", n.name, code)
		}
		if strings.Contains(n.stdout.String()+n.stderr.String(), "e2e-s3cret") {
			t.Errorf("%s logged the relay secret", n.name)
		}
	}
}

func TestANodeWithoutRelaySecretRefusesRelays(t *testing.T) {
	shareMachine(t, loadOf(2, 100*time.Millisecond))
	ports := freePorts(t, 2)
	withName, withoutName := fmt.Sprintf("127.0.0.1:%d", ports[0]), fmt.Sprintf("127.0.0.1:%d", ports[1])
	peers := "PEERS=http://" + withName + ",http://" + withoutName
	with := startNode(t, withName, peers, "RELAY_SECRET=only-one-side", "POLL_INTERVAL=100ms", "LOG_LEVEL=debug")
	without := startNode(t, withoutName, peers, "POLL_INTERVAL=100ms")

	// The node with a secret keeps trying (the first tries may find the other
	// not listening yet); the one without refuses each time with a 403.
	var refusal map[string]any
	eventually(t, 5*time.Second, "a relay refused with 403", func() bool {
		for _, l := range with.logsMatching(map[string]any{"message": "relay not delivered", "peer": withoutName}) {
			if strings.Contains(fmt.Sprint(l["error"]), "403") {
				refusal = l
				return true
			}
		}
		return false
	})
	if refusal["level"] != "debug" {
		t.Fatalf("refused relay logged as %v, want a debug line", refusal)
	}
	req, _ := http.NewRequest("POST", "http://"+withoutName+"/relay", strings.NewReader(`{"node":"`+withName+`","peers":{}}`))
	req.Header.Set("Authorization", "only-one-side")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Fatalf("POST /relay to a node without RELAY_SECRET = %d, want 403", resp.StatusCode)
	}
	for _, n := range []*node{with, without} {
		if s, err := n.state(); err != nil || len(s.Relay) != 0 {
			t.Fatalf("%s relay = %v (%v), want empty", n.name, s.Relay, err)
		}
	}
}

// With relaying on, every node reaches the cluster's verdict from its own
// view and its peers' relays, and /state says it with the vantage points:
// a killed node is down from both others, on both.
func TestClusterVerdictInStateNamesTheVantagePoints(t *testing.T) {
	shareMachine(t, loadOf(3, 100*time.Millisecond))
	nodes := cluster(t, 3, "RELAY_SECRET=verdict")
	a, b, c := nodes[0], nodes[1], nodes[2]
	for _, obs := range []*node{a, b} {
		eventually(t, 10*time.Second, obs.name+" to call "+c.name+" up for the cluster", func() bool {
			s, err := obs.state()
			return err == nil && s.Cluster[c.name].Status == "up" && len(s.Cluster[c.name].UpFrom) == 2
		})
	}
	c.kill()
	want := []string{a.name, b.name}
	slices.Sort(want)
	for _, obs := range []*node{a, b} {
		eventually(t, 10*time.Second, obs.name+" to call "+c.name+" down for the cluster from both", func() bool {
			s, err := obs.state()
			return err == nil && s.Cluster[c.name].Status == "down" && slices.Equal(s.Cluster[c.name].DownFrom, want)
		})
	}
}
