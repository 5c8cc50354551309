package e2e

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// hangingListener accepts connections and never answers on them, until the
// test ends. accepted counts them.
func hangingListener(t *testing.T) (addr string, accepted func() int) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String(), func() int { mu.Lock(); defer mu.Unlock(); return len(conns) }
}

// Faulty peers fail for their own reason, which the log says, and delay
// nobody: a healthy peer is probed on time throughout, while the webhook
// hangs and the state file cannot be written.
func TestFaultyPeersFailForTheirOwnReasonAndDelayNoOne(t *testing.T) {
	shareMachine(t, loadOf(3, 100*time.Millisecond))
	var mu sync.Mutex
	var arrivals []time.Time
	healthy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		arrivals = append(arrivals, time.Now())
		mu.Unlock()
		w.Write([]byte(`{"pong":true}`))
	}))
	defer healthy.Close()
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "broken", http.StatusInternalServerError)
	}))
	defer failing.Close()
	redirecting := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, r.URL.Path, http.StatusFound) // to itself, forever
	}))
	defer redirecting.Close()
	hanging, _ := hangingListener(t)
	hook, hookCalls := hangingListener(t)
	stateDir := t.TempDir()

	peers := map[string]string{
		"healthy":     strings.TrimPrefix(healthy.URL, "http://"),
		"failing":     strings.TrimPrefix(failing.URL, "http://"),
		"redirecting": strings.TrimPrefix(redirecting.URL, "http://"),
		"hanging":     hanging,
		"unresolved":  "no-such-host.invalid:4000",
	}
	var list []string
	for _, p := range peers {
		list = append(list, "http://"+p)
	}
	name := fmt.Sprintf("127.0.0.1:%d", freePorts(t, 1)[0])
	const interval = time.Second
	n := startNode(t, name, "PEERS="+strings.Join(list, ","), "POLL_INTERVAL="+interval.String(), "PROBE_TIMEOUT=700ms",
		"FAILURE_THRESHOLD=2", "WEBHOOK_URL=http://"+hook+"/api/webhooks/1/x", "STATE_FILE="+filepath.Join(stateDir, "sub", "state.json"))
	_ = os.Mkdir(filepath.Join(stateDir, "sub"), 0o755)
	eventually(t, 10*time.Second, "the node to answer", func() bool { _, err := n.state(); return err == nil })
	// Now make the state file unwritable: its directory becomes a file.
	if err := os.RemoveAll(filepath.Join(stateDir, "sub")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(stateDir, "sub"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	arrivals = arrivals[:0]
	mu.Unlock()

	eventually(t, 15*time.Second, "every faulty peer down, the healthy one up", func() bool {
		s, err := n.state()
		if err != nil {
			return false
		}
		for role, p := range peers {
			want := "down"
			if role == "healthy" {
				want = "up"
			}
			if s.Peers[p].Status != want {
				return false
			}
		}
		return true
	})
	// Let the faults go on a little: several more timeouts and retries.
	time.Sleep(3 * interval)

	why := map[string]string{
		"failing":     "answered 500",
		"redirecting": "not followed",
		"hanging":     "timed out after 700ms",
		"unresolved":  "no such host",
	}
	for role, want := range why {
		lines := n.logsMatching(map[string]any{"message": "probe failed", "peer": peers[role]})
		if len(lines) == 0 || !strings.Contains(fmt.Sprint(lines[0]["error"]), want) {
			t.Errorf("%s peer: logged %v, want an error saying %q", role, lines, want)
		}
	}
	if hookCalls() == 0 {
		t.Error("the node never called its (hanging) webhook")
	}
	if len(n.logsMatching(map[string]any{"message": "state file not written; will retry"})) == 0 {
		t.Error("the unwritable state file was not reported")
	}

	// The healthy peer was probed every interval all along; a scheduling
	// hiccup may shift one probe, but a probe held up behind a hanging one
	// would leave a gap of a timeout or more.
	mu.Lock()
	defer mu.Unlock()
	if len(arrivals) < 5 {
		t.Fatalf("the healthy peer was probed %d times", len(arrivals))
	}
	for i := 1; i < len(arrivals); i++ {
		if gap := arrivals[i].Sub(arrivals[i-1]); gap > interval*3/2 {
			t.Errorf("the healthy peer went %s without a probe, want at most 1.5 intervals", gap)
		}
	}
}
