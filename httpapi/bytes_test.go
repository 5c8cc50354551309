package httpapi

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/rs/zerolog"

	"github.com/dupunkto/mesh/actors/domain"
)

// byteTally is a ByteCounter that keeps what it was told.
type byteTally struct {
	mu      sync.Mutex
	byRoute map[string]int
}

func (b *byteTally) ResponseBytes(route string, n int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.byRoute[route] += n
}

// Each response's body bytes, as they went on the wire, are counted under
// its route's pattern; requests no route takes under "other", whatever
// their path.
func TestResponseBytesAreCountedByRoute(t *testing.T) {
	tally := &byteTally{byRoute: map[string]int{}}
	ui := http.FileServerFS(fstest.MapFS{"app.mjs": {Data: []byte("export {}\n")}})
	srv := httptest.NewServer(NewRouter(Options{State: ownerWith(t, "a.example"), UI: ui, ByteCounter: tally, Log: zerolog.Nop()}))
	defer srv.Close()
	want := map[string]int{}
	get := func(path, route string, gzip bool) {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		// Set by hand, so that the transport leaves the body as it came.
		req.Header.Set("Accept-Encoding", "identity")
		if gzip {
			req.Header.Set("Accept-Encoding", "gzip")
		}
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		want[route] += len(body)
	}
	get("/state", "/state", false)
	get("/state", "/state", true)
	get("/history", "/history", true)
	get("/ui/app.mjs", "/ui/*", false)
	get("/nope/1", "other", false)
	get("/nope/2", "other", false)
	srv.Close() // waits for every handler, and so every count, to end
	tally.mu.Lock()
	defer tally.mu.Unlock()
	for route, n := range want {
		if tally.byRoute[route] != n || n == 0 {
			t.Errorf("%s: counted %d bytes, the client got %d", route, tally.byRoute[route], n)
		}
	}
	for route := range tally.byRoute {
		if _, ok := want[route]; !ok {
			t.Errorf("counted under %q, which is no route", route)
		}
	}
}

// fixedSnapshot always returns one snapshot.
type fixedSnapshot struct{ s *domain.Snapshot }

func (f fixedSnapshot) Snapshot() *domain.Snapshot { return f.s }

// /state?relays=none is the node's own view alone: what the page reads
// from every node, without the views relayed to it; plain /state keeps
// them, as the seed's did.
func TestStateWithoutRelaysIsTheOwnViewAlone(t *testing.T) {
	t0 := time.Date(2026, 11, 26, 3, 0, 0, 0, time.UTC)
	view := domain.PeerView{Status: domain.StatusUp, Since: t0, LastSeen: t0}
	snap := domain.NewSnapshot("nov", []*domain.Entry{domain.NewEntry(domain.Peer("dec"), view, domain.History{})},
		map[string]*domain.RelayCopy{"dec": domain.NewRelayCopy(t0, map[string]domain.PeerView{"nov": view})})
	srv := httptest.NewServer(NewRouter(Options{State: fixedSnapshot{snap}, Log: zerolog.Nop()}))
	defer srv.Close()
	read := func(path string) map[string]json.RawMessage {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var doc map[string]json.RawMessage
		if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
			t.Fatal(err)
		}
		return doc
	}
	full, own := read("/state"), read("/state?relays=none")
	if !strings.Contains(string(full["relay"]), `"dec"`) || string(own["relay"]) != "{}" {
		t.Fatalf("relay of /state %s, of /state?relays=none %s", full["relay"], own["relay"])
	}
	if string(full["peers"]) != string(own["peers"]) || string(own["node"]) != `"nov"` {
		t.Fatalf("the own view differs: %s vs %s", full["peers"], own["peers"])
	}
}
