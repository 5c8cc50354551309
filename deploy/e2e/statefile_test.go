package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// stateFiles gives each node of a cluster its own STATE_FILE in dir.
func stateFiles(dir string) func(i int) []string {
	return func(i int) []string { return []string{fmt.Sprintf("STATE_FILE=%s/node%d.json", dir, i)} }
}

func stateFileOf(dir string, i int) string { return filepath.Join(dir, fmt.Sprintf("node%d.json", i)) }

// readStateFile parses a node's state file; a file that does not parse is
// corrupt and fails the test.
func readStateFile(t *testing.T, path string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var f map[string]any
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatalf("state file %s is corrupt: %v\n%s", path, err, b)
	}
	return f
}

func downSince(t *testing.T, observer *node, peer string) string {
	t.Helper()
	eventually(t, 10*time.Second, observer.name+" to see "+peer+" down", func() bool {
		return sees(observer, peer, func(v peerView) bool { return v.Status == "down" })
	})
	s, _ := observer.state()
	return s.Peers[peer].Since
}

func TestSIGTERMMidOutageCarriesOn(t *testing.T) {
	shareMachine(t, loadOf(2, 100*time.Millisecond))
	dir := t.TempDir()
	hook := newChat(t)
	nodes := clusterWith(t, 2, stateFiles(dir), "WEBHOOK_URL="+hook.URL+"/hook", "FOLLOWUP_INTERVALS=2s", "FAILURE_THRESHOLD=5")
	a, c := nodes[0], nodes[1]

	c.kill()
	since := downSince(t, a, c.name)
	eventually(t, 5*time.Second, "the down message", func() bool { return len(hook.from(a.name, c.name)) == 1 })
	if code := a.stop(); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if f := readStateFile(t, stateFileOf(dir, 0)); f["peers"].(map[string]any)[c.name].(map[string]any)["status"] != "down" {
		t.Fatalf("state file after SIGTERM: %v", f)
	}
	stoppedAt := time.Now()
	// Away long enough to miss two reminders (at 2s and 4s after the down).
	eventually(t, 10*time.Second, "five seconds to pass", func() bool { return time.Since(stoppedAt) > 5*time.Second })
	a.restart()
	eventually(t, 20*time.Second, "the restarted node to answer", func() bool { _, err := a.state(); return err == nil })
	s, _ := a.state()
	if v := s.Peers[c.name]; v.Status != "down" || v.Since != since {
		t.Fatalf("after the restart %s sees %+v, want down since %s", a.name, v, since)
	}
	// The reminders carry on at once, by the node's own clock (two fell due
	// while it was away: it sends one, not a burst, within a round or two
	// of its listening); the chat, served by this busy test process, may
	// take longer to show it.
	eventually(t, 30*time.Second, "a reminder after the restart", func() bool {
		return slices.ContainsFunc(hook.from(a.name, c.name), func(m chatMessage) bool { return strings.HasPrefix(m.Content, "🟠") })
	})
	var started, reminded time.Time
	for _, l := range a.logLines() {
		at, _ := time.Parse(time.RFC3339Nano, fmt.Sprint(l["time"]))
		switch {
		case l["message"] == "mesh starting":
			started, reminded = at, time.Time{} // the last run's
		case l["message"] == "sent to the chat channels" && l["kind"] == "reminder" && reminded.IsZero():
			reminded = at
		}
	}
	if d := reminded.Sub(started); reminded.IsZero() || d < 0 || d > 5*time.Second {
		t.Fatalf("the first reminder was sent %v after the restart (at %v), want within 5 s", d, reminded)
	}

	c.restart()
	eventually(t, 10*time.Second, "the recovery message", func() bool {
		msgs := hook.from(a.name, c.name)
		return strings.HasPrefix(msgs[len(msgs)-1].Content, "🟢")
	})
	msgs := hook.from(a.name, c.name)
	seen := map[string]bool{}
	for i, m := range msgs {
		switch {
		case i == 0:
			if !strings.HasPrefix(m.Content, "🔴") {
				t.Fatalf("first message %q", m.Content)
			}
		case i == len(msgs)-1:
			if d := secondsDown(t, m); d < 5 {
				t.Fatalf("recovery %q: the downtime does not span the restart", m.Content)
			}
		default:
			if !strings.HasPrefix(m.Content, "🟠") || seen[m.Content] {
				t.Fatalf("messages %v: want one down, reminders that each say a new downtime (no burst), one recovery", msgs)
			}
			seen[m.Content] = true
		}
	}
	if d := secondsDown(t, msgs[1]); d < 5 {
		t.Fatalf("first reminder after the restart %q: want the downtime counted from the original since", msgs[1].Content)
	}
}

func TestSIGKILLMidOutageLosesNothingButSeconds(t *testing.T) {
	shareMachine(t, loadOf(2, 100*time.Millisecond))
	dir := t.TempDir()
	nodes := clusterWith(t, 2, stateFiles(dir))
	a, c := nodes[0], nodes[1]
	c.kill()
	since := downSince(t, a, c.name)
	// The file is rewritten at once after a transition: give the writer its
	// moment, then kill a node mid-run several times.
	eventually(t, 5*time.Second, "the down to reach the file", func() bool {
		b, err := os.ReadFile(stateFileOf(dir, 0))
		return err == nil && strings.Contains(string(b), `"down"`)
	})
	for range 3 {
		a.kill()
		f := readStateFile(t, stateFileOf(dir, 0))
		if v := f["peers"].(map[string]any)[c.name].(map[string]any); v["status"] != "down" {
			t.Fatalf("state file after SIGKILL: %v", v)
		}
		a.restart()
		eventually(t, 20*time.Second, "the restarted node to answer", func() bool { _, err := a.state(); return err == nil })
		s, _ := a.state()
		if v := s.Peers[c.name]; v.Status != "down" || v.Since != since {
			t.Fatalf("after SIGKILL and restart %s sees %+v, want down since %s", a.name, v, since)
		}
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), "corrupt") {
			t.Fatalf("a state file was found corrupt: %s", e.Name())
		}
	}
}

func TestCorruptStateFileIsSetAside(t *testing.T) {
	shareMachine(t, loadOf(2, 100*time.Millisecond))
	dir := t.TempDir()
	ports := freePorts(t, 1)
	name := fmt.Sprintf("127.0.0.1:%d", ports[0])
	path := filepath.Join(dir, "state.json")
	if err := os.WriteFile(path, []byte(`{"version":1,"peers":{"x":`), 0o600); err != nil {
		t.Fatal(err)
	}
	// The node probes itself under another name, so that it has a peer that is up.
	self := fmt.Sprintf("localhost:%d", ports[0])
	n := startNode(t, name, "PEERS=http://"+self+",http://other.invalid", "STATE_FILE="+path, "POLL_INTERVAL=100ms")
	eventually(t, 5*time.Second, "the node to see itself up", func() bool { return sees(n, self, isUp) })
	errs := n.logsMatching(map[string]any{"level": "error", "message": "state file unusable; set aside, starting fresh"})
	if len(errs) != 1 {
		t.Fatalf("want one error line about the file, got %s", n.stdout)
	}
	aside, _ := filepath.Glob(path + ".corrupt-*")
	if len(aside) != 1 {
		t.Fatalf("set-aside files %v", aside)
	}
	eventually(t, 5*time.Second, "a fresh state file", func() bool {
		_, err := os.Stat(path)
		return err == nil
	})
	if code := n.stop(); code != 0 {
		t.Fatalf("exit %d", code)
	}
	readStateFile(t, path)
}

func TestChangedPeersBetweenRuns(t *testing.T) {
	shareMachine(t, loadOf(2, 100*time.Millisecond))
	dir := t.TempDir()
	ports := freePorts(t, 3)
	name := fmt.Sprintf("127.0.0.1:%d", ports[0])
	gone, added := fmt.Sprintf("127.0.0.1:%d", ports[1]), fmt.Sprintf("127.0.0.1:%d", ports[2]) // nothing listens on either
	path := filepath.Join(dir, "state.json")
	self := fmt.Sprintf("localhost:%d", ports[0]) // the node itself, under another name: a peer that is up
	common := []string{"STATE_FILE=" + path, "POLL_INTERVAL=100ms", "FAILURE_THRESHOLD=2"}
	n := startNode(t, name, append(common, "PEERS=http://"+self+",http://"+gone)...)
	eventually(t, 5*time.Second, "itself up", func() bool { return sees(n, self, isUp) })
	selfSince := func() string { s, _ := n.state(); return s.Peers[self].Since }()
	downSince(t, n, gone)
	n.stop()

	n.env = append(common, "PEERS=http://"+self+",http://"+added)
	n.restart()
	eventually(t, 5*time.Second, "the node to answer", func() bool { _, err := n.state(); return err == nil })
	s, _ := n.state()
	if _, ok := s.Peers[gone]; ok {
		t.Fatalf("a peer removed from PEERS is still in /state: %v", s.Peers)
	}
	if v, ok := s.Peers[added]; !ok || v.Status == "up" {
		t.Fatalf("the new peer is %+v, want it to start unknown", v)
	}
	if v := s.Peers[self]; v.Status != "up" || v.Since != selfSince {
		t.Fatalf("the kept peer is %+v, want up since %s as before", v, selfSince)
	}
	n.stop()
}

// A state file the node may not read is an error that stops it at start,
// not corruption to set aside: the file is the operator's, and a node that
// started fresh would overwrite it. The node runs as nobody (uid 65534)
// against a file only root may read.
func TestAStateFileTheNodeMayNotReadStopsItAndStaysInPlace(t *testing.T) {
	shareMachine(t, loadOf(1, 100*time.Millisecond))
	setpriv, err := exec.LookPath("setpriv")
	if os.Geteuid() != 0 || err != nil {
		t.Skip("needs root and setpriv (util-linux) to run the node as another user")
	}
	// A copy of the binary nobody may run, in a directory nobody may enter.
	bin := filepath.Join(t.TempDir(), "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	for d := bin; d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	exe := filepath.Join(bin, "mesh")
	data, err := os.ReadFile(binary)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(exe, data, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(bin, "state.json")
	content := `{"version":1,"node":"n","peers":{}}`
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", exe)
	cmd.Env = []string{"NODE=n", "PEERS=a.example", "LISTEN_ADDR=127.0.0.1:0", "STATE_FILE=" + path}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err = cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 2 {
		t.Fatalf("exit %v, want 2; stderr %s", err, stderr.String())
	}
	if got := stderr.String(); strings.Count(got, "\n") != 1 || !strings.Contains(got, "STATE_FILE") || !strings.Contains(got, "permission denied") {
		t.Fatalf("stderr %q, want one line naming STATE_FILE and the permission", got)
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != content {
		t.Fatalf("the file was moved or changed: %v", err)
	}
	if aside, _ := filepath.Glob(path + ".corrupt-*"); len(aside) != 0 {
		t.Fatalf("the file was set aside as corrupt: %v", aside)
	}
}

// A down message still being retried when the node is stopped (SIGTERM) is
// not lost: the stop says what the queue held, the state file keeps it, and
// the next run delivers it.
func TestADownMessageBeingRetriedAtSIGTERMIsSentAfterTheRestart(t *testing.T) {
	shareMachine(t, loadOf(2, 100*time.Millisecond))
	dir := t.TempDir()
	hook := newChat(t)
	hook.refuse()
	nodes := clusterWith(t, 2, stateFiles(dir), "WEBHOOK_URL="+hook.URL+"/hook", "FAILURE_THRESHOLD=5")
	a, c := nodes[0], nodes[1]

	c.kill()
	downSince(t, a, c.name)
	eventually(t, 5*time.Second, "the down message to fail", func() bool {
		return len(a.logsMatching(map[string]any{"message": "delivery failed; will retry"})) > 0
	})
	if code := a.stop(); code != 0 {
		t.Fatalf("exit %d", code)
	}
	stop := a.logsMatching(map[string]any{"message": "channel stopping with undelivered messages; the state file keeps them for the next run"})
	if len(stop) != 1 || stop[0]["queued"] != float64(1) {
		t.Fatalf("the stop said %v, want one line saying one message was kept", stop)
	}

	hook.take()
	a.restart()
	eventually(t, 10*time.Second, "the down message after the restart", func() bool { return len(hook.from(a.name, c.name)) == 1 })
	if m := hook.from(a.name, c.name)[0]; !strings.HasPrefix(m.Content, "🔴") {
		t.Fatalf("after the restart %q, want the down message", m.Content)
	}
}
