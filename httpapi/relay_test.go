package httpapi

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rs/zerolog"

	"github.com/dupunkto/mesh/actors"
	"github.com/dupunkto/mesh/actors/domain"
	"github.com/dupunkto/mesh/actors/wire"
)

const secret = "s3cret-relay"

// seedRelayOf returns the relay payload exactly as the seed document shows
// it, from package wire's golden files.
func seedRelayOf(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../actors/wire/testdata/seed_relay.json")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// relayNode is a router for nov.mesh.dupunkto.org, whose peers are dec and
// oct, backed by a real state owner.
func relayNode(t *testing.T, relaySecret string) (*httptest.Server, *actors.Owner) {
	t.Helper()
	o := ownerWith(t, "dec.mesh.dupunkto.org", "oct.mesh.dupunkto.org")
	srv := httptest.NewServer(NewRouter(Options{State: o, AggregatorURL: "/", RelaySecret: relaySecret,
		Peers: configPeers("dec.mesh.dupunkto.org", "oct.mesh.dupunkto.org"), Relays: o, Log: zerolog.Nop()}))
	t.Cleanup(srv.Close)
	return srv, o
}

func postRelay(t *testing.T, url, auth, body string) response {
	t.Helper()
	h := map[string]string{"Content-Type": "application/json"}
	if auth != "" {
		h["Authorization"] = auth
	}
	return do(t, "POST", url+"/relay", h, body)
}

func peerJSON(status, since, lastSeen, failures string) string {
	return fmt.Sprintf(`{"status":%s,"since":%s,"last_seen":%s,"consecutive_failures":%s}`, status, since, lastSeen, failures)
}

func relayWith(node, peerName, peer string) string {
	return fmt.Sprintf(`{"node":%s,"peers":{%q:%s}}`, node, peerName, peer)
}

var goodPeer = peerJSON(`"up"`, `"2026-06-06T12:42:00Z"`, `"2026-06-06T13:01:28Z"`, "0")

// A node added to the cluster before this node's PEERS lists it: its
// relays are refused, and the operator is told once, by its name, at warn.
func TestARelayFromANodeOutsidePeersIsWarnedAboutOnce(t *testing.T) {
	var logs bytes.Buffer
	o := ownerWith(t, "dec.mesh.dupunkto.org")
	srv := httptest.NewServer(NewRouter(Options{State: o, AggregatorURL: "/", RelaySecret: secret,
		Peers: configPeers("dec.mesh.dupunkto.org"), Relays: o, Log: zerolog.New(&logs)}))
	t.Cleanup(srv.Close)
	seedRelay := seedRelayOf(t)
	stranger := strings.Replace(seedRelay, "dec.mesh", "new.mesh", 1)
	for range 3 {
		if r := postRelay(t, srv.URL, secret, stranger); r.status != 403 {
			t.Fatalf("a relay from outside PEERS: %d, want 403", r.status)
		}
	}
	lines := strings.Count(logs.String(), `"level":"warn"`)
	if lines != 1 || !strings.Contains(logs.String(), `"peer":"new.mesh.dupunkto.org"`) || !strings.Contains(logs.String(), "add it to PEERS") {
		t.Fatalf("%d warn lines, want one naming the stranger: %s", lines, logs.String())
	}
	// A sender of made-up names grows nothing past the bound.
	for i := range 2 * maxWarned {
		postRelay(t, srv.URL, secret, strings.Replace(seedRelay, "dec.mesh", fmt.Sprintf("n%d.mesh", i), 1))
	}
	if n := strings.Count(logs.String(), `"level":"warn"`); n != maxWarned {
		t.Fatalf("%d warn lines after %d made-up names, want %d", n, 2*maxWarned, maxWarned)
	}
}

func TestRelayRefusals(t *testing.T) {
	seedRelay := seedRelayOf(t)
	manyPeers := func(n int) string {
		var b strings.Builder
		b.WriteString(`{"node":"dec.mesh.dupunkto.org","peers":{`)
		for i := range n {
			if i > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, `"p%d.example":%s`, i, goodPeer)
		}
		b.WriteString("}}")
		return b.String()
	}
	cases := []struct {
		name    string
		secret  string // the node's RELAY_SECRET
		auth    string
		body    string
		status  int
		message string // the error must contain it
	}{
		{"relaying disabled on this node", "", secret, seedRelay, 403, "disabled"},
		{"relaying disabled wins over a missing secret", "", "", seedRelay, 403, "disabled"},
		{"no Authorization header", secret, "", seedRelay, 401, "secret"},
		{"a wrong secret", secret, "nope", seedRelay, 401, "secret"},
		{"a wrong bearer token", secret, "Bearer nope", seedRelay, 401, "secret"},
		{"the secret with a prefix", secret, "Basic " + secret, seedRelay, 401, "secret"},
		{"a body over 1 MiB", secret, secret, `{"node":"` + strings.Repeat("a", 1<<20) + `"}`, 413, "1 MiB"},
		{"not JSON", secret, secret, "hello", 400, "JSON"},
		{"a JSON array", secret, secret, "[1,2]", 400, "JSON"},
		{"truncated JSON", secret, secret, seedRelay[:40], 400, "JSON"},
		{"no node", secret, secret, `{"peers":{}}`, 400, "node"},
		{"an empty node", secret, secret, `{"node":"","peers":{}}`, 400, "node"},
		{"a node that is a number", secret, secret, `{"node":7,"peers":{}}`, 400, "node"},
		{"a node that is not a host", secret, secret, `{"node":"<b>x</b>","peers":{}}`, 400, "node"},
		{"no peers", secret, secret, `{"node":"dec.mesh.dupunkto.org"}`, 400, "peers"},
		{"peers that are a list", secret, secret, `{"node":"dec.mesh.dupunkto.org","peers":[]}`, 400, "peers"},
		{"a peer name that is not a host", secret, secret, relayWith(`"dec.mesh.dupunkto.org"`, "a b", goodPeer), 400, `peers["a b"]: name`},
		{"a peer name of 254 characters", secret, secret, relayWith(`"dec.mesh.dupunkto.org"`, strings.Repeat("a.", 127), goodPeer), 400, "253"},
		{"a peer that is not an object", secret, secret, relayWith(`"dec.mesh.dupunkto.org"`, "x.example", `"up"`), 400, `peers["x.example"]`},
		{"an unknown status", secret, secret, relayWith(`"dec.mesh.dupunkto.org"`, "x.example", peerJSON(`"sideways"`, `"2026-06-06T12:42:00Z"`, "null", "0")), 400, `peers["x.example"].status`},
		{"a missing status", secret, secret, relayWith(`"dec.mesh.dupunkto.org"`, "x.example", `{"since":"2026-06-06T12:42:00Z","last_seen":null,"consecutive_failures":0}`), 400, "status"},
		{"a since that is not RFC 3339", secret, secret, relayWith(`"dec.mesh.dupunkto.org"`, "x.example", peerJSON(`"up"`, `"yesterday"`, "null", "0")), 400, `peers["x.example"].since`},
		{"a missing since", secret, secret, relayWith(`"dec.mesh.dupunkto.org"`, "x.example", `{"status":"up","last_seen":null,"consecutive_failures":0}`), 400, "since"},
		{"a last_seen that is not a time", secret, secret, relayWith(`"dec.mesh.dupunkto.org"`, "x.example", peerJSON(`"up"`, `"2026-06-06T12:42:00Z"`, "5", "0")), 400, "last_seen"},
		{"negative failures", secret, secret, relayWith(`"dec.mesh.dupunkto.org"`, "x.example", peerJSON(`"up"`, `"2026-06-06T12:42:00Z"`, "null", "-1")), 400, "consecutive_failures"},
		{"fractional failures", secret, secret, relayWith(`"dec.mesh.dupunkto.org"`, "x.example", peerJSON(`"up"`, `"2026-06-06T12:42:00Z"`, "null", "1.5")), 400, "consecutive_failures"},
		{"failures as a string", secret, secret, relayWith(`"dec.mesh.dupunkto.org"`, "x.example", peerJSON(`"up"`, `"2026-06-06T12:42:00Z"`, "null", `"3"`)), 400, "consecutive_failures"},
		{"missing failures", secret, secret, relayWith(`"dec.mesh.dupunkto.org"`, "x.example", `{"status":"up","since":"2026-06-06T12:42:00Z","last_seen":null}`), 400, "consecutive_failures"},
		{"a negative rtt_ms", secret, secret, relayWith(`"dec.mesh.dupunkto.org"`, "x.example", `{"status":"up","since":"2026-06-06T12:42:00Z","last_seen":null,"consecutive_failures":0,"rtt_ms":-1}`), 400, "rtt_ms"},
		{"an rtt_ms that is a string", secret, secret, relayWith(`"dec.mesh.dupunkto.org"`, "x.example", `{"status":"up","since":"2026-06-06T12:42:00Z","last_seen":null,"consecutive_failures":0,"rtt_ms":"fast"}`), 400, "rtt_ms"},
		{"an rtt_ms over a day", secret, secret, relayWith(`"dec.mesh.dupunkto.org"`, "x.example", `{"status":"up","since":"2026-06-06T12:42:00Z","last_seen":null,"consecutive_failures":0,"rtt_ms":1e300}`), 400, "rtt_ms"},
		{"more than 1000 peers", secret, secret, manyPeers(1001), 400, "1000"},
		{"a sender that is not a peer", secret, secret, strings.Replace(seedRelay, "dec.mesh", "evil.mesh", 1), 403, "not one of this node's peers"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv, o := relayNode(t, tc.secret)
			r := postRelay(t, srv.URL, tc.auth, tc.body)
			var body struct{ Error string }
			if err := json.Unmarshal([]byte(r.body), &body); err != nil {
				t.Fatalf("answer %d %q is not a JSON error", r.status, r.body)
			}
			if r.status != tc.status || !strings.Contains(body.Error, tc.message) {
				t.Fatalf("answer %d %q, want %d mentioning %q", r.status, body.Error, tc.status, tc.message)
			}
			if len(body.Error) > 300 {
				t.Fatalf("the error echoes the input: %d characters", len(body.Error))
			}
			// A refused relay stores nothing, even once the owner has caught up.
			if err := o.StoreRelay(t.Context(), "oct.mesh.dupunkto.org", domain.NewRelayCopy(time.Now(), nil)); err != nil {
				t.Fatal(err)
			}
			for o.Snapshot().RelayCount() == 0 {
				time.Sleep(time.Millisecond) // the owner applies the marker relay
			}
			if s := o.Snapshot(); s.RelayCount() != 1 || !hasRelay(s, "oct.mesh.dupunkto.org") {
				t.Fatalf("%d relays after a refused request", s.RelayCount())
			}
		})
	}
}

func TestRelayIsAuthorisedBeforeTheBodyIsRead(t *testing.T) {
	o := ownerWith(t, "dec.mesh.dupunkto.org")
	h := NewRouter(Options{State: o, RelaySecret: secret, Peers: configPeers("dec.mesh.dupunkto.org"), Relays: o, Log: zerolog.Nop()})
	req := httptest.NewRequest("POST", "/relay", tripwire{t})
	req.Header.Set("Authorization", "wrong")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 401 {
		t.Fatalf("status %d, want 401", rec.Code)
	}
}

// tripwire is a request body that fails the test if anyone reads it.
type tripwire struct{ t *testing.T }

func (w tripwire) Read([]byte) (int, error) {
	w.t.Error("the body was read before the secret was checked")
	return 0, fmt.Errorf("tripwire")
}

func TestChunkedBodyOver1MiBIs413(t *testing.T) {
	srv, _ := relayNode(t, secret)
	req, _ := http.NewRequest("POST", srv.URL+"/relay", strings.NewReader(strings.Repeat(" ", 1<<20+10)))
	req.ContentLength = -1 // chunked: the size is only known by reading
	req.Header.Set("Authorization", secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 413 {
		t.Fatalf("status %d, want 413", resp.StatusCode)
	}
}

func TestSeedRelayIsStoredAndShownInTheSeedsShape(t *testing.T) {
	seedRelay := seedRelayOf(t)
	for _, auth := range []string{secret, "Bearer " + secret} {
		t.Run(auth, func(t *testing.T) {
			srv, o := relayNode(t, secret)
			before := time.Now().UTC().Truncate(time.Second)
			r := postRelay(t, srv.URL, auth, seedRelay)
			if r.status != 200 {
				t.Fatalf("seed relay answered %d %s", r.status, r.body)
			}
			for o.Snapshot().RelayCount() == 0 {
				time.Sleep(time.Millisecond) // the owner applies it in its own time
			}
			var got map[string]any
			if err := json.Unmarshal([]byte(do(t, "GET", srv.URL+"/state", nil, "").body), &got); err != nil {
				t.Fatal(err)
			}
			relay := got["relay"].(map[string]any)["dec.mesh.dupunkto.org"].(map[string]any)
			at, err := time.Parse(time.RFC3339, relay["received_at"].(string))
			if err != nil || at.Before(before) || !strings.HasSuffix(relay["received_at"].(string), "Z") {
				t.Fatalf("received_at %v, want this moment in RFC 3339 UTC", relay["received_at"])
			}
			var seed map[string]any
			_ = json.Unmarshal([]byte(seedRelay), &seed)
			// The seed's nodes send no rtt_ms; it shows as null.
			for _, v := range seed["peers"].(map[string]any) {
				v.(map[string]any)["rtt_ms"] = nil
			}
			if !reflect.DeepEqual(relay["peers"], seed["peers"]) || len(relay) != 2 {
				t.Fatalf("relay entry %v, want received_at and the seed's peers %v", relay, seed["peers"])
			}
			own := got["peers"].(map[string]any)["dec.mesh.dupunkto.org"].(map[string]any)
			if own["status"] != "unknown" {
				t.Fatalf("the relay changed this node's own view: %v", own)
			}
		})
	}
}

func TestRelayIgnoresUnknownFieldsAndCaseOfNames(t *testing.T) {
	srv, o := relayNode(t, secret)
	body := `{"node":"DEC.mesh.dupunkto.org","version":3,"peers":{"Nov.mesh.dupunkto.org":{"status":"down","since":"2026-06-06T14:42:00+02:00","last_seen":null,"consecutive_failures":5,"rtt_ms":12}}}`
	if r := postRelay(t, srv.URL, secret, body); r.status != 200 {
		t.Fatalf("answer %d %s", r.status, r.body)
	}
	for o.Snapshot().RelayCount() == 0 {
		time.Sleep(time.Millisecond)
	}
	r, _ := o.Snapshot().Relay("dec.mesh.dupunkto.org")
	v, _ := r.Peer("nov.mesh.dupunkto.org")
	if v.Status != domain.StatusDown || v.ConsecutiveFailures != 5 || !v.LastSeen.IsZero() || !v.Since.Equal(time.Date(2026, 6, 6, 12, 42, 0, 0, time.UTC)) {
		t.Fatalf("stored %+v", v)
	}
}

func TestRelaySendsNoCORSHeaders(t *testing.T) {
	seedRelay := seedRelayOf(t)
	srv, _ := relayNode(t, secret)
	r := do(t, "POST", srv.URL+"/relay", map[string]string{"Origin": "https://evil.example", "Authorization": secret}, seedRelay)
	if r.status != 200 || r.header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("POST /relay = %d with CORS %q", r.status, r.header.Get("Access-Control-Allow-Origin"))
	}
	r = do(t, "OPTIONS", srv.URL+"/relay", map[string]string{"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}, "")
	if r.status != 405 || r.header.Get("Access-Control-Allow-Origin") != "" || r.header.Get("Access-Control-Allow-Methods") != "" {
		t.Fatalf("preflight of /relay = %d %v, want a 405 without CORS", r.status, r.header)
	}
	if r := do(t, "GET", srv.URL+"/relay", nil, ""); r.status != 405 {
		t.Fatalf("GET /relay = %d, want 405", r.status)
	}
}

func hasRelay(s *domain.Snapshot, node string) bool {
	_, ok := s.Relay(node)
	return ok
}

// A relay replayed, or overtaken on the way by the next one, is older by
// its own times than the view held: it is refused and changes nothing.
func TestAnOlderRelayDoesNotReplaceANewerOne(t *testing.T) {
	srv, o := relayNode(t, secret)
	relayAt := func(lastSeen string) string {
		return relayWith(`"dec.mesh.dupunkto.org"`, "nov.mesh.dupunkto.org", peerJSON(`"up"`, `"2026-06-06T12:42:00Z"`, `"`+lastSeen+`"`, "0"))
	}
	if r := postRelay(t, srv.URL, secret, relayAt("2026-06-06T13:05:00Z")); r.status != 200 {
		t.Fatalf("newer relay: %d %s", r.status, r.body)
	}
	for o.Snapshot().RelayCount() == 0 {
		time.Sleep(time.Millisecond) // the owner applies it in its own time
	}
	r := postRelay(t, srv.URL, secret, relayAt("2026-06-06T13:01:00Z"))
	if r.status != 409 || !strings.Contains(r.body, "older") {
		t.Fatalf("older relay: %d %s, want 409", r.status, r.body)
	}
	held, _ := o.Snapshot().Relay("dec.mesh.dupunkto.org")
	if v, _ := held.Peer("nov.mesh.dupunkto.org"); !v.LastSeen.Equal(time.Date(2026, 6, 6, 13, 5, 0, 0, time.UTC)) {
		t.Fatalf("held view %+v, want the newer one kept", v)
	}
	if r := postRelay(t, srv.URL, secret, relayAt("2026-06-06T13:05:00Z")); r.status != 200 {
		t.Fatalf("the same relay again: %d %s, want accepted (nothing older in it)", r.status, r.body)
	}
}

// stuckSink is a state owner that never takes a relay.
type stuckSink struct{}

func (stuckSink) StoreRelay(ctx context.Context, _ string, _ *domain.RelayCopy) error {
	<-ctx.Done()
	return ctx.Err()
}

// counted records what a RelayCounter was told.
type counted struct {
	mu      sync.Mutex
	results []string
}

func (c *counted) RelayReceived(result string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.results = append(c.results, result)
}

func (c *counted) RelayBytes(string, int) {}

// A relay the state owner does not take in time gets 503 and is counted,
// instead of holding its connection (and its decoded body) for as long as
// the sender waits.
func TestARelayTheOwnerCannotTakeGets503InBoundedTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var c counted
		h := NewRouter(Options{State: ownerlessState{}, RelaySecret: secret, Peers: configPeers("dec.mesh.dupunkto.org"),
			Relays: stuckSink{}, RelayCounter: &c, Log: zerolog.Nop()})
		req := httptest.NewRequest("POST", "/relay", strings.NewReader(seedRelayOf(t)))
		req.Header.Set("Authorization", secret)
		rec := httptest.NewRecorder()
		start := time.Now()
		h.ServeHTTP(rec, req)
		if rec.Code != 503 || time.Since(start) != relayAdmitWait {
			t.Fatalf("answer %d after %v, want 503 after %v", rec.Code, time.Since(start), relayAdmitWait)
		}
		if len(c.results) != 1 || c.results[0] != domain.RelayBusy {
			t.Fatalf("counted %v, want one busy", c.results)
		}
	})
}

// At most maxRelaysRead bodies are read at once; the next post waits its
// turn, and gets 503 if the turn does not come within relayAdmitWait.
func TestRelaysBeyondTheReadersWaitThenGet503(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var c counted
		h := NewRouter(Options{State: ownerlessState{}, RelaySecret: secret, Peers: configPeers("dec.mesh.dupunkto.org"),
			Relays: stuckSink{}, RelayCounter: &c, Log: zerolog.Nop()})
		var bodies []*io.PipeWriter
		for range maxRelaysRead {
			pr, pw := io.Pipe() // a body that never ends: its reader holds a slot
			bodies = append(bodies, pw)
			req := httptest.NewRequest("POST", "/relay", pr)
			req.Header.Set("Authorization", secret)
			go h.ServeHTTP(httptest.NewRecorder(), req)
		}
		synctest.Wait()
		req := httptest.NewRequest("POST", "/relay", strings.NewReader(seedRelayOf(t)))
		req.Header.Set("Authorization", secret)
		rec := httptest.NewRecorder()
		start := time.Now()
		h.ServeHTTP(rec, req)
		if rec.Code != 503 || time.Since(start) != relayAdmitWait || !strings.Contains(rec.Body.String(), "too many relays") {
			t.Fatalf("answer %d %s after %v, want 503 after %v", rec.Code, rec.Body, time.Since(start), relayAdmitWait)
		}
		for _, pw := range bodies {
			pw.CloseWithError(io.ErrUnexpectedEOF)
		}
		synctest.Wait()
	})
}

// ownerlessState is a node that holds no relays.
type ownerlessState struct{}

func (ownerlessState) Snapshot() *domain.Snapshot {
	return domain.NewSnapshot("nov.mesh.dupunkto.org", nil, nil)
}

// A node says in every answer to a relay that it takes gzip; a gzipped
// relay is inflated and stored as a plain one would be, and its bytes are
// counted as they came. A body in another encoding gets 415, and one that
// inflates past 1 MiB 413, with nothing stored.
func TestGzippedRelays(t *testing.T) {
	o := ownerWith(t, "dec.mesh.dupunkto.org", "oct.mesh.dupunkto.org")
	tally := &relayBytes{}
	srv := httptest.NewServer(NewRouter(Options{State: o, AggregatorURL: "/", RelaySecret: "s",
		Peers: configPeers("dec.mesh.dupunkto.org", "oct.mesh.dupunkto.org"), Relays: o, RelayCounter: tally, Log: zerolog.Nop()}))
	defer srv.Close()
	post := func(encoding string, body []byte) *http.Response {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/relay", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "s")
		if encoding != "" {
			req.Header.Set("Content-Encoding", encoding)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	gz := func(b []byte) []byte {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		_, _ = zw.Write(b)
		_ = zw.Close()
		return buf.Bytes()
	}
	plain := []byte(relayWith(`"dec.mesh.dupunkto.org"`, "nov.mesh.dupunkto.org", goodPeer))
	body := gz(plain)
	resp := post("gzip", body)
	if resp.StatusCode != http.StatusOK || !wire.Accepts(resp.Header.Get(wire.AcceptRelayHeader), "gzip") {
		t.Fatalf("gzipped relay: %d, %s %q", resp.StatusCode, wire.AcceptRelayHeader, resp.Header.Get(wire.AcceptRelayHeader))
	}
	for deadline := time.Now().Add(10 * time.Second); !hasRelay(o.Snapshot(), "dec.mesh.dupunkto.org"); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) { // the owner applies it in its own time
			t.Fatal("the gzipped relay was not stored")
		}
	}
	if got := tally.received(); got != len(body) {
		t.Fatalf("counted %d bytes received, the wire carried %d", got, len(body))
	}
	if resp := post("br", plain); resp.StatusCode != http.StatusUnsupportedMediaType || !wire.Accepts(resp.Header.Get(wire.AcceptRelayHeader), "gzip") {
		t.Fatalf("a brotli relay: %d, want 415 saying gzip is taken", resp.StatusCode)
	}
	// Two megabytes of spaces inflate from a few kilobytes.
	bomb := append(append([]byte(`{"node":"oct.mesh.dupunkto.org","peers":{}`), bytes.Repeat([]byte(" "), 2<<20)...), '}')
	if resp := post("gzip", gz(bomb)); resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("a gzip bomb: %d, want 413", resp.StatusCode)
	}
	if hasRelay(o.Snapshot(), "oct.mesh.dupunkto.org") {
		t.Fatal("the bomb's sender was stored")
	}
}

// relayBytes is a RelayCounter that keeps the bytes received.
type relayBytes struct {
	mu sync.Mutex
	n  int
}

func (r *relayBytes) RelayReceived(string) {}

func (r *relayBytes) RelayBytes(direction string, n int) {
	if direction == "received" {
		r.mu.Lock()
		r.n += n
		r.mu.Unlock()
	}
}

func (r *relayBytes) received() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n
}

// A delta relay is laid over the views held from its sender: without a
// whole one held it gets 409 (needs_whole), and one that would turn a view
// back to an older one gets 409 (stale); neither changes what is held.
func TestDeltaRelays(t *testing.T) {
	srv, o := relayNode(t, secret)
	const dec = `"dec.mesh.dupunkto.org"`
	view := func(status, since string) string {
		return peerJSON(`"`+status+`"`, `"`+since+`"`, `"2026-06-06T13:01:28Z"`, "0")
	}
	delta := func(peers string) string { return `{"node":` + dec + `,"peers":{` + peers + `},"delta":true}` }
	if r := postRelay(t, srv.URL, secret, delta(`"oct.mesh.dupunkto.org":`+view("down", "2026-06-06T13:00:00Z"))); r.status != http.StatusConflict ||
		!strings.Contains(r.body, "send a whole one") {
		t.Fatalf("a delta with nothing held: %d %s, want 409 asking for a whole relay", r.status, r.body)
	}
	whole := `{"node":` + dec + `,"peers":{"nov.mesh.dupunkto.org":` + view("up", "2026-06-06T12:00:00Z") +
		`,"oct.mesh.dupunkto.org":` + view("up", "2026-06-06T12:00:00Z") + `}}`
	if r := postRelay(t, srv.URL, secret, whole); r.status != http.StatusOK {
		t.Fatalf("whole relay: %d %s", r.status, r.body)
	}
	held := func() map[string]domain.PeerView {
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
			if r, ok := o.Snapshot().Relay("dec.mesh.dupunkto.org"); ok {
				views := map[string]domain.PeerView{}
				for name, v := range r.Peers() {
					views[name] = v
				}
				return views
			}
		}
		t.Fatal("no relay held")
		return nil
	}
	held()
	if r := postRelay(t, srv.URL, secret, delta(`"oct.mesh.dupunkto.org":`+view("down", "2026-06-06T13:00:00Z"))); r.status != http.StatusOK {
		t.Fatalf("delta: %d %s", r.status, r.body)
	}
	var views map[string]domain.PeerView
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		views = held()
		if views["oct.mesh.dupunkto.org"].Status == domain.StatusDown || time.Now().After(deadline) {
			break
		}
	}
	if len(views) != 2 || views["oct.mesh.dupunkto.org"].Status != domain.StatusDown || views["nov.mesh.dupunkto.org"].Status != domain.StatusUp {
		t.Fatalf("after the delta the views held are %+v, want oct down laid over the whole relay", views)
	}
	if r := postRelay(t, srv.URL, secret, delta(`"oct.mesh.dupunkto.org":`+view("up", "2026-06-06T12:30:00Z"))); r.status != http.StatusConflict {
		t.Fatalf("a delta older than the view held: %d %s, want 409", r.status, r.body)
	}
	if views := held(); views["oct.mesh.dupunkto.org"].Status != domain.StatusDown {
		t.Fatalf("a stale delta changed the view held: %+v", views["oct.mesh.dupunkto.org"])
	}
}

// A Mesh node's relay carries a MAC of its body, not the secret: the
// receiver takes it once, refuses it posted again, refuses a body changed
// on the way or a MAC made with another secret, and says in its answer
// that it takes MACs.
func TestRelaysWithAMAC(t *testing.T) {
	srv, o := relayNode(t, secret)
	key := wire.MACKey(secret)
	sentAt := time.Now().Truncate(time.Millisecond)
	body := func(at time.Time) []byte {
		return wire.Stamped([]byte(relayWith(`"dec.mesh.dupunkto.org"`, "nov.mesh.dupunkto.org", goodPeer)), at)
	}
	post := func(auth, encoding string, b []byte) response {
		h := map[string]string{"Content-Type": "application/json", "Authorization": auth}
		if encoding != "" {
			h["Content-Encoding"] = encoding
		}
		return do(t, "POST", srv.URL+"/relay", h, string(b))
	}
	first := body(sentAt)
	if r := post(wire.RelayMAC(key, first), "", first); r.status != 200 || !wire.Accepts(r.header.Get(wire.AcceptRelayHeader), wire.AcceptMAC) {
		t.Fatalf("a relay with its MAC: %d %s, %s %q", r.status, r.body, wire.AcceptRelayHeader, r.header.Get(wire.AcceptRelayHeader))
	}
	for deadline := time.Now().Add(10 * time.Second); !hasRelay(o.Snapshot(), "dec.mesh.dupunkto.org"); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the relay with a MAC was not stored")
		}
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write(body(sentAt.Add(time.Second)))
	_ = zw.Close()
	changed := bytes.Replace(body(sentAt.Add(2*time.Second)), []byte(`"up"`), []byte(`"down"`), 1)
	older := body(sentAt.Add(-replayWindow - time.Second))
	cases := []struct {
		name, auth, encoding string
		body                 []byte
		status               int
		message              string
	}{
		{"gzipped, its MAC of the gzipped bytes", wire.RelayMAC(key, gz.Bytes()), "gzip", gz.Bytes(), 200, ""},
		{"the same relay again", wire.RelayMAC(key, first), "", first, 409, "taken before"},
		{"the body changed on the way", wire.RelayMAC(key, body(sentAt.Add(2*time.Second))), "", changed, 401, "MAC"},
		{"a MAC made with another secret", wire.RelayMAC(wire.MACKey("guess"), body(sentAt.Add(3*time.Second))), "", body(sentAt.Add(3 * time.Second)), 401, "MAC"},
		{"a MAC that is not base64", "Mesh-HMAC-SHA256 !!!", "", body(sentAt.Add(4 * time.Second)), 401, "MAC"},
		{"a relay with a MAC that does not say when it was sent", "", "", []byte(relayWith(`"dec.mesh.dupunkto.org"`, "nov.mesh.dupunkto.org", goodPeer)), 400, "sent_at"},
		{"sent longer before the newest taken than the window", wire.RelayMAC(key, older), "", older, 409, "taken before"},
	}
	for _, c := range cases {
		if c.auth == "" {
			c.auth = wire.RelayMAC(key, c.body)
		}
		if r := post(c.auth, c.encoding, c.body); r.status != c.status || !strings.Contains(r.body, c.message) {
			t.Errorf("%s: %d %s, want %d saying %q", c.name, r.status, r.body, c.status, c.message)
		}
	}
}

// The MACs kept of one sender stay within their bound, however many
// relays a holder of the secret posts within the window, and a relay older
// than those kept is refused; a sender relaying at its rhythm leaves a
// window's worth kept, not the bound's.
func TestTheReplayGuardIsBounded(t *testing.T) {
	g := newReplayGuard()
	at := time.Date(2026, 12, 3, 1, 0, 0, 0, time.UTC)
	mac := func(i int) []byte {
		m := make([]byte, 32)
		copy(m, fmt.Sprint(i))
		return m
	}
	for i := range 3 * maxSeenPerSender {
		if !g.admit("dec", at.Add(time.Duration(i)*time.Millisecond), mac(i)) {
			t.Fatalf("relay %d refused", i)
		}
	}
	if n := len(g.bySender["dec"].seen); n > maxSeenPerSender {
		t.Fatalf("%d MACs kept, want at most %d", n, maxSeenPerSender)
	}
	if g.admit("dec", at.Add(time.Millisecond), mac(-1)) {
		t.Fatal("a relay older than those kept was taken")
	}
	if !g.admit("oct", at, mac(0)) {
		t.Fatal("another sender's relay with the same MAC was refused")
	}
	// A sender relaying once a second for long: a window's worth kept.
	for i := range 1000 {
		g.admit("nov", at.Add(time.Duration(i)*time.Second), mac(i))
	}
	if s := g.bySender["nov"]; len(s.seen) > 61 || len(s.order) > 2*61+1 {
		t.Fatalf("after 1000 relays a second apart, %d MACs kept (%d in order), want a minute's worth", len(s.seen), len(s.order))
	}
}

// A relay dated ahead of this node's clock, beyond maxAhead once its
// sender's clock offset is allowed for, is refused: taken, it would make
// the sender's real relays stale by their own times and lock them out.
// The forger of 2026-12-02 moved a node's times 55 s forward.
func TestARelayDatedAheadIsRefused(t *testing.T) {
	srv, o := relayNode(t, secret)
	key := wire.MACKey(secret)
	post := func(node string, sentAt, viewsAt time.Time) response {
		at := fmt.Sprintf("%q", viewsAt.UTC().Format(time.RFC3339))
		b := wire.Stamped([]byte(relayWith(fmt.Sprintf("%q", node), "nov.mesh.dupunkto.org", peerJSON(`"up"`, at, at, "0"))), sentAt)
		return do(t, "POST", srv.URL+"/relay", map[string]string{"Content-Type": "application/json", "Authorization": wire.RelayMAC(key, b)}, string(b))
	}
	now := time.Now()
	if r := post("oct.mesh.dupunkto.org", now, now.Add(55*time.Second)); r.status != 409 || !strings.Contains(r.body, "ahead") {
		t.Errorf("a first relay whose views are dated 55 s after it was sent: %d %s, want 409 ahead", r.status, r.body)
	}
	if r := post("dec.mesh.dupunkto.org", now, now.Add(-time.Second)); r.status != 200 {
		t.Fatalf("an honest relay: %d %s", r.status, r.body)
	}
	for deadline := time.Now().Add(10 * time.Second); !hasRelay(o.Snapshot(), "dec.mesh.dupunkto.org"); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the honest relay was not stored")
		}
	}
	now = time.Now()
	for _, c := range []struct {
		name            string
		sentAt, viewsAt time.Time
		status          int
	}{
		{"sent 55 s ahead, by the sender's measured offset", now.Add(55 * time.Second), now.Add(55 * time.Second), 409},
		{"sent now, its views 55 s ahead", now, now.Add(55 * time.Second), 409},
		// Refused, it must not have moved the replay guard's floor past
		// the real relays that follow.
		{"sent 10 min ahead", now.Add(10 * time.Minute), now.Add(10 * time.Minute), 409},
		{"sent now, its views now", now.Add(time.Millisecond), now, 200},
	} {
		if r := post("dec.mesh.dupunkto.org", c.sentAt, c.viewsAt); r.status != c.status || (c.status == 409 && !strings.Contains(r.body, "ahead")) {
			t.Errorf("%s: %d %s, want %d", c.name, r.status, r.body, c.status)
		}
	}
}

// A sender's offset measured from slow relays alone (the first after a
// start, stamped before the sender was held up) would make its next, quick
// relays look ahead. They are refused only while the copy held is fresh;
// then one is taken on its own stamp and the offset comes down to its delay.
func TestAnOffsetMeasuredHighComesDownOnceTheCopyIsNoLongerFresh(t *testing.T) {
	o := ownerWith(t, "dec.mesh.dupunkto.org")
	const fresh = 300 * time.Millisecond
	srv := httptest.NewServer(NewRouter(Options{State: o, AggregatorURL: "/", RelaySecret: secret, RelayFresh: fresh,
		Peers: configPeers("dec.mesh.dupunkto.org"), Relays: o, Log: zerolog.Nop()}))
	t.Cleanup(srv.Close)
	key := wire.MACKey(secret)
	post := func(sentAt time.Time) int {
		at := fmt.Sprintf("%q", sentAt.Add(-time.Second).UTC().Format(time.RFC3339))
		b := wire.Stamped([]byte(relayWith(`"dec.mesh.dupunkto.org"`, "nov.mesh.dupunkto.org", peerJSON(`"up"`, at, at, "0"))), sentAt)
		return do(t, "POST", srv.URL+"/relay", map[string]string{"Content-Type": "application/json", "Authorization": wire.RelayMAC(key, b)}, string(b)).status
	}
	if status := post(time.Now().Add(-10 * time.Second)); status != 200 { // ten seconds on the way
		t.Fatalf("a slow relay: %d", status)
	}
	for deadline := time.Now().Add(10 * time.Second); !hasRelay(o.Snapshot(), "dec.mesh.dupunkto.org"); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the slow relay was not stored")
		}
	}
	if status := post(time.Now()); status != 409 {
		t.Fatalf("a quick relay while the slow one's copy is fresh: %d, want 409 (its offset says 10 s ahead)", status)
	}
	time.Sleep(fresh + 100*time.Millisecond) // the copy held is no longer fresh
	if status := post(time.Now()); status != 200 {
		t.Fatalf("a quick relay once the copy is stale: %d, want 200", status)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		if r, ok := o.Snapshot().Relay("dec.mesh.dupunkto.org"); ok {
			if offset, _ := r.MeasuredOffset(); offset < time.Second {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("the offset did not come down")
		}
	}
	time.Sleep(2 * time.Millisecond) // sent_at has milliseconds: two relays stamped in one are the same relay
	if status := post(time.Now()); status != 200 {
		t.Fatalf("a quick relay after the offset came down: %d, want 200", status)
	}
}
