package e2e

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Shopify/toxiproxy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// helperIn runs this test binary inside the namespace ns (on the host
// when ns is "") with env (one of the helpers TestMain dispatches to),
// waits for its first line (ready), and returns a function that sends it
// a line and returns its answer, and that first line. Calls may come
// from several goroutines: one line and its answer at a time. The helper
// stops with the test.
func helperIn(t *testing.T, ns, env string) (tell func(line string) string, ready string) {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	if ns != "" {
		cmd = exec.Command("ip", "netns", "exec", ns, os.Args[0])
	}
	cmd.Env = append(os.Environ(), env)
	in, _ := cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close(); _ = cmd.Wait() })
	answers := bufio.NewScanner(out)
	answers.Buffer(nil, 64<<20) // a recorder's answer is every message of a soak
	var mu sync.Mutex
	tell = func(line string) string {
		t.Helper()
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintln(in, line)
		if !answers.Scan() {
			t.Fatalf("the helper %s in %q stopped: %v", env, ns, answers.Err())
		}
		return answers.Text()
	}
	if !answers.Scan() {
		t.Fatalf("the helper %s in %q stopped before it was ready: %v", env, ns, answers.Err())
	}
	return tell, answers.Text()
}

// proxy is what this test binary does when run as MESH_E2E_PROXY=listen>upstream
// inside a network namespace: a toxiproxy from listen to upstream, which
// says "ready" once it listens, then cuts every connection ("cut": a
// timeout toxic that holds them without an answer) or lets them through
// again ("heal"), a line of standard input at a time.
func proxy(route string) int {
	listen, upstream, _ := strings.Cut(route, ">")
	server := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), zerolog.Nop())
	p := toxiproxy.NewProxy(server, "target", listen, upstream)
	if err := p.Start(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("ready")
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		var err error
		switch in.Text() {
		case "cut":
			_, err = p.Toxics.AddToxicJson(strings.NewReader(`{"name":"cut","type":"timeout","stream":"upstream","toxicity":1,"attributes":{"timeout":0}}`))
		case "heal":
			err = p.Toxics.RemoveToxic(context.Background(), "cut")
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Println("done")
	}
	return 0
}

// targetIP is a second address of the hub's, where the target of the
// partial cut listens.
const targetIP = "10.77.0.253"

// A target that one node of three cannot reach, while the other two can:
// one partial message, naming who cannot and who can, and no down message.
//
// The three nodes probe the same URL. Node 2's namespace holds the target's
// address on its own loopback, where a toxiproxy run in that namespace
// listens and forwards to the target's other address: node 2 alone goes
// through the proxy, and the test cuts it there.
func TestATargetCutOffFromOneNodeGetsThePartialMessageOnly(t *testing.T) {
	shareMachine(t, loadOf(3, 200*time.Millisecond))
	c := newNetwork(t, 3)
	hook := newChatIn(t, c.hub, hubIP+":0")
	run(t, "ip", "-n", c.hub, "addr", "add", targetIP+"/24", "dev", "br0")
	// The service at the target's address, and the same at the hub's own
	// for the proxy, served by a process of its own: not this one, which
	// runs other tests' clusters side by side and may answer late.
	back := hubIP + ":8080"
	newServiceIn(t, c.hub, targetIP+":8080,"+back)
	target := "http://" + targetIP + ":8080/"

	run(t, "ip", "-n", c.ns[2], "addr", "add", targetIP+"/32", "dev", "lo")
	tell, _ := helperIn(t, c.ns[2], "MESH_E2E_PROXY="+targetIP+":8080>"+back)

	c.start("WEBHOOK_URL="+hook.URL+"/hook", "FAILURE_THRESHOLD=3", "FOLLOWUP_INTERVALS=1h", "PARTIAL_AFTER=2s", "TARGETS="+target, slowTargets[0])
	c.allUp(t)
	seen := func(i int, status string) bool {
		s, err := c.state(i)
		return err == nil && s.Targets[target].Status == status
	}
	eventually(t, 20*time.Second, "every node to see the target up", func() bool { return seen(0, "up") && seen(1, "up") && seen(2, "up") })

	tell("cut")
	eventually(t, 20*time.Second, "the partial message", func() bool { return len(hook.about(target)) > 0 })
	time.Sleep(5 * time.Second) // the other nodes' turns, and more
	msgs := hook.about(target)
	want := fmt.Sprintf("🟠 `%s` is unreachable from %s; reachable from %s, %s", target, c.name(2), c.name(0), c.name(1))
	if len(msgs) != 1 || msgs[0].Content != want || msgs[0].Username != c.name(0) {
		t.Fatalf("want only %q from %s:%s", want, c.name(0), dump(msgs))
	}
	if !seen(0, "up") || !seen(1, "up") || !seen(2, "down") {
		t.Fatal("the target is not seen up by the first two nodes and down by the third")
	}
	// Most nodes reach it: up for the cluster, with the one that cannot.
	if s, _ := c.state(0); s.Cluster[target].Status != "up" || strings.Join(s.Cluster[target].DownFrom, ",") != c.name(2) {
		t.Fatalf("the cluster's verdict: %+v", s.Cluster[target])
	}

	tell("heal")
	eventually(t, 20*time.Second, "the partial episode's end", func() bool { return len(hook.about(target)) > 1 })
	msgs = hook.about(target)
	if d, _, _ := kinds(msgs); d != 0 || !strings.HasPrefix(msgs[1].Content, "🟢 `"+target+"` is reachable from every node again") {
		t.Fatalf("want the partial message and its end, no down message:%s", dump(msgs))
	}
}
