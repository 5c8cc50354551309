package wire

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/dupunkto/mesh/actors/domain"
)

// The seed document's examples, exactly as it shows them, are in testdata:
// seed_state.json (GET /state) and seed_relay.json (a POST /relay body).
// They are the golden files of the wire format: a Go node must read and
// write them as an original node does.

// seed returns one of the seed's examples.
func seed(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// compact is the seed's JSON without its indentation.
func compact(t *testing.T, s string) string {
	t.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(s)); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// withoutRTT takes out Mesh's one addition to the seed's fields, rtt_ms,
// where it is null: a view from an original node has none.
func withoutRTT(b []byte) string {
	return string(bytes.ReplaceAll(b, []byte(`,"rtt_ms":null`), nil))
}

func TestSeedStateDecodesAndEncodesToTheSameJSON(t *testing.T) {
	seedState := seed(t, "seed_state.json")
	s, err := DecodeState([]byte(seedState))
	if err != nil {
		t.Fatal(err)
	}
	v, ok := s.Peer("dec.mesh.dupunkto.org")
	if s.Node() != "nov.mesh.dupunkto.org" || !ok || v.Status != domain.StatusUp || v.HasRTT ||
		!v.LastSeen.Equal(time.Date(2026, 6, 6, 13, 1, 30, 0, time.UTC)) {
		t.Fatalf("decoded %q with dec = %+v", s.Node(), v)
	}
	r, ok := s.Relay("dec.mesh.dupunkto.org")
	if !ok || !r.ReceivedAt().Equal(time.Date(2026, 6, 6, 13, 1, 28, 0, time.UTC)) || r.Len() != 1 {
		t.Fatalf("decoded relay %+v", r)
	}
	got := new(StateEncoder).Encode(s)
	if withoutRTT(got) != compact(t, seedState) {
		t.Fatalf("re-encoded seed /state:\n got %s\nwant %s", got, compact(t, seedState))
	}
	if bytes.Count(got, []byte(`"rtt_ms":null`)) != 2 {
		t.Fatalf("every view carries rtt_ms, null when unknown: %s", got)
	}
}

func TestSeedRelayIsAcceptedAndEncodesToTheSameJSON(t *testing.T) {
	seedRelay := seed(t, "seed_relay.json")
	r, err := DecodeRelay([]byte(seedRelay))
	node, peers := r.Node, r.Peers
	if err != nil {
		t.Fatalf("the seed's relay body was refused: %v", err)
	}
	v := peers["nov.mesh.dupunkto.org"]
	if node != "dec.mesh.dupunkto.org" || len(peers) != 1 || v.Status != domain.StatusUp || v.ConsecutiveFailures != 0 ||
		!v.Since.Equal(time.Date(2026, 6, 6, 12, 42, 0, 0, time.UTC)) || !v.LastSeen.Equal(time.Date(2026, 6, 6, 13, 1, 28, 0, time.UTC)) {
		t.Fatalf("decoded %q %+v", node, peers)
	}
	// What dec relays, from its own view, is the seed's body again.
	snap := domain.NewSnapshot(node, []*domain.Entry{domain.NewEntry(domain.Peer("nov.mesh.dupunkto.org"), v, domain.History{})}, nil)
	if got := EncodeRelay(snap, domain.Said{}); withoutRTT(got) != compact(t, seedRelay) {
		t.Fatalf("relay body:\n got %s\nwant %s", got, compact(t, seedRelay))
	}
}

func TestDecodeStateRefusesWhatIsNotAState(t *testing.T) {
	for name, doc := range map[string]string{
		"not JSON":            `{"node":`,
		"a list":              `[]`,
		"no node":             `{"peers":{},"relay":{}}`,
		"no peers":            `{"node":"nov","relay":{}}`,
		"a bad status":        `{"node":"nov","peers":{"dec":{"status":"sideways","since":"2026-06-06T12:42:00Z","last_seen":null,"consecutive_failures":0}},"relay":{}}`,
		"a bad relayed view":  `{"node":"nov","peers":{},"relay":{"dec":{"received_at":"2026-06-06T12:42:00Z","peers":{"x":{"status":"up"}}}}}`,
		"a bad peer name":     `{"node":"nov","peers":{"a b":{"status":"up","since":"2026-06-06T12:42:00Z","last_seen":null,"consecutive_failures":0}},"relay":{}}`,
		"a negative failures": `{"node":"nov","peers":{"dec":{"status":"up","since":"2026-06-06T12:42:00Z","last_seen":null,"consecutive_failures":-1}},"relay":{}}`,
	} {
		if s, err := DecodeState([]byte(doc)); err == nil {
			t.Errorf("%s: decoded %+v", name, s)
		}
	}
}
