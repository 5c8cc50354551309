// Package e2e runs real Mesh nodes, the built binary on loopback ports, and
// checks what an operator sees: /state, the exit codes and the JSON logs.
package e2e

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// binary is the mesh binary built once for the whole package, with its
// version stamped as a release build would.
var binary string

const stampedVersion = "v0.0.0-e2e"

func TestMain(m *testing.M) {
	if url := os.Getenv("MESH_E2E_GET"); url != "" {
		os.Exit(get(url)) // this binary, run inside a network namespace to read a node there
	}
	if route := os.Getenv("MESH_E2E_PROXY"); route != "" {
		os.Exit(proxy(route)) // this binary, run inside a network namespace as a toxiproxy there
	}
	if addr := os.Getenv("MESH_E2E_TOXIPROXY"); addr != "" {
		os.Exit(toxiproxyServer(addr)) // this binary, as a toxiproxy server the tests drive through its client
	}
	if addr := os.Getenv("MESH_E2E_RECORD"); addr != "" {
		os.Exit(record(addr)) // this binary, as a webhook sink the tests read
	}
	if addrs := os.Getenv("MESH_E2E_SERVE"); addrs != "" {
		os.Exit(serve(addrs)) // this binary, run inside a network namespace as a target there
	}
	flag.Parse()
	parallelByDefault()
	if testing.Short() {
		// The inner loop (go test -short ./...): these tests run real
		// processes, browsers and namespaces on real time, minutes of it.
		fmt.Println("end-to-end tests skipped with -short: run go test without it, or the README's suite command")
		os.Exit(0)
	}
	dir, err := os.MkdirTemp("", "mesh-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "mesh")
	args := []string{"build", "-o", binary, "-ldflags", "-X main.version=" + stampedVersion}
	if raceEnabled {
		args = append(args, "-race")
	}
	build := exec.Command("go", append(args, "github.com/dupunkto/mesh/cmd/mesh")...)
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building mesh:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// freePorts returns n loopback ports that were free a moment ago, never
// one it returned before in this process. They are taken from below the
// kernel's ephemeral range (ip_local_port_range starts at 32768), which
// outgoing connections take their ports from: a port from that range, free
// when asked, may be a node's outgoing connection's by the time a listener
// binds it, and with tests side by side there are many such connections.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ports []int
	for len(ports) < n {
		ports = append(ports, consecutivePorts(t, 1))
	}
	return ports
}

// consecutivePorts returns the first of n consecutive loopback ports that
// were free a moment ago, as freePorts does.
func consecutivePorts(t *testing.T, n int) int {
	t.Helper()
	for {
		first := int(nextPort.Add(int32(n))) - n + 1
		if first+n > 32768 {
			t.Fatal("no loopback ports below 32768 left for this run")
		}
		free := true
		for p := first; p < first+n && free; p++ {
			ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
			if free = err == nil; free {
				ln.Close()
			}
		}
		if free {
			return first
		}
	}
}

// nextPort is the last port freePorts looked at: each run starts at its
// own place between 10000 and 20000, so that two runs on one machine
// rarely meet.
var nextPort atomic.Int32

func init() { nextPort.Store(int32(10000 + os.Getpid()%10000)) }

// syncBuffer is a bytes.Buffer safe to write from a process pipe and read
// from the test.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// node is one running mesh process.
type node struct {
	t      *testing.T
	name   string // NODE, also its address 127.0.0.1:port
	env    []string
	cmd    *exec.Cmd
	stdout *syncBuffer
	stderr *syncBuffer
	done   chan struct{}
	err    error    // from Wait, once done is closed
	wrap   []string // a command the binary runs under, such as ip netns exec NS
	bin    string   // the binary it runs, when not the package's own
}

// startNode starts the binary with env (KEY=value) plus LISTEN_ADDR and NODE
// for name. Stopped nodes are killed when the test ends.
func startNode(t *testing.T, name string, env ...string) *node {
	t.Helper()
	return launch(t, &node{name: name, env: env})
}

// startNodeUnder is startNode with the binary run under wrap (a command and
// its arguments, such as ip netns exec NS).
func startNodeUnder(t *testing.T, wrap []string, name string, env ...string) *node {
	t.Helper()
	return launch(t, &node{name: name, env: env, wrap: wrap})
}

// startNodeOf is startNode with another build of the node, such as
// plainBinary's.
func startNodeOf(t *testing.T, bin, name string, env ...string) *node {
	t.Helper()
	return launch(t, &node{name: name, env: env, bin: bin})
}

// launch starts n, and kills it when the test ends if it still runs.
func launch(t *testing.T, n *node) *node {
	t.Helper()
	n.t, n.stdout, n.stderr = t, &syncBuffer{}, &syncBuffer{}
	n.start()
	t.Cleanup(func() {
		if n.running() {
			_ = n.cmd.Process.Kill()
			<-n.done
		}
		if t.Failed() {
			t.Logf("%s stdout:\n%s\nstderr:\n%s", n.name, n.stdout, n.stderr)
		}
	})
	return n
}

func (n *node) start() {
	bin := cmp.Or(n.bin, binary)
	n.cmd = exec.Command(bin)
	if len(n.wrap) > 0 {
		n.cmd = exec.Command(n.wrap[0], append(n.wrap[1:], bin)...)
	}
	n.cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "NODE=" + n.name, "LISTEN_ADDR=" + n.name}, n.env...)
	n.cmd.Stdout, n.cmd.Stderr = n.stdout, n.stderr
	if err := n.cmd.Start(); err != nil {
		n.t.Fatal(err)
	}
	n.done = make(chan struct{})
	go func() { n.err = n.cmd.Wait(); close(n.done) }()
}

func (n *node) running() bool {
	select {
	case <-n.done:
		return false
	default:
		return true
	}
}

// kill ends the process at once, as a crash or an OOM kill would.
func (n *node) kill() {
	n.t.Helper()
	_ = n.cmd.Process.Kill()
	<-n.done
}

// freeze stops the process where it is (SIGSTOP), as a debugger, a VM
// migration or a laptop lid would; thaw lets it go on (SIGCONT).
func (n *node) freeze() { _ = n.cmd.Process.Signal(syscall.SIGSTOP) }
func (n *node) thaw()   { _ = n.cmd.Process.Signal(syscall.SIGCONT) }

// restart starts the same node again, on the same address, with the same env.
func (n *node) restart() { n.start() }

// stop sends SIGTERM and returns the exit code, failing if the process takes
// longer than 5 s to go.
//
// A node stops within 5 s of SIGTERM. That is measured by the node's own
// clock, from its "stopping on purpose" line to its "mesh stopped": on a
// machine loaded by the rest of the suite this test process may take
// seconds more to see the exit, which says nothing of the node. A node
// that has not exited 30 s on hangs.
func (n *node) stop() int {
	n.t.Helper()
	_ = n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-n.done:
	case <-time.After(30 * time.Second):
		n.t.Fatalf("%s did not stop within 30s of SIGTERM", n.name)
	}
	var began, ended time.Time
	for _, l := range n.logLines() {
		at, _ := time.Parse(time.RFC3339Nano, fmt.Sprint(l["time"]))
		switch l["message"] {
		case "stopping on purpose":
			began = at
		case "mesh stopped":
			ended = at
		}
	}
	if !began.IsZero() && !ended.IsZero() && ended.Sub(began) > 5*time.Second {
		n.t.Fatalf("%s took %v from SIGTERM to stopped, want at most 5s", n.name, ended.Sub(began))
	}
	if strings.Contains(n.stderr.String(), "DATA RACE") {
		n.t.Errorf("%s reported a data race:\n%s", n.name, n.stderr)
	}
	return n.cmd.ProcessState.ExitCode()
}

// logLines parses the node's stdout as JSON lines; a line that is not JSON
// fails the test, because operators feed these logs to machines.
func (n *node) logLines() []map[string]any {
	n.t.Helper()
	var lines []map[string]any
	sc := bufio.NewScanner(strings.NewReader(n.stdout.String()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			n.t.Fatalf("%s logged a line that is not JSON: %q", n.name, sc.Text())
		}
		lines = append(lines, m)
	}
	return lines
}

// logTime is when a log line was written, by its time field.
func logTime(t *testing.T, line map[string]any) time.Time {
	t.Helper()
	at, err := time.Parse(time.RFC3339Nano, fmt.Sprint(line["time"]))
	if err != nil {
		t.Fatalf("a log line without a time: %v", line)
	}
	return at
}

// logsMatching returns the log lines whose fields include every key/value.
func (n *node) logsMatching(fields map[string]any) []map[string]any {
	var out []map[string]any
	for _, l := range n.logLines() {
		ok := true
		for k, v := range fields {
			if fmt.Sprint(l[k]) != fmt.Sprint(v) {
				ok = false
				break
			}
		}
		if ok {
			out = append(out, l)
		}
	}
	return out
}

// peerView mirrors one entry of /state's peers.
type peerView struct {
	Status              string  `json:"status"`
	Since               string  `json:"since"`
	LastSeen            *string `json:"last_seen"`
	ConsecutiveFailures int     `json:"consecutive_failures"`
}

type relayCopy struct {
	ReceivedAt string              `json:"received_at"`
	Peers      map[string]peerView `json:"peers"`
}

type state struct {
	Node        string                      `json:"node"`
	Maintenance map[string]maintenanceEntry `json:"maintenance"`
	Peers       map[string]peerView         `json:"peers"`
	Targets     map[string]peerView         `json:"targets"`
	Relay       map[string]relayCopy        `json:"relay"`
	Cluster     map[string]clusterEntry     `json:"cluster"`
	// Isolated: the node says it has lost its own network.
	Isolated bool `json:"isolated"`
	// Key is the node's public key, which its relays are signed with.
	Key string `json:"key"`
}

// maintenanceEntry is why a subject is in maintenance, as /state says.
type maintenanceEntry struct {
	Reason  string `json:"reason"`
	Until   string `json:"until"`
	ID      string `json:"id"`
	By      string `json:"by"`
	Comment string `json:"comment"`
}

// clusterEntry is the cluster's verdict on one peer, as a node reaches it.
type clusterEntry struct {
	Status   string   `json:"status"`
	DownFrom []string `json:"down_from"`
	UpFrom   []string `json:"up_from"`
}

var client = &http.Client{Timeout: 2 * time.Second}

// state fetches the node's /state; an error means it did not answer.
// noRedirect reads an answer as it is, a redirect included.
var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }, Timeout: 2 * time.Second}

func (n *node) state() (state, error) {
	resp, err := client.Get("http://" + n.name + "/state")
	if err != nil {
		return state{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return state{}, err
	}
	var s state
	if resp.StatusCode != 200 {
		return s, fmt.Errorf("status %d: %s", resp.StatusCode, b)
	}
	return s, json.Unmarshal(b, &s)
}

// eventually polls cond until it holds or the deadline passes. The nodes run
// on their own clocks, so the test waits on what they show, not on sleeps.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", within, what)
		}
		time.Sleep(100 * time.Millisecond) // each look costs the nodes a /state: tests share the machine
	}
}

// sees reports whether observer's /state shows peer with a status for which
// check holds.
func sees(observer *node, peer string, check func(peerView) bool) bool {
	s, err := observer.state()
	if err != nil {
		return false
	}
	v, ok := s.Peers[peer]
	return ok && check(v)
}

func isUp(v peerView) bool { return v.Status == "up" }

func mustParseTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatalf("%q is not RFC 3339: %v", s, err)
	}
	return v
}
