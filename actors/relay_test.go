package actors

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rs/zerolog"

	"github.com/dupunkto/mesh/actors/domain"
	"github.com/dupunkto/mesh/config"
)

// relayPeer is a loopback peer that records the relays posted to it.
type relayPeer struct {
	*httptest.Server
	mu       sync.Mutex
	got      []relayPayload
	auth     []string
	requests chan struct{} // one value per request, when it arrives
	release  chan struct{} // when non-nil, each answer waits for a value
	status   int
}

func newRelayPeer(t *testing.T, status int) *relayPeer {
	p := &relayPeer{status: status, requests: make(chan struct{}, 100)}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != "POST" || r.URL.Path != "/relay" || r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("relay arrived as %s %s %q", r.Method, r.URL.Path, r.Header.Get("Content-Type"))
		}
		var body relayPayload
		dec := json.NewDecoder(r.Body)
		dec.DisallowUnknownFields() // the payload is exactly the seed's
		if err := dec.Decode(&body); err != nil {
			t.Errorf("relay body: %v", err)
		}
		p.mu.Lock()
		p.got = append(p.got, body)
		p.auth = append(p.auth, r.Header.Get("Authorization"))
		p.mu.Unlock()
		p.requests <- struct{}{}
		if p.release != nil {
			<-p.release
		}
		w.WriteHeader(p.status)
		_, _ = io.WriteString(w, `{"error":"nope"}`)
	}))
	t.Cleanup(p.Close)
	return p
}

func (p *relayPeer) received() []relayPayload {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]relayPayload(nil), p.got...)
}

// relayPayload is a relay body as the seed shows it; the test decodes
// relays strictly into it, so that nothing else is sent.
type relayPayload struct {
	Node  string `json:"node"`
	Peers map[string]struct {
		Status              domain.Status `json:"status"`
		Since               string        `json:"since"`
		LastSeen            *string       `json:"last_seen"`
		ConsecutiveFailures int           `json:"consecutive_failures"`
		RTT                 *float64      `json:"rtt_ms"`
	} `json:"peers"`
}

// fixedState is a snapshot source that always returns one snapshot.
type fixedState struct{ s *domain.Snapshot }

func (f fixedState) Snapshot() *domain.Snapshot { return f.s }

func snapshotOf(views map[string]domain.Status) *domain.Snapshot {
	var entries []*domain.PeerEntry
	for _, name := range slices.Sorted(maps.Keys(views)) {
		entries = append(entries, domain.NewPeerEntry(name, domain.PeerView{Status: views[name], Since: t0}, domain.History{}))
	}
	return domain.NewSnapshot("me", entries, nil)
}

type syncWriter struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *syncWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

func TestRelayGoesToEveryPeerThatIsNotDown(t *testing.T) {
	up, unknown, down, refusing := newRelayPeer(t, 200), newRelayPeer(t, 200), newRelayPeer(t, 200), newRelayPeer(t, 403)
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	gone := "http://" + closed.Addr().String()
	closed.Close()

	var logs syncWriter
	snap := snapshotOf(map[string]domain.Status{"up": domain.StatusUp, "unknown": domain.StatusUnknown, "down": domain.StatusDown, "refusing": domain.StatusUp, "gone": domain.StatusUp})
	s := NewRelaySender(RelaySenderConfig{
		Secret: "s3cret", Timeout: time.Second, State: fixedState{snap},
		Peers: []config.Peer{{Name: "up", URL: up.URL}, {Name: "unknown", URL: unknown.URL}, {Name: "down", URL: down.URL}, {Name: "refusing", URL: refusing.URL}, {Name: "gone", URL: gone}},
		Log:   zerolog.New(&logs).Level(zerolog.DebugLevel),
	})
	s.send(t.Context())

	for name, p := range map[string]*relayPeer{"up": up, "unknown": unknown, "refusing": refusing} {
		got := p.received()
		if len(got) != 1 || got[0].Node != "me" || len(got[0].Peers) != 5 || got[0].Peers["down"].Status != domain.StatusDown {
			t.Fatalf("%s received %+v, want this node's whole view once", name, got)
		}
		if p.auth[0] != "s3cret" {
			t.Fatalf("%s got Authorization %q, want the bare secret", name, p.auth[0])
		}
	}
	if got := down.received(); len(got) != 0 {
		t.Fatalf("a down peer was sent a relay: %+v", got)
	}
	out := logs.String()
	for _, want := range []string{`"level":"debug","peer":"refusing","error":"answered 403 Forbidden: {\"error\":\"nope\"}"`, `"peer":"gone"`, "connection refused"} {
		if !strings.Contains(out, want) {
			t.Errorf("logs lack %s:\n%s", want, out)
		}
	}
	if strings.Contains(out, "s3cret") {
		t.Fatal("the secret was logged")
	}
}

func TestRelayWakeUpsCoalesce(t *testing.T) {
	p := newRelayPeer(t, 200)
	p.release = make(chan struct{})
	rounds := NewSignal()
	s := NewRelaySender(RelaySenderConfig{Secret: "x", Timeout: 5 * time.Second, Rounds: rounds,
		State: fixedState{snapshotOf(map[string]domain.Status{"p": domain.StatusUp})}, Peers: []config.Peer{{Name: "p", URL: p.URL}}, Log: zerolog.Nop()})
	go s.Serve(t.Context())

	rounds.Notify()
	<-p.requests // the first relay is in flight and held
	for range 10 {
		rounds.Notify() // rounds completing during a slow send never block the owner...
	}
	p.release <- struct{}{}
	<-p.requests // ...and give exactly one more send
	if n := len(rounds.C()); n != 0 {
		t.Fatalf("%d wake-ups still queued after the coalesced send", n)
	}
	p.release <- struct{}{}
	if n := len(p.received()); n != 2 {
		t.Fatalf("%d relays sent, want 2", n)
	}
}

func TestRelayPostGivesUpAtTheTimeout(t *testing.T) {
	p := newRelayPeer(t, 200)
	p.release = make(chan struct{})
	defer close(p.release)
	s := NewRelaySender(RelaySenderConfig{Secret: "x", Timeout: 200 * time.Millisecond,
		State: fixedState{snapshotOf(map[string]domain.Status{"p": domain.StatusUp})}, Peers: []config.Peer{{Name: "p", URL: p.URL}}, Log: zerolog.Nop()})
	done := make(chan struct{})
	go func() { s.send(t.Context()); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("a hanging peer held the relay sender past its timeout")
	}
}

// answering is an in-memory peer that gives every relay the same answer.
type answering int

func (a answering) RoundTrip(req *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: int(a), Status: fmt.Sprintf("%d %s", a, http.StatusText(int(a))), Header: http.Header{},
		Body: io.NopCloser(strings.NewReader(`{"error":"missing or wrong relay secret"}`)), Request: req}, nil
}

// Relays a peer keeps refusing with 401 (a RELAY_SECRET that differs, say
// with a newline from a Kubernetes secret on one side) are said at warn
// after three rounds, then every ten minutes, not every round; once they
// get through, that is said too.
func TestRelaysThatKeepBeingRefusedAreWarnedAboutNamingThePeer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var logs syncWriter
		client := &http.Client{Transport: answering(401)}
		s := NewRelaySender(RelaySenderConfig{Secret: "x", Timeout: time.Second, Client: client,
			State: fixedState{snapshotOf(map[string]domain.Status{"p": domain.StatusUp})}, Peers: []config.Peer{{Name: "p", URL: "http://p"}},
			Log: zerolog.New(&logs)})
		warnings := func() int {
			return strings.Count(logs.String(), "relays keep being refused: the peer's RELAY_SECRET differs")
		}
		round := func() { s.send(t.Context()); time.Sleep(5 * time.Second) }

		round()
		round()
		if n := warnings(); n != 0 {
			t.Fatalf("%d warnings after two failed rounds, want none yet", n)
		}
		round()
		if n := warnings(); n != 1 || !strings.Contains(logs.String(), `"peer":"p"`) {
			t.Fatalf("%d warnings after three rounds, want one naming the peer: %s", n, logs.String())
		}
		for range 100 { // a little over eight minutes of rounds
			round()
		}
		if n := warnings(); n != 1 {
			t.Fatalf("%d warnings within ten minutes, want still one", n)
		}
		for range 30 {
			round()
		}
		if n := warnings(); n != 2 {
			t.Fatalf("%d warnings after ten minutes, want a second", n)
		}
		client.Transport = answering(200)
		round()
		if !strings.Contains(logs.String(), "relays delivered again") {
			t.Fatalf("no word that relays work again: %s", logs.String())
		}
	})
}
