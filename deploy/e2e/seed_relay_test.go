package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// seedNode speaks the seed's relay format only: it answers /ping, takes
// relays as plain JSON of the seed's shape (anything else, a gzipped body
// among them, is a 400, as a JSON parser makes of it) and posts its own
// view to its peers the same way, without Mesh's headers.
type seedNode struct {
	name  string
	srv   *http.Server
	mu    sync.Mutex
	got   map[string]int // relays taken, by sender
	bytes map[string]int // and their bytes
	bad   []string       // relays it could not read
	// macs counts the relays it refused for their Authorization: the
	// first a Mesh node sends it carries a MAC, which the seed does not
	// know, and after that refusal the node sends the secret.
	macs int
}

func startSeedNode(t *testing.T, secret string) *seedNode {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &seedNode{name: l.Addr().String(), got: map[string]int{}, bytes: map[string]int{}}
	mux := http.NewServeMux()
	mux.HandleFunc("/ping", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, `{"pong":true}`) })
	mux.HandleFunc("/relay", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var relay struct {
			Node  string                     `json:"node"`
			Peers map[string]json.RawMessage `json:"peers"`
		}
		if r.Header.Get("Authorization") != secret {
			s.mu.Lock()
			s.macs++
			s.mu.Unlock()
			http.Error(w, `{"error":"unauthorized"}`, http.StatusUnauthorized)
			return
		}
		if json.Unmarshal(body, &relay) != nil || relay.Node == "" {
			s.mu.Lock()
			s.bad = append(s.bad, fmt.Sprintf("%q encoding, %d bytes", r.Header.Get("Content-Encoding"), len(body)))
			s.mu.Unlock()
			http.Error(w, `{"error":"bad relay"}`, http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		s.got[relay.Node]++
		s.bytes[relay.Node] += len(body)
		s.mu.Unlock()
		fmt.Fprint(w, `{"ok":true}`)
	})
	s.srv = &http.Server{Handler: mux}
	go func() { _ = s.srv.Serve(l) }()
	t.Cleanup(func() { _ = s.srv.Close() })
	return s
}

// relayTo posts the seed node's view, every peer up, as the seed does.
func (s *seedNode) relayTo(t *testing.T, secret string, peers []*node) {
	now := time.Now().UTC().Format(time.RFC3339)
	views := map[string]any{}
	for _, p := range peers {
		views[p.name] = map[string]any{"status": "up", "since": now, "last_seen": now, "consecutive_failures": 0}
	}
	body, _ := json.Marshal(map[string]any{"node": s.name, "peers": views})
	for _, p := range peers {
		req, _ := http.NewRequest(http.MethodPost, "http://"+p.name+"/relay", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", secret)
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("%s refused the seed node's relay: %s", p.name, resp.Status)
			}
		}
	}
}

// A mixed cluster: two Mesh nodes, which send each other deltas,
// and a node that speaks the seed's format only. It gets plain JSON relays
// it can read, round after round, and theirs are taken.
func TestASeedNodeAndMeshNodesRelayToEachOther(t *testing.T) {
	shareMachine(t, loadOf(3, 200*time.Millisecond))
	const secret = "mixed-s3cret"
	seed := startSeedNode(t, secret)
	ports := freePorts(t, 2)
	names := []string{fmt.Sprintf("127.0.0.1:%d", ports[0]), fmt.Sprintf("127.0.0.1:%d", ports[1])}
	peers := "PEERS=http://" + names[0] + ",http://" + names[1] + ",http://" + seed.name
	var nodes []*node
	for _, name := range names {
		nodes = append(nodes, startNode(t, name, peers, "RELAY_SECRET="+secret, "POLL_INTERVAL=200ms", "PROBE_TIMEOUT=500ms"))
	}
	eventually(t, 20*time.Second, "five relays from each Mesh node at the seed node, and its own taken", func() bool {
		seed.relayTo(t, secret, nodes)
		seed.mu.Lock()
		defer seed.mu.Unlock()
		for _, n := range nodes {
			if seed.got[n.name] < 5 {
				return false
			}
			s, err := n.state()
			if err != nil || s.Relay[seed.name].Peers[n.name].Status != "up" {
				return false
			}
		}
		return true
	})
	seed.mu.Lock()
	defer seed.mu.Unlock()
	if len(seed.bad) > 0 {
		t.Fatalf("the seed node got relays it could not read: %s", strings.Join(seed.bad, "; "))
	}
	if seed.macs > len(nodes) {
		t.Fatalf("the seed node refused %d relays for their Authorization, want at most one a Mesh node (its first, with a MAC)", seed.macs)
	}
	// Between the Mesh nodes the relays are deltas (and gzipped when large):
	// a Mesh node's relays weigh less on average than the whole plain ones
	// the seed node got from it.
	for _, n := range nodes {
		families, _ := scrape(t, n)
		sent, _ := sample(families, "mesh_relay_bytes_total", map[string]string{"direction": "sent"})
		delivered, _ := sample(families, "mesh_relay_sent_total", map[string]string{"result": "delivered"})
		plain := float64(seed.bytes[n.name]) / float64(seed.got[n.name])
		if avg := sent / delivered; avg >= 0.95*plain {
			t.Fatalf("%s sent %.0f bytes a relay on average, the seed node got %.0f plain: want the Mesh peer's gzipped", n.name, avg, plain)
		}
	}
}
