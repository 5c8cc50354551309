package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"testing"
	"time"
)

// A recorder is a webhook sink in a process of its own: it takes every
// POST, notes when it came, and tells the test what it took. It runs apart
// from the test process because that process is busy with the other tests
// side by side: a sink inside it answered the nodes late and dated their
// messages late, and the tests that time messages (a reminder's gap, a
// leave's grace) failed on the test process's load, not on the nodes'.
type recorder struct {
	URL  string
	tell func(line string) string
}

// posted is one POST the recorder took, dated by the recorder's clock (the
// machine's, the one the test reads too).
type posted struct {
	At   time.Time       `json:"at"`
	Path string          `json:"path"`
	Body json.RawMessage `json:"body"`
}

// newRecorderIn runs a recorder inside the namespace ns (on the host when
// ns is "") listening at addr; it stops with the test.
func newRecorderIn(t *testing.T, ns, addr string) *recorder {
	t.Helper()
	tell, url := helperIn(t, ns, "MESH_E2E_RECORD="+addr)
	return &recorder{URL: url, tell: tell}
}

// posts returns every POST taken so far, in the order taken.
func (r *recorder) posts(t *testing.T) []posted {
	var out []posted
	if err := json.Unmarshal([]byte(r.tell("posts")), &out); err != nil {
		t.Errorf("the recorder's posts: %v", err)
	}
	return out
}

// refuse makes the recorder answer every POST 503 without taking it, as a
// chat service that is down; take makes it take them again.
func (r *recorder) refuse() { r.tell("refuse") }
func (r *recorder) take()   { r.tell("take") }

// record is what this test binary does when run as MESH_E2E_RECORD=addr:
// the recorder's side. It says its URL once it listens, then answers each
// line on standard input: "posts" with every POST so far as one JSON line,
// "refuse" and "take" with "done". It stops when its standard input closes.
func record(addr string) int {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	var mu sync.Mutex
	taken, refusing := []posted{}, false
	go func() {
		_ = http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodPost {
				// The isolation guard asks whether the chat service
				// answers at all (HEAD /); like a real one, this one does.
				http.NotFound(w, r)
				return
			}
			at := time.Now()
			mu.Lock()
			down := refusing
			mu.Unlock()
			if down {
				http.Error(w, "down for the test", http.StatusServiceUnavailable)
				return
			}
			body, err := io.ReadAll(r.Body)
			valid := err == nil && json.Valid(body)
			if !valid {
				// Kept as a JSON string, for the test to refuse by name.
				body, _ = json.Marshal("not JSON: " + string(body))
			}
			mu.Lock()
			taken = append(taken, posted{At: at, Path: r.URL.Path, Body: body})
			mu.Unlock()
			if !valid {
				http.Error(w, "not JSON", http.StatusBadRequest)
				return
			}
			w.WriteHeader(http.StatusNoContent)
		}))
	}()
	fmt.Println("http://" + l.Addr().String())
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		mu.Lock()
		switch in.Text() {
		case "posts":
			line, _ := json.Marshal(taken) // posted holds nothing json cannot encode
			fmt.Printf("%s\n", line)
		case "refuse", "take":
			refusing = in.Text() == "refuse"
			fmt.Println("done")
		default:
			fmt.Fprintf(os.Stderr, "the recorder does not know %q\n", in.Text())
			mu.Unlock()
			return 1
		}
		mu.Unlock()
	}
	return 0
}
