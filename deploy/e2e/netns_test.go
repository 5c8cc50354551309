package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// These tests put each node in its own network namespace, on a bridge in a
// namespace of its own, so that a partition is a link taken down and a
// one-way cut is a firewall rule, as on real networks. They need root and
// iproute2 and iptables (.ci/run installs them); elsewhere they skip, in
// one line.

// get is what this test binary does when run as MESH_E2E_GET=url inside a
// namespace: print the body of GET url.
func get(url string) int {
	resp, err := (&http.Client{Timeout: 2 * time.Second}).Get(url)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer resp.Body.Close()
	_, _ = io.Copy(os.Stdout, resp.Body)
	return 0
}

// netCluster is n nodes, each in namespace ns[i] at 10.77.0.(i+1), joined
// by a bridge in namespace hub through the link mh<i><id>. The hub itself
// is at hubIP on the bridge, where a test may serve a webhook.
type netCluster struct {
	t     *testing.T
	id    string
	hub   string
	ns    []string
	ips   []string
	nodes []*node
}

func run(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v: %s", strings.Join(args, " "), err, out)
	}
}

const hubIP = "10.77.0.254"

// networks counts the networks made, for their names.
var networks atomic.Uint32

func newNetCluster(t *testing.T) *netCluster {
	t.Helper()
	c := newNetwork(t, 3)
	c.start()
	return c
}

// newNetwork makes the namespaces and links of n nodes, and starts none.
func newNetwork(t *testing.T, n int) *netCluster {
	t.Helper()
	// Each network its own names, so that tests may build theirs side by
	// side: the process and a count (link names are at most 15 bytes).
	id := fmt.Sprintf("%04x%02x", os.Getpid()%0xffff, networks.Add(1)%0xff)
	c := &netCluster{t: t, id: id, hub: "mesh-hub-" + id}
	if _, err := exec.LookPath("iptables"); err != nil {
		t.Skip("network namespace tests skipped: no iptables (apt-get install iptables iproute2; go run ./cmd/mesh-suite does)")
	}
	if out, err := exec.Command("ip", "netns", "add", c.hub).CombinedOutput(); err != nil {
		t.Skipf("network namespace tests skipped: ip netns add failed (they need root and iproute2): %s", strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", c.hub).Run() })
	run(t, "ip", "-n", c.hub, "link", "add", "br0", "type", "bridge")
	run(t, "ip", "-n", c.hub, "addr", "add", hubIP+"/24", "dev", "br0")
	run(t, "ip", "-n", c.hub, "link", "set", "br0", "up")
	for i := range n {
		ns := fmt.Sprintf("mesh-n%d-%s", i, id)
		run(t, "ip", "netns", "add", ns)
		t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
		node, host := fmt.Sprintf("mn%d%s", i, id), fmt.Sprintf("mh%d%s", i, id)
		run(t, "ip", "link", "add", node, "type", "veth", "peer", "name", host)
		run(t, "ip", "link", "set", node, "netns", ns)
		run(t, "ip", "link", "set", host, "netns", c.hub)
		run(t, "ip", "-n", c.hub, "link", "set", host, "master", "br0")
		run(t, "ip", "-n", c.hub, "link", "set", host, "up")
		ip := fmt.Sprintf("10.77.0.%d", i+1)
		run(t, "ip", "-n", ns, "addr", "add", ip+"/24", "dev", node)
		run(t, "ip", "-n", ns, "link", "set", node, "up")
		run(t, "ip", "-n", ns, "link", "set", "lo", "up")
		c.ns = append(c.ns, ns)
		c.ips = append(c.ips, ip)
	}
	return c
}

// start starts a node in each namespace, with the common settings and env.
func (c *netCluster) start(env ...string) {
	c.t.Helper()
	c.startEach(func(int) []string { return env })
}

// startEach starts a node in each namespace, with the common settings and
// node i's own envOf(i).
func (c *netCluster) startEach(envOf func(i int) []string) {
	t := c.t
	t.Helper()
	var peers []string
	for _, ip := range c.ips {
		peers = append(peers, "http://"+ip+":4000")
	}
	for i, ns := range c.ns {
		c.nodes = append(c.nodes, startNodeUnder(t, []string{"ip", "netns", "exec", ns}, c.ips[i]+":4000",
			append([]string{"PEERS=" + strings.Join(peers, ","), "POLL_INTERVAL=200ms", "PROBE_TIMEOUT=500ms", "FAILURE_THRESHOLD=3", "RELAY_SECRET=netns"}, envOf(i)...)...))
	}
}

// name is node i's name.
func (c *netCluster) name(i int) string { return c.ips[i] + ":4000" }

// state reads node i's /state from inside its namespace, which works
// whatever has been done to the links between namespaces.
func (c *netCluster) state(i int) (state, error) {
	var s state
	out, err := c.get(i, "/state")
	if err != nil {
		return s, err
	}
	return s, json.Unmarshal(out, &s)
}

// get reads path from node i, from inside its namespace.
func (c *netCluster) get(i int, path string) ([]byte, error) {
	cmd := exec.Command("ip", "netns", "exec", c.ns[i], os.Args[0])
	cmd.Env = append(os.Environ(), "MESH_E2E_GET=http://"+c.ips[i]+":4000"+path)
	return cmd.Output()
}

func (c *netCluster) sees(i, j int, status string) bool {
	s, err := c.state(i)
	return err == nil && s.Peers[c.ips[j]+":4000"].Status == status
}

func (c *netCluster) allUp(t *testing.T) {
	t.Helper()
	eventually(t, 20*time.Second, "every node to see every other up", func() bool {
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

// A partition, made by taking a link down, is seen from both sides; healed,
// everyone is up again.
func TestPartitionSeenFromBothSidesAndHealed(t *testing.T) {
	shareMachine(t, loadOf(3, 200*time.Millisecond))
	c := newNetCluster(t)
	c.allUp(t)
	a, b, cc := 0, 1, 2
	run(t, "ip", "-n", c.hub, "link", "set", fmt.Sprintf("mh%d%s", a, c.id), "down")
	eventually(t, 15*time.Second, "A to see B and C down, and B and C to see A down", func() bool {
		return c.sees(a, b, "down") && c.sees(a, cc, "down") && c.sees(b, a, "down") && c.sees(cc, a, "down")
	})
	if !c.sees(b, cc, "up") || !c.sees(cc, b, "up") {
		t.Error("B and C, on the same side, do not see each other up")
	}
	run(t, "ip", "-n", c.hub, "link", "set", fmt.Sprintf("mh%d%s", a, c.id), "up")
	c.allUp(t)
}

// An asymmetric cut: A cannot open a connection to B, B can to A. A sees B
// down, B sees A up, and A's view reaches C through relay.
func TestAsymmetricCutAndARelayedView(t *testing.T) {
	shareMachine(t, loadOf(3, 200*time.Millisecond))
	c := newNetCluster(t)
	c.allUp(t)
	a, b, cc := 0, 1, 2
	rule := []string{"INPUT", "-p", "tcp", "--syn", "-s", c.ips[a], "-j", "DROP"}
	run(t, append([]string{"ip", "netns", "exec", c.ns[b], "iptables", "-A"}, rule...)...)
	eventually(t, 15*time.Second, "A to see B down, and C to hold A's relay saying so", func() bool {
		s, err := c.state(cc)
		return err == nil && c.sees(a, b, "down") && s.Relay[c.ips[a]+":4000"].Peers[c.ips[b]+":4000"].Status == "down"
	})
	if !c.sees(b, a, "up") {
		t.Error("B, which can reach A, does not see it up")
	}
	if !c.sees(cc, b, "up") {
		t.Error("C, which can reach B, does not see it up")
	}
	run(t, append([]string{"ip", "netns", "exec", c.ns[b], "iptables", "-D"}, rule...)...)
	eventually(t, 15*time.Second, "A to see B up once the cut is gone", func() bool { return c.sees(a, b, "up") })
}
