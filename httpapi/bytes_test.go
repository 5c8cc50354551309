package httpapi

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/rs/zerolog"
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
