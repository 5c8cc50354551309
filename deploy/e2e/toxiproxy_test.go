package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/Shopify/toxiproxy/v2"
	toxiclient "github.com/Shopify/toxiproxy/v2/client"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// proxied is a cluster whose nodes reach each other only through toxiproxy:
// each node is known by its proxy's address (its NODE and its entry in
// PEERS), and the proxy forwards to where the node really listens. A toxic
// on a node's proxy is a fault on every connection to that node; the test
// itself reads each node at its real address, past the faults. The
// proxies run in a toxiproxy server of their own (this binary, as
// MESH_E2E_TOXIPROXY), driven through toxiproxy's client: in the test
// process, busy with other tests' clusters, they stalled every connection
// at once under load, which looks like a fault of every node.
type proxied struct {
	nodes   []*node // started with LISTEN_ADDR at their real address
	names   []string
	proxies []*toxiclient.Proxy
}

// toxiproxyServer is what this test binary does when run as
// MESH_E2E_TOXIPROXY=host:port: toxiproxy's API server there, which says
// "ready" once it answers, and stops when its standard input closes.
func toxiproxyServer(addr string) int {
	host, port, _ := net.SplitHostPort(addr)
	server := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), zerolog.Nop())
	go server.Listen(host, port)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if _, err := toxiclient.NewClient(addr).Proxies(); err == nil {
			break
		}
		if time.Now().After(deadline) {
			fmt.Fprintln(os.Stderr, "toxiproxy did not answer on", addr)
			return 1
		}
	}
	fmt.Println("ready")
	_, _ = io.Copy(io.Discard, os.Stdin)
	return 0
}

func newProxied(t *testing.T, n int, env ...string) *proxied {
	t.Helper()
	ports := freePorts(t, 2*n+1)
	api := fmt.Sprintf("127.0.0.1:%d", ports[2*n])
	helperIn(t, "", "MESH_E2E_TOXIPROXY="+api)
	client := toxiclient.NewClient(api)
	c := &proxied{}
	var urls []string
	for i := range n {
		name := fmt.Sprintf("127.0.0.1:%d", ports[i])
		real := fmt.Sprintf("127.0.0.1:%d", ports[n+i])
		p, err := client.CreateProxy(fmt.Sprintf("node%d", i), name, real)
		if err != nil {
			t.Fatal(err)
		}
		c.names = append(c.names, name)
		c.proxies = append(c.proxies, p)
		urls = append(urls, "http://"+name)
	}
	for i := range n {
		real := fmt.Sprintf("127.0.0.1:%d", ports[n+i])
		own := append([]string{"PEERS=" + strings.Join(urls, ","), "NODE=" + c.names[i]}, env...)
		nd := startNode(t, real, own...) // reads /state at the real address
		c.nodes = append(c.nodes, nd)
	}
	return c
}

// sees reports whether node i sees node j with status.
func (c *proxied) sees(i, j int, status string) bool {
	s, err := c.nodes[i].state()
	return err == nil && s.Peers[c.names[j]].Status == status
}

func (c *proxied) allUp(t *testing.T) {
	t.Helper()
	eventually(t, 15*time.Second, "every node to see every other up", func() bool {
		for i := range c.nodes {
			for j := range c.nodes {
				if i != j && !c.sees(i, j, "up") {
					return false
				}
			}
		}
		return true
	})
}

// addToxic adds the toxic toxiproxy's JSON describes to p, and returns
// its name.
func addToxic(t *testing.T, p *toxiclient.Proxy, doc string) string {
	t.Helper()
	var x toxiclient.Toxic
	if err := json.Unmarshal([]byte(doc), &x); err != nil {
		t.Fatalf("toxic %s: %v", doc, err)
	}
	w, err := p.AddToxic(x.Name, x.Type, x.Stream, x.Toxicity, x.Attributes)
	if err != nil {
		t.Fatalf("toxic %s: %v", doc, err)
	}
	return w.Name
}

func removeToxic(t *testing.T, p *toxiclient.Proxy, name string) {
	t.Helper()
	if err := p.RemoveToxic(name); err != nil {
		t.Fatal(err)
	}
}

// Latency of 100 ms ± 100 ms on every answer, and one connection in twenty
// stalled past PROBE_TIMEOUT: at a threshold of 4, no node ever calls a
// peer down. (Four stalls in a row have odds of 0.05^4, about 6 in a
// million probes; this run makes about 300.)
func TestJitterAndStalledProbesCauseNoFalseDown(t *testing.T) {
	shareMachine(t, loadOf(3, 200*time.Millisecond))
	c := newProxied(t, 3, "POLL_INTERVAL=200ms", "PROBE_TIMEOUT=600ms", "FAILURE_THRESHOLD=4", "RELAY_SECRET=toxic")
	c.allUp(t)
	for _, p := range c.proxies {
		addToxic(t, p, `{"name":"jitter","type":"latency","stream":"downstream","toxicity":1,"attributes":{"latency":100,"jitter":100}}`)
		addToxic(t, p, `{"name":"stall","type":"timeout","stream":"upstream","toxicity":0.05,"attributes":{"timeout":0}}`)
	}
	time.Sleep(10 * time.Second) // the run: faults go on, nodes keep probing

	var failures int
	for _, n := range c.nodes {
		if downs := n.logsMatching(map[string]any{"message": "peer is down"}); len(downs) > 0 {
			t.Errorf("%s called a peer down: %v", n.name, downs)
		}
		failures += len(n.logsMatching(map[string]any{"message": "probe failed"}))
	}
	if failures == 0 {
		t.Error("no probe failed: the stalls did not reach the nodes")
	}
	// What each node sees at the end, read past the faults (a read that
	// fails on the loaded machine is read again: it says nothing of the
	// nodes' views).
	for i, n := range c.nodes {
		var views map[string]string
		eventually(t, 10*time.Second, n.name+"'s /state", func() bool {
			s, err := n.state()
			if err != nil {
				return false
			}
			views = map[string]string{}
			for name, v := range s.Peers {
				views[name] = v.Status
			}
			return true
		})
		for j := range c.nodes {
			if i != j && views[c.names[j]] != "up" {
				t.Errorf("node %d sees node %d %q at the end", i, j, views[c.names[j]])
			}
		}
	}
}

// Connections reset, connections stalled, and a one-way cut (nobody can
// reach B, B can reach everybody): each is seen for what it is.
func TestResetStalledAndOneWayCutConnections(t *testing.T) {
	shareMachine(t, loadOf(3, 100*time.Millisecond))
	c := newProxied(t, 3, "POLL_INTERVAL=100ms", "PROBE_TIMEOUT=300ms", "FAILURE_THRESHOLD=3", "RELAY_SECRET=toxic", "LOG_LEVEL=debug")
	c.allUp(t)
	a, b, cc := 0, 1, 2
	pb := c.proxies[b]

	for _, fault := range []struct{ toxic, reason string }{
		{`{"name":"reset","type":"reset_peer","stream":"upstream","toxicity":1,"attributes":{"timeout":0}}`, "connection reset by peer"},
		{`{"name":"stall","type":"timeout","stream":"upstream","toxicity":1,"attributes":{"timeout":0}}`, "timed out after 300ms"},
	} {
		name := addToxic(t, pb, fault.toxic)
		eventually(t, 10*time.Second, name+": B seen down by A and C", func() bool { return c.sees(a, b, "down") && c.sees(cc, b, "down") })
		lines := c.nodes[a].logsMatching(map[string]any{"message": "probe failed", "peer": c.names[b]})
		found := false
		for _, l := range lines {
			found = found || strings.Contains(fmt.Sprint(l["error"]), fault.reason)
		}
		if !found {
			t.Errorf("%s: A's log does not say %q: %v", name, fault.reason, lines)
		}
		removeToxic(t, pb, name)
		eventually(t, 10*time.Second, name+" removed: B seen up again", func() bool { return c.sees(a, b, "up") && c.sees(cc, b, "up") })
	}

	// One way: B's proxy stops, so no connection reaches B; B's own go out.
	if err := pb.Disable(); err != nil {
		t.Fatal(err)
	}
	cut := time.Now()
	eventually(t, 10*time.Second, "B seen down by A and C", func() bool { return c.sees(a, b, "down") && c.sees(cc, b, "down") })
	if !c.sees(b, a, "up") || !c.sees(b, cc, "up") {
		t.Error("B, which can reach everyone, does not see them up")
	}
	// B's relays still reach A: A holds one received after the cut (whole
	// seconds on the wire, hence the second's grace).
	eventually(t, 5*time.Second, "a relay from B received after the cut", func() bool {
		s, err := c.nodes[a].state()
		if err != nil {
			return false
		}
		at, err := time.Parse(time.RFC3339, s.Relay[c.names[b]].ReceivedAt)
		return err == nil && at.After(cut.Add(time.Second)) && s.Relay[c.names[b]].Peers[c.names[a]].Status == "up"
	})
	if err := pb.Enable(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "B seen up once it can be reached again", func() bool { return c.sees(a, b, "up") && c.sees(cc, b, "up") })
}
