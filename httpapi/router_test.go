package httpapi

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/dupunkto/mesh/actors"
	"github.com/dupunkto/mesh/actors/domain"
	"github.com/dupunkto/mesh/actors/fatal"
	"github.com/dupunkto/mesh/config"
	"github.com/dupunkto/mesh/deploy/aggregator"
)

// ownerWith returns a real state owner for peers, running until the test ends.
func ownerWith(t *testing.T, peers ...string) *actors.Owner {
	t.Helper()
	o := actors.NewOwner(actors.OwnerConfig{Node: "nov.mesh.dupunkto.org", Subjects: config.Config{Peers: configPeers(peers...)}.Subjects(), Threshold: 1,
		Boot: time.Date(2026, 6, 6, 12, 42, 0, 0, time.UTC), Log: zerolog.Nop()})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go o.Serve(ctx)
	return o
}

// configPeers returns the peers of these names, as config.ParsePeers would.
func configPeers(names ...string) []config.Peer {
	peers := make([]config.Peer, len(names))
	for i, name := range names {
		peers[i] = config.Peer{Name: name, URL: "https://" + name}
	}
	return peers
}

func newTestServer(t *testing.T, state SnapshotSource) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(NewRouter(Options{State: state, AggregatorURL: "https://agg.example/page", Log: zerolog.Nop()}))
	t.Cleanup(srv.Close)
	return srv
}

type response struct {
	status int
	header http.Header
	body   string
}

func do(t *testing.T, method, url string, header map[string]string, body string) response {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{resp.StatusCode, resp.Header, string(b)}
}

func TestRootRedirectsToTheAggregator(t *testing.T) {
	srv := newTestServer(t, ownerWith(t))
	r := do(t, "GET", srv.URL+"/", nil, "")
	if r.status != http.StatusFound || r.header.Get("Location") != "https://agg.example/page" {
		t.Fatalf("GET / = %d to %q, want 302 to the aggregator", r.status, r.header.Get("Location"))
	}
	if r := do(t, "HEAD", srv.URL+"/", nil, ""); r.status != http.StatusFound || r.header.Get("Location") != "https://agg.example/page" {
		t.Fatalf("HEAD / = %d to %q, want as GET", r.status, r.header.Get("Location"))
	}
}

func TestPingAnswersPong(t *testing.T) {
	srv := newTestServer(t, ownerWith(t))
	r := do(t, "GET", srv.URL+"/ping", map[string]string{"Origin": "https://agg.example"}, "")
	var body map[string]any
	if err := json.Unmarshal([]byte(r.body), &body); err != nil || r.status != 200 || body["pong"] != true || len(body) != 1 {
		t.Fatalf("GET /ping = %d %s", r.status, r.body)
	}
	if r.header.Get("Content-Type") != "application/json" || r.header.Get("Access-Control-Allow-Origin") != "*" {
		t.Fatalf("GET /ping headers %v", r.header)
	}
}

func TestStateIsTheSeedsShape(t *testing.T) {
	o := ownerWith(t, "dec.mesh.dupunkto.org", "oct.mesh.dupunkto.org")
	at := time.Date(2026, 6, 6, 13, 1, 30, 0, time.UTC)
	if err := o.Report(t.Context(), domain.ProbeResult{Subject: domain.Peer("dec.mesh.dupunkto.org"), At: at, OK: true, RTT: 1234567 * time.Nanosecond}); err != nil {
		t.Fatal(err)
	}
	srv := newTestServer(t, o)
	var r response
	for { // the owner publishes asynchronously; wait for its snapshot
		r = do(t, "GET", srv.URL+"/state", map[string]string{"Origin": "https://agg.example"}, "")
		if strings.Contains(r.body, `"up"`) {
			break
		}
	}
	// The seed's shape plus rtt_ms, which the seed's aggregator ignores...
	want := `{"node":"nov.mesh.dupunkto.org","peers":{` +
		`"dec.mesh.dupunkto.org":{"status":"up","since":"2026-06-06T13:01:30Z","last_seen":"2026-06-06T13:01:30Z","consecutive_failures":0,"rtt_ms":1.234},` +
		`"oct.mesh.dupunkto.org":{"status":"unknown","since":"2026-06-06T12:42:00Z","last_seen":null,"consecutive_failures":0,"rtt_ms":null}},"relay":{},` +
		// And the cluster's verdicts, which it ignores too: from this node alone here.
		`"cluster":{"dec.mesh.dupunkto.org":{"status":"up","down_from":[],"up_from":["nov.mesh.dupunkto.org"]},` +
		`"oct.mesh.dupunkto.org":{"status":"partial","down_from":[],"up_from":[]}},` +
		// And whether this node is cut off from its own network.
		`"isolated":false}`
	if r.status != 200 || r.body != want {
		t.Fatalf("GET /state = %d\n got %s\nwant %s", r.status, r.body, want)
	}
	if r.header.Get("Access-Control-Allow-Origin") != "*" || r.header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET /state headers %v", r.header)
	}
}

func TestPreflightIsAnsweredOnReadableEndpoints(t *testing.T) {
	srv := newTestServer(t, ownerWith(t))
	for _, path := range []string{"/ping", "/state"} {
		r := do(t, "OPTIONS", srv.URL+path, map[string]string{"Origin": "https://agg.example", "Access-Control-Request-Method": "GET"}, "")
		if r.status/100 != 2 || r.header.Get("Access-Control-Allow-Origin") != "*" || !strings.Contains(r.header.Get("Access-Control-Allow-Methods"), "GET") {
			t.Errorf("OPTIONS %s = %d %v, want a CORS preflight answer", path, r.status, r.header)
		}
	}
}

func TestErrorsAreJSON(t *testing.T) {
	srv := newTestServer(t, ownerWith(t))
	cases := []struct {
		name, method, path string
		status             int
		allow              string
	}{
		{"an unknown path is a 404", "GET", "/nope", 404, ""},
		{"a wrong method is a 405 that says what is allowed", "DELETE", "/state", 405, "GET"},
		{"POST to /ping is a 405", "POST", "/ping", 405, "GET"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := do(t, tc.method, srv.URL+tc.path, nil, "")
			var body struct{ Error string }
			if err := json.Unmarshal([]byte(r.body), &body); err != nil || body.Error == "" {
				t.Fatalf("%s %s body %q is not a JSON error", tc.method, tc.path, r.body)
			}
			if r.status != tc.status || r.header.Get("Content-Type") != "application/json" {
				t.Fatalf("%s %s = %d %v", tc.method, tc.path, r.status, r.header)
			}
			if tc.allow != "" && !strings.Contains(strings.Join(r.header.Values("Allow"), ","), tc.allow) {
				t.Fatalf("Allow = %v, want it to list %s", r.header.Values("Allow"), tc.allow)
			}
		})
	}
}

type panickingState struct{}

func (panickingState) Snapshot() *domain.Snapshot { panic("snapshot exploded") }

func TestAPanickingHandlerGivesAJSON500AndTheServerLivesOn(t *testing.T) {
	srv := newTestServer(t, panickingState{})
	r := do(t, "GET", srv.URL+"/state", nil, "")
	if r.status != 500 || !strings.Contains(r.body, `"error"`) {
		t.Fatalf("GET /state = %d %s, want a JSON 500", r.status, r.body)
	}
	if r := do(t, "GET", srv.URL+"/ping", nil, ""); r.status != 200 {
		t.Fatalf("the server did not survive the panic: /ping = %d", r.status)
	}
}

func TestServerServesUntilItsContextEnds(t *testing.T) {
	s := NewServer("127.0.0.1:0", NewRouter(Options{State: ownerWith(t), Log: zerolog.Nop()}), zerolog.Nop())
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	for s.Addr() == "" {
		time.Sleep(time.Millisecond) // waiting for a listener, not for a race
	}
	if r := do(t, "GET", "http://"+s.Addr()+"/ping", nil, ""); r.status != 200 {
		t.Fatalf("/ping = %d", r.status)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Serve returned %v, want context.Canceled", err)
	}
	if _, err := net.Dial("tcp", s.Addr()); err == nil {
		t.Fatal("still listening after the context ended")
	}
}

func TestServerThatCannotListenStopsTheNode(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	err = NewServer(taken.Addr().String(), http.NotFoundHandler(), zerolog.Nop()).Serve(t.Context())
	code, fatal := fatal.ExitCode(err)
	if !fatal || code != ExitListen || !strings.Contains(err.Error(), "address already in use") {
		t.Fatalf("Serve on a taken port returned %v, want a fatal error with exit code %d", err, ExitListen)
	}
}

func startServer(t *testing.T) *Server {
	t.Helper()
	s := NewServer("127.0.0.1:0", NewRouter(Options{State: ownerWith(t), Log: zerolog.Nop()}), zerolog.Nop())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = s.Serve(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	for s.Addr() == "" {
		time.Sleep(time.Millisecond) // waiting for a listener, not for a race
	}
	return s
}

func TestHeadersOver64KiBAreRefusedWith431(t *testing.T) {
	s := startServer(t)
	r := do(t, "GET", "http://"+s.Addr()+"/ping", map[string]string{"X-Big": strings.Repeat("a", 70<<10)}, "")
	if r.status != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("a 70 KiB header got %d, want 431", r.status)
	}
	if r := do(t, "GET", "http://"+s.Addr()+"/ping", map[string]string{"X-Fine": strings.Repeat("a", 32<<10)}, ""); r.status != 200 {
		t.Fatalf("a 32 KiB header got %d, want 200", r.status)
	}
}

func TestHistoryListsTransitionsAndUptime(t *testing.T) {
	o := ownerWith(t, "dec.mesh.dupunkto.org", "oct.mesh.dupunkto.org")
	start := time.Now().Add(-time.Hour)
	for _, r := range []domain.ProbeResult{
		{Subject: domain.Peer("dec.mesh.dupunkto.org"), At: start, OK: true},
		{Subject: domain.Peer("dec.mesh.dupunkto.org"), At: start.Add(45 * time.Minute), OK: false}, // threshold 1: down
	} {
		if err := o.Report(t.Context(), r); err != nil {
			t.Fatal(err)
		}
	}
	srv := newTestServer(t, o)
	var doc struct {
		Node  string
		Peers map[string]struct {
			Transitions []struct{ Status, At string }
			Uptime      map[string]*float64
		}
	}
	for {
		r := do(t, "GET", srv.URL+"/history", map[string]string{"Origin": "https://agg.example"}, "")
		if r.status != 200 || r.header.Get("Access-Control-Allow-Origin") != "*" {
			t.Fatalf("GET /history = %d %v", r.status, r.header)
		}
		if err := json.Unmarshal([]byte(r.body), &doc); err != nil {
			t.Fatal(err)
		}
		if len(doc.Peers["dec.mesh.dupunkto.org"].Transitions) == 2 {
			break // the owner has applied both results
		}
	}
	dec := doc.Peers["dec.mesh.dupunkto.org"]
	if doc.Node != "nov.mesh.dupunkto.org" || dec.Transitions[0].Status != "up" || dec.Transitions[1].Status != "down" ||
		dec.Transitions[0].At != start.UTC().Format(time.RFC3339) {
		t.Fatalf("history %+v", doc)
	}
	for _, w := range []string{"24h", "7d", "30d"} {
		if u := dec.Uptime[w]; u == nil || *u < 0.74 || *u > 0.76 {
			t.Fatalf("uptime[%s] = %v, want 0.75 (up 45 of 60 minutes)", w, u)
		}
	}
	oct := doc.Peers["oct.mesh.dupunkto.org"]
	if len(oct.Transitions) != 0 || oct.Uptime["24h"] != nil {
		t.Fatalf("a peer never known has %+v, want no transitions and null uptime", oct)
	}
	if r := do(t, "OPTIONS", srv.URL+"/history", map[string]string{"Origin": "https://agg.example", "Access-Control-Request-Method": "GET"}, ""); r.header.Get("Access-Control-Allow-Origin") != "*" {
		t.Fatalf("no CORS preflight on /history: %v", r.header)
	}
}

func TestPageIsServedAtUIWithItsSecurityHeaders(t *testing.T) {
	ui := http.NewServeMux()
	ui.HandleFunc("/index.html", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "<title>page</title>") })
	ui.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "page root") })
	srv := httptest.NewServer(NewRouter(Options{State: ownerWith(t), UI: ui, Log: zerolog.Nop()}))
	defer srv.Close()
	r := do(t, "GET", srv.URL+"/ui/", nil, "")
	if r.status != 200 || r.body != "page root" {
		t.Fatalf("GET /ui/ = %d %q", r.status, r.body)
	}
	if !strings.Contains(r.header.Get("Content-Security-Policy"), "script-src 'self'") || r.header.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("GET /ui/ headers %v", r.header)
	}
	if r := do(t, "GET", srv.URL+"/ui", nil, ""); r.status != http.StatusMovedPermanently || r.header.Get("Location") != "/ui/" {
		t.Fatalf("GET /ui = %d to %q", r.status, r.header.Get("Location"))
	}
	if r := do(t, "HEAD", srv.URL+"/ui/", nil, ""); r.status != 200 {
		t.Fatalf("HEAD /ui/ = %d", r.status)
	}
}

// A file the page does not have is a JSON 404, as every other error is.
func TestAPageFileThatIsNotThereIsAJSON404(t *testing.T) {
	srv := httptest.NewServer(NewRouter(Options{State: ownerWith(t), UI: aggregator.Handler(), Log: zerolog.Nop()}))
	defer srv.Close()
	r := do(t, "GET", srv.URL+"/ui/nope.js", nil, "")
	var body map[string]string
	if r.status != http.StatusNotFound || r.header.Get("Content-Type") != "application/json" || json.Unmarshal([]byte(r.body), &body) != nil || body["error"] == "" {
		t.Fatalf("GET /ui/nope.js = %d %q %q, want a JSON 404", r.status, r.header.Get("Content-Type"), r.body)
	}
	if r := do(t, "GET", srv.URL+"/ui/app.mjs", nil, ""); r.status != 200 || !strings.Contains(r.body, "import") {
		t.Fatalf("GET /ui/app.mjs = %d", r.status)
	}
}

func TestStateAndHistoryAreGzippedForClientsThatAcceptIt(t *testing.T) {
	peers := make([]string, 50)
	for i := range peers {
		peers[i] = fmt.Sprintf("peer-%02d.mesh.example", i)
	}
	srv := newTestServer(t, ownerWith(t, peers...))
	for _, path := range []string{"/state", "/history"} {
		plain := do(t, "GET", srv.URL+path, map[string]string{"Accept-Encoding": "identity"}, "")
		if plain.status != 200 || plain.header.Get("Content-Encoding") != "" {
			t.Fatalf("GET %s without gzip: %d, Content-Encoding %q", path, plain.status, plain.header.Get("Content-Encoding"))
		}
		zipped := do(t, "GET", srv.URL+path, map[string]string{"Accept-Encoding": "gzip"}, "")
		if zipped.status != 200 || zipped.header.Get("Content-Encoding") != "gzip" || !strings.Contains(strings.Join(zipped.header.Values("Vary"), ","), "Accept-Encoding") {
			t.Fatalf("GET %s with gzip: %d, headers %v", path, zipped.status, zipped.header)
		}
		zr, err := gzip.NewReader(strings.NewReader(zipped.body))
		if err != nil {
			t.Fatal(err)
		}
		unzipped, err := io.ReadAll(zr)
		if err != nil {
			t.Fatal(err)
		}
		if path == "/state" && string(unzipped) != plain.body {
			t.Fatalf("GET /state gzipped differs from plain:\n%s\n%s", unzipped, plain.body)
		}
		if !json.Valid(unzipped) || len(zipped.body) >= len(plain.body)/3 {
			t.Fatalf("GET %s: %d bytes gzipped from %d plain", path, len(zipped.body), len(plain.body))
		}
	}
}

func TestAcceptsGzip(t *testing.T) {
	for header, want := range map[string]bool{
		"":                         false,
		"gzip":                     true,
		"GZIP":                     true,
		"deflate, gzip;q=0.5":      true,
		"br;q=1.0, gzip;q=0":       false,
		"gzip;q=0.000":             false,
		"*":                        true,
		"identity":                 false,
		"x-gzip":                   true,
		"gzip ; q=0.001":           true,
		"compress, br":             false,
		"gzip;q=0, *;q=0, deflate": false,
	} {
		if got := acceptsGzip([]string{header}); got != want {
			t.Errorf("Accept-Encoding %q: gzip %v, want %v", header, got, want)
		}
	}
}
