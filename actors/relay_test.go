package actors

import (
	"bytes"
	"compress/gzip"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"

	"github.com/dupunkto/mesh/actors/domain"
	"github.com/dupunkto/mesh/actors/wire"
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
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
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

// relayPayload is a relay body as the seed shows it.
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
	var entries []*domain.Entry
	for _, name := range slices.Sorted(maps.Keys(views)) {
		entries = append(entries, domain.NewEntry(domain.Peer(name), domain.PeerView{Status: views[name], Since: t0}, domain.History{}))
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
	s.send(t.Context(), false)

	for name, p := range map[string]*relayPeer{"up": up, "unknown": unknown, "refusing": refusing} {
		got := p.received()
		if len(got) != 1 || got[0].Node != "me" || len(got[0].Peers) != 5 || got[0].Peers["down"].Status != domain.StatusDown {
			t.Fatalf("%s received %+v, want this node's whole view once", name, got)
		}
		if _, isMAC := wire.MACOf(p.auth[0]); !isMAC || strings.Contains(p.auth[0], "s3cret") {
			t.Fatalf("%s got Authorization %q, want the relay's MAC and not the secret", name, p.auth[0])
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

// A peer of the seed's format knows only the secret: it refuses the first
// relay, which carries a MAC, and its answer says nothing of what it
// takes; from then on it gets the secret and exactly the seed's body. A
// Mesh peer never gets the secret, not even after a proxy in front of it
// answered for it.
func TestASeedPeerGetsTheSecretOnlyAfterItRefusedTheMAC(t *testing.T) {
	var mu sync.Mutex
	auths := map[string][]string{}
	peer := func(name string, h http.HandlerFunc) config.Peer {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			auths[name] = append(auths[name], r.Header.Get("Authorization"))
			mu.Unlock()
			h(w, r)
		}))
		t.Cleanup(srv.Close)
		return config.Peer{Name: name, URL: srv.URL}
	}
	seed := peer("seed", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "s3cret" {
			http.Error(w, `{"error":"unauthorized"}`, http.StatusUnauthorized)
			return
		}
		dec := json.NewDecoder(r.Body)
		dec.DisallowUnknownFields() // the payload is exactly the seed's
		var body relayPayload
		if err := dec.Decode(&body); err != nil {
			t.Errorf("the seed peer's relay: %v", err)
		}
	})
	mesh := peer("mesh", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(wire.AcceptRelayHeader, wire.AcceptGzip+", "+wire.AcceptDelta+", "+wire.AcceptMAC)
	})
	// A Mesh node behind a proxy that answers 502 while the node restarts:
	// the proxy's answer says nothing of what the node takes.
	var restarted atomic.Bool
	proxied := peer("proxied", func(w http.ResponseWriter, r *http.Request) {
		if !restarted.Swap(true) {
			http.Error(w, "Bad Gateway", http.StatusBadGateway)
			return
		}
		w.Header().Set(wire.AcceptRelayHeader, wire.AcceptGzip+", "+wire.AcceptDelta+", "+wire.AcceptMAC)
	})
	s := NewRelaySender(RelaySenderConfig{Secret: "s3cret", Timeout: time.Second,
		State: fixedState{snapshotOf(map[string]domain.Status{"seed": domain.StatusUp, "mesh": domain.StatusUp, "proxied": domain.StatusUp})},
		Peers: []config.Peer{seed, mesh, proxied}, Log: zerolog.Nop()})
	for range 3 {
		s.send(t.Context(), false)
	}
	mu.Lock()
	defer mu.Unlock()
	if a := auths["seed"]; len(a) != 3 || strings.Contains(a[0], "s3cret") || a[1] != "s3cret" || a[2] != "s3cret" {
		t.Errorf("the seed peer got Authorization %q, want a MAC, then the secret", a)
	}
	for _, name := range []string{"mesh", "proxied"} {
		for _, a := range auths[name] {
			if _, isMAC := wire.MACOf(a); !isMAC || strings.Contains(a, "s3cret") {
				t.Errorf("the %s peer got Authorization %q, want a MAC every time", name, a)
			}
		}
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
	go func() { s.send(t.Context(), false); close(done) }()
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
		round := func() { s.send(t.Context(), false); time.Sleep(5 * time.Second) }

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

// unreachable is a peer no connection reaches.
type unreachable struct{}

func (unreachable) RoundTrip(*http.Request) (*http.Response, error) {
	return nil, errors.New("connect: connection refused")
}

// Relays that get no answer from a peer whose probes fail too are not
// warned about: the peer is gone, which its "peer is down" line says; a
// warning a round before it would be the same news twice. A peer whose
// probes get through while its relays get no answer is warned about.
func TestRelaysToAPeerWhoseProbesFailTooAreNotWarnedAbout(t *testing.T) {
	for _, probes := range []string{"failing", "ok"} {
		t.Run(probes, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var logs syncWriter
				view := domain.PeerView{Status: domain.StatusUp, Since: t0}
				if probes == "failing" {
					view.ConsecutiveFailures = 2 // not down yet: FAILURE_THRESHOLD is 4
				}
				snap := domain.NewSnapshot("me", []*domain.Entry{domain.NewEntry(domain.Peer("p"), view, domain.History{})}, nil)
				s := NewRelaySender(RelaySenderConfig{Secret: "x", Timeout: time.Second, Client: &http.Client{Transport: unreachable{}},
					State: fixedState{snap}, Peers: []config.Peer{{Name: "p", URL: "http://p"}}, Log: zerolog.New(&logs)})
				for range 5 {
					s.send(t.Context(), false)
					time.Sleep(5 * time.Second)
				}
				warned := strings.Count(logs.String(), "relays to the peer keep failing")
				if want := map[string]int{"failing": 0, "ok": 1}[probes]; warned != want {
					t.Fatalf("probes %s: %d warnings, want %d: %s", probes, warned, want, logs.String())
				}
			})
		})
	}
}

// A peer that says in its answer that it takes gzip (a Mesh node) gets the
// relays after the first gzipped, the same JSON in a fraction of the bytes;
// one that says nothing (the seed's nodes) keeps getting plain JSON, as the
// seed sends it; one that stops saying so goes back to plain.
func TestRelaysAreGzippedOnlyToPeersThatSayTheyTakeIt(t *testing.T) {
	type got struct {
		encoding string
		json     string
		size     int
	}
	peer := func(accept *atomic.Bool) (*httptest.Server, func() []got) {
		var mu sync.Mutex
		var all []got
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			raw, _ := io.ReadAll(r.Body)
			body := raw
			if r.Header.Get("Content-Encoding") == "gzip" {
				zr, err := gzip.NewReader(bytes.NewReader(raw))
				if err != nil {
					t.Errorf("a gzipped relay that is not gzip: %v", err)
					return
				}
				body, _ = io.ReadAll(zr)
			}
			mu.Lock()
			all = append(all, got{r.Header.Get("Content-Encoding"), string(body), len(raw)})
			mu.Unlock()
			if accept.Load() {
				w.Header().Set(wire.AcceptRelayHeader, "gzip")
			}
		}))
		t.Cleanup(srv.Close)
		return srv, func() []got { mu.Lock(); defer mu.Unlock(); return slices.Clone(all) }
	}
	var mesh, seed atomic.Bool
	mesh.Store(true)
	meshPeer, meshGot := peer(&mesh)
	seedPeer, seedGot := peer(&seed)
	views := map[string]domain.Status{}
	for i := range 50 {
		views[fmt.Sprintf("peer-%02d.mesh.example.org", i)] = domain.StatusUp
	}
	views["mesh"], views["seed"] = domain.StatusUp, domain.StatusUp
	metrics := NewMetrics(nil)
	s := NewRelaySender(RelaySenderConfig{Secret: "x", Timeout: time.Second, State: fixedState{snapshotOf(views)},
		Peers: []config.Peer{{Name: "mesh", URL: meshPeer.URL}, {Name: "seed", URL: seedPeer.URL}}, Metrics: metrics, Log: zerolog.Nop()})
	for range 3 {
		s.send(t.Context(), false)
	}
	mesh.Store(false)
	s.send(t.Context(), false) // answered without the header: the next goes plain
	s.send(t.Context(), false)

	m, sd := meshGot(), seedGot()
	if encodings := []string{m[0].encoding, m[1].encoding, m[2].encoding, m[3].encoding, m[4].encoding}; !slices.Equal(encodings, []string{"", "gzip", "gzip", "gzip", ""}) {
		t.Fatalf("the Mesh peer got encodings %q, want plain, gzip while it takes it, then plain", encodings)
	}
	// Until it answered, and while it says it is a Mesh node (to the
	// fourth relay), each relay says when it was sent; else they are the
	// same.
	sentAt := regexp.MustCompile(`,"sent_at":"[^"]*"`)
	plain := sentAt.ReplaceAllString(m[0].json, "")
	for i, g := range m {
		if stamped := sentAt.MatchString(g.json); stamped != (i < 4) || sentAt.ReplaceAllString(g.json, "") != plain {
			t.Fatalf("relay %d to the Mesh peer differs once inflated, or says when it was sent after the fourth: %s", i, g.json)
		}
	}
	for i, g := range sd {
		if sentAt.MatchString(g.json) != (i == 0) {
			t.Fatalf("relay %d to the seed peer was %s, want the seed's body once it answered", i, g.json)
		}
	}
	if m[1].size*4 > m[0].size {
		t.Fatalf("gzipped relay of %d bytes against %d plain: want a quarter at most", m[1].size, m[0].size)
	}
	for i, g := range sd {
		if g.encoding != "" || sentAt.ReplaceAllString(g.json, "") != plain {
			t.Fatalf("relay %d to the seed peer was %q, want plain JSON always", i, g.encoding)
		}
	}
	var want float64
	for _, g := range append(m, sd...) {
		want += float64(g.size)
	}
	if sent := testutil.ToFloat64(metrics.relayBytes.WithLabelValues("sent")); sent != want {
		t.Fatalf("mesh_relay_bytes_total{direction=sent} = %v, want the %v bytes the peers got", sent, want)
	}
}

// meshReceiver is an in-memory Mesh peer for the sender's timing under
// synctest: it takes gzip and deltas, answers status (200 when zero), and
// records each relay, inflated.
type meshReceiver struct {
	mu     sync.Mutex
	status []int // the answers to give, in turn; then 200
	got    []wire.Relay
	raw    []int // bytes on the wire
	// signedBy is, for each relay, the key its signature of the bytes on
	// the wire verifies with: "" when it was not signed, "bad" when it
	// does not verify.
	signedBy []string
}

func (m *meshReceiver) RoundTrip(req *http.Request) (*http.Response, error) {
	raw, _ := io.ReadAll(req.Body)
	signedBy := req.Header.Get(wire.KeyHeader)
	if signedBy != "" {
		pub, err := domain.DecodeKey(signedBy)
		digest := wire.NewSignatureHash()
		digest.Write(raw)
		if err != nil || !wire.VerifyRelay(pub, digest.Sum(nil), req.Header.Get(wire.SignatureHeader)) {
			signedBy = "bad"
		}
	}
	body := raw
	if req.Header.Get("Content-Encoding") == "gzip" {
		zr, _ := gzip.NewReader(bytes.NewReader(raw))
		body, _ = io.ReadAll(zr)
	}
	r, err := wire.DecodeRelay(body)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.got = append(m.got, r)
	m.raw = append(m.raw, len(raw))
	m.signedBy = append(m.signedBy, signedBy)
	status := 200
	if len(m.status) > 0 {
		status, m.status = max(m.status[0], 200), m.status[1:]
	}
	resp := answer(status, http.Header{wire.AcceptRelayHeader: {"gzip, delta"}}, "{}")()
	return resp, nil
}

// settableState is a snapshot source a test changes.
type settableState struct {
	s atomic.Pointer[domain.Snapshot]
}

func (f *settableState) Snapshot() *domain.Snapshot { return f.s.Load() }

// To a Mesh peer, a relay carries only the views whose status, since or
// failure count changed since the last one it took, and a whole one every
// minute, or after a relay it did not take. While nothing changes, it gets
// one every other round.
func TestRelaysToAMeshPeerCarryOnlyWhatChanged(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		views := map[string]domain.Status{"peer": domain.StatusUp}
		for i := range 100 {
			views[fmt.Sprintf("peer-%03d.mesh.example.org", i)] = domain.StatusUp
		}
		state := &settableState{}
		state.s.Store(snapshotOf(views))
		m := &meshReceiver{}
		s := NewRelaySender(RelaySenderConfig{Secret: "x", Timeout: time.Second, State: state,
			Peers: []config.Peer{{Name: "peer", URL: "http://peer.example"}}, Client: &http.Client{Transport: m}, Log: zerolog.Nop()})
		round := func() { s.send(t.Context(), false); time.Sleep(5 * time.Second) }

		round() // whole: nothing is known of the peer yet
		round() // a delta with nothing in it
		views["peer-007.mesh.example.org"] = domain.StatusDown
		state.s.Store(snapshotOf(views))
		round() // a delta of one view
		for range 10 {
			round() // deltas of nothing: sent, skipped, sent, ...
		}
		// A minute after the first: whole again, gzipped.
		m.mu.Lock()
		m.status = []int{http.StatusConflict} // the next one is refused...
		m.mu.Unlock()
		round()
		round() // ...so this one is whole

		m.mu.Lock()
		defer m.mu.Unlock()
		var shape []string
		for _, r := range m.got {
			shape = append(shape, fmt.Sprintf("%v/%d", r.Delta, len(r.Peers)))
		}
		want := []string{"false/101", "true/0", "true/1", "true/0", "true/0", "true/0", "true/0", "true/0", "false/101", "true/0", "false/101"}
		if !slices.Equal(shape, want) {
			t.Fatalf("relays (delta/views) %v, want %v", shape, want)
		}
		if m.got[2].Peers["peer-007.mesh.example.org"].Status != domain.StatusDown {
			t.Fatalf("the delta carried %+v, want the view that changed", m.got[2].Peers)
		}
		if m.raw[8]*5 > m.raw[0] || m.raw[1] > 100 {
			t.Fatalf("bytes on the wire %v: want the later whole relay gzipped to a fifth, a delta of nothing under 100", m.raw)
		}
	})
}

// Leave sends one last relay, whole and saying it is leaving, to every
// peer, a peer this node sees down too (it may only be this node that
// cannot reach it); after it, a round sends nothing more, since a relay
// after the last would tell the peers this node is back.
// A Mesh peer that once did not answer (frozen, cut off, restarting) is
// still a Mesh peer: the relays it gets next, the leave above all, say
// when they were sent. A peer held up takes a leave only when it wakes,
// and without the stamp it would date the leave by then: other nodes,
// learning the leave from it, would take a peer seen back meanwhile for
// stopped again, and keep quiet about its next outage.
func TestAPeerThatDidNotAnswerStillGetsRelaysSayingWhenTheyWereSent(t *testing.T) {
	var mu sync.Mutex
	var got []wire.Relay
	var frozen atomic.Bool
	thaw := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if frozen.Load() {
			<-thaw // past the sender's timeout: no answer
			return
		}
		body, _ := io.ReadAll(r.Body)
		relay, err := wire.DecodeRelay(body)
		if err != nil {
			t.Errorf("relay: %v", err)
		}
		mu.Lock()
		got = append(got, relay)
		mu.Unlock()
		w.Header().Set(wire.AcceptRelayHeader, wire.AcceptDelta)
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(thaw) }) // before Close, which waits for the handlers
	s := NewRelaySender(RelaySenderConfig{Secret: "s", Timeout: 100 * time.Millisecond, State: fixedState{snapshotOf(map[string]domain.Status{"peer": domain.StatusUp})},
		Peers: []config.Peer{{Name: "peer", URL: srv.URL}}, Log: zerolog.Nop()})
	s.send(t.Context(), false) // answered: a Mesh peer
	frozen.Store(true)
	s.send(t.Context(), false) // no answer
	frozen.Store(false)
	s.send(t.Context(), true)
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 2 || !got[1].Said.Leaving || got[1].SentAt.IsZero() {
		t.Fatalf("after a relay it did not answer, the peer got %+v; want the leave, saying when it was sent", got)
	}
}

func TestLeaveTellsEveryPeerAndIsTheLastRelay(t *testing.T) {
	var mu sync.Mutex
	got := map[string][]wire.Relay{}
	peer := func(name string) config.Peer {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			relay, err := wire.DecodeRelay(body)
			if err != nil {
				t.Errorf("%s: %v", name, err)
			}
			mu.Lock()
			got[name] = append(got[name], relay)
			mu.Unlock()
			w.Header().Set(wire.AcceptRelayHeader, "delta")
		}))
		t.Cleanup(srv.Close)
		return config.Peer{Name: name, URL: srv.URL}
	}
	rounds := NewSignal()
	snap := snapshotOf(map[string]domain.Status{"up": domain.StatusUp, "down": domain.StatusDown})
	s := NewRelaySender(RelaySenderConfig{Secret: "s", Timeout: time.Second, State: fixedState{snap}, Rounds: rounds,
		Peers: []config.Peer{peer("up"), peer("down")}, Log: zerolog.Nop()})
	go s.Serve(t.Context())
	s.Leave(t.Context())
	rounds.Notify()
	s.Leave(t.Context()) // Serve has looped since the round was signalled
	select {
	case <-rounds.C():
	default:
		t.Error("the sender took a round after it left")
	}
	mu.Lock()
	defer mu.Unlock()
	for _, name := range []string{"up", "down"} {
		if relays := got[name]; len(relays) != 2 || !relays[0].Said.Leaving || relays[0].Delta || len(relays[0].Peers) != 2 {
			t.Errorf("%s received %+v, want the whole leaving relay, twice, and no other", name, relays)
		}
	}
}

// A node with a key signs every relay, whole or a delta, gzipped or not,
// as it goes on the wire, and names its key; a node without one signs
// none.
func TestRelaysAreSignedAsSent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		views := map[string]domain.Status{"peer": domain.StatusUp}
		for i := range 100 {
			views[fmt.Sprintf("peer-%03d.mesh.example.org", i)] = domain.StatusUp
		}
		state := &settableState{}
		state.s.Store(snapshotOf(views))
		_, key, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		for _, key := range []ed25519.PrivateKey{key, nil} {
			m := &meshReceiver{}
			s := NewRelaySender(RelaySenderConfig{Secret: "x", Timeout: time.Second, State: state, Key: key,
				Peers: []config.Peer{{Name: "peer", URL: "http://peer.example"}}, Client: &http.Client{Transport: m}, Log: zerolog.Nop()})
			m.status = []int{0, http.StatusConflict}
			s.send(t.Context(), false) // whole, plain: nothing is known of the peer yet
			s.send(t.Context(), false) // a delta of nothing, refused
			s.send(t.Context(), false) // so whole, gzipped: it said it takes that
			views["peer-007.mesh.example.org"] = domain.StatusDown
			state.s.Store(snapshotOf(views))
			s.send(t.Context(), false) // a delta of one view
			want := ""
			if key != nil {
				want = domain.EncodeKey(key.Public().(ed25519.PublicKey))
			}
			m.mu.Lock()
			var shape []string
			for i, r := range m.got {
				shape = append(shape, fmt.Sprintf("%v/%v", r.Delta, m.raw[i] < m.raw[0]/2))
			}
			if want := []string{"false/false", "true/true", "false/true", "true/true"}; !slices.Equal(shape, want) {
				t.Fatalf("relays (delta/gzipped or small) %v, want %v", shape, want)
			}
			for i, by := range m.signedBy {
				if by != want {
					t.Errorf("relay %d signed by %q, want %q", i, by, want)
				}
			}
			m.mu.Unlock()
		}
	})
}
