package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"
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

// What someone on the path between two nodes sees of their relays: a
// proxy between node a and node b keeps every relay a sends b. None holds
// the secret, in its headers or its body; each carries a MAC instead. One
// posted to b again is refused as a replay, and one changed on the way is
// refused for its MAC; b counts both.
func TestARelayCapturedOnTheWireHoldsNoSecretAndIsRefusedPostedAgain(t *testing.T) {
	shareMachine(t, loadOf(2, 100*time.Millisecond))
	const secret = "on-the-path-s3cret"
	ports := freePorts(t, 3)
	a, b, onPath := fmt.Sprintf("127.0.0.1:%d", ports[0]), fmt.Sprintf("127.0.0.1:%d", ports[1]), fmt.Sprintf("127.0.0.1:%d", ports[2])

	type captured struct {
		header http.Header
		body   []byte
		status int
	}
	var mu sync.Mutex
	var relays []captured
	to, _ := url.Parse("http://" + b)
	forward := httputil.NewSingleHostReverseProxy(to)
	proxy := &http.Server{Addr: onPath, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/relay" {
			forward.ServeHTTP(w, r) // a's probes of b
			return
		}
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		rec := &statusRecorder{ResponseWriter: w}
		forward.ServeHTTP(rec, r)
		mu.Lock()
		relays = append(relays, captured{r.Header.Clone(), body, rec.status})
		mu.Unlock()
	})}
	l, err := net.Listen("tcp", onPath)
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = proxy.Serve(l) }()
	t.Cleanup(func() { _ = proxy.Close() })

	common := []string{"RELAY_SECRET=" + secret, "POLL_INTERVAL=100ms", "PROBE_TIMEOUT=250ms", "ALERTS=node"}
	nodeB := startNode(t, b, append(common, "PEERS=http://"+a+",http://"+b)...)
	startNode(t, a, append(common, "PEERS=http://"+a+",http://"+onPath)...)
	taken := func() []captured {
		mu.Lock()
		defer mu.Unlock()
		var ok []captured
		for _, c := range relays {
			if c.status == http.StatusOK {
				ok = append(ok, c)
			}
		}
		return ok
	}
	eventually(t, 20*time.Second, "five of a's relays taken by b through the proxy", func() bool { return len(taken()) >= 5 })

	mu.Lock()
	all := slices.Clone(relays)
	mu.Unlock()
	for i, c := range all {
		auth := c.header.Get("Authorization")
		if !strings.HasPrefix(auth, "Mesh-HMAC-SHA256 ") {
			t.Errorf("relay %d carried Authorization %q, want a MAC", i, auth)
		}
		var headers strings.Builder
		_ = c.header.Write(&headers)
		if strings.Contains(headers.String(), secret) || bytes.Contains(c.body, []byte(secret)) {
			t.Fatalf("relay %d carried the secret on the wire", i)
		}
	}

	again := func(c captured, body []byte) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, "http://"+b+"/relay", bytes.NewReader(body))
		for _, k := range []string{"Authorization", "Content-Type", "Content-Encoding"} {
			if v := c.header.Get(k); v != "" {
				req.Header.Set(k, v)
			}
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		msg, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(msg)
	}
	// Posted again it is refused: as taken before, or, once a newer relay
	// of a's came, as older than the view held; either way b takes nothing.
	first := taken()[0]
	if status, msg := again(first, first.body); status != http.StatusConflict || !strings.Contains(msg, "taken before") && !strings.Contains(msg, "older") {
		t.Errorf("a captured relay posted again: %d %s, want 409, taken before or older", status, msg)
	}
	changed := slices.Clone(first.body)
	changed[len(changed)-2] ^= 1
	if status, msg := again(first, changed); status != http.StatusUnauthorized || !strings.Contains(msg, "MAC") {
		t.Errorf("a captured relay changed on the way: %d %s, want 401 for its MAC", status, msg)
	}
	families, _ := scrape(t, nodeB)
	replay, _ := sample(families, "mesh_relay_received_total", map[string]string{"result": "replay"})
	stale, _ := sample(families, "mesh_relay_received_total", map[string]string{"result": "stale"})
	signature, _ := sample(families, "mesh_relay_received_total", map[string]string{"result": "signature"})
	if replay+stale < 1 || signature != 1 {
		t.Errorf("b counted %v relays refused as replays, %v as stale and %v for their MAC; want the one posted again and the one changed", replay, stale, signature)
	}
}

// statusRecorder keeps the status a handler answered with.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

// The forger of 2026-12-02, forward-dating: it holds RELAY_SECRET, reads
// node a's views, moves their times 55 s ahead and posts them to b as a,
// once every 200 ms, with sent_at now and then 55 s ahead too. It makes
// its MACs as README says (HKDF-SHA256 of the secret, info "mesh relay
// mac v1"; HMAC-SHA256 of the body as sent, base64url): an outsider's
// implementation of the wire. b refuses every one as dated ahead, and
// keeps taking a's real relays: before, a forged relay dated ahead made
// a's own stale by their times, and b held the forger's word instead.
func TestAForgerDatingRelaysAheadCannotLockANodesRelaysOut(t *testing.T) {
	shareMachine(t, loadOf(3, 100*time.Millisecond))
	const secret = "forger-knows-it"
	nodes := cluster(t, 3, "RELAY_SECRET="+secret)
	a, b := nodes[0], nodes[1]
	f := newForger(t, secret)
	// The forger posts as fast as b answers; on a loaded machine b may
	// answer late (its client gives up) or say it is busy: not taken
	// either. What it answers, it answers 409 ahead.
	forge := func(sentAt, viewsAt time.Time) (int, string) {
		views := map[string]any{}
		for _, n := range nodes {
			if n != a {
				at := viewsAt.UTC().Format(time.RFC3339)
				views[n.name] = map[string]any{"status": "up", "since": at, "last_seen": at, "consecutive_failures": 0}
			}
		}
		body, _ := json.Marshal(map[string]any{"node": a.name, "peers": views, "sent_at": sentAt.UTC().Format("2006-01-02T15:04:05.000Z07:00")})
		return f.post(b, body, false) // a has no key: unsigned, as a's own relays
	}
	began := time.Now()
	forged := 0 // refused as ahead
	for time.Since(began) < 3*time.Second {
		now := time.Now()
		for _, sentAt := range []time.Time{now, now.Add(55 * time.Second)} {
			switch status, msg := forge(sentAt, now.Add(55*time.Second)); {
			case status == http.StatusConflict && strings.Contains(msg, "ahead"):
				forged++
			case status == 0 || status == http.StatusServiceUnavailable:
			default:
				t.Fatalf("a relay forged 55 s ahead, sent at %s: %d %s, want 409, ahead", sentAt.Format("15:04:05"), status, msg)
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	if forged < 5 {
		t.Fatalf("only %d forged relays answered in 3 s", forged)
	}
	eventually(t, 10*time.Second, b.name+" to take a relay of "+a.name+"'s own after the forger began", func() bool {
		s, err := b.state()
		return err == nil && s.Relay[a.name].ReceivedAt != "" && mustParseTime(t, s.Relay[a.name].ReceivedAt).After(began.Add(time.Second))
	})
	s, _ := b.state()
	for name, v := range s.Relay[a.name].Peers {
		if since := mustParseTime(t, v.Since); since.After(time.Now().Add(2 * time.Second)) {
			t.Errorf("%s holds %s's view of %s since %s: the forger's, dated ahead", b.name, a.name, name, v.Since)
		}
	}
	families, _ := scrape(t, b)
	if got, _ := sample(families, "mesh_relay_received_total", map[string]string{"result": "ahead"}); got < float64(forged) {
		t.Errorf("%s counted %v relays refused as ahead, want at least the %d answered so", b.name, got, forged)
	}
}
