package wire

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/dupunkto/mesh/actors/domain"
)

var t0 = time.Date(2026, 6, 6, 12, 42, 0, 0, time.UTC)

func entry(name string, v domain.PeerView) *domain.Entry {
	return domain.NewEntry(domain.Peer(name), v, domain.History{})
}

// The /state document put together from cached members is byte for byte
// what json.Marshal writes for the same document, on the first encoding
// and on a later one that reuses what did not change.
func TestStateIsWhatJSONMarshalWrites(t *testing.T) {
	now := time.Date(2026, 6, 6, 13, 1, 30, 0, time.UTC)
	up := domain.PeerView{Status: domain.StatusUp, Since: now.Add(-time.Hour), LastSeen: now, RTT: 1500 * time.Microsecond, HasRTT: true}
	unknown := domain.PeerView{Status: domain.StatusUnknown, Since: now}
	peers := []*domain.Entry{entry("a.example", up), entry("b.example:4000", unknown), entry("é.example", up)}
	relays := map[string]*domain.RelayCopy{
		"b.example:4000": domain.NewRelayCopy(now, map[string]domain.PeerView{"a.example": up, "nov.mesh.example": unknown}),
		"a.example":      domain.NewRelayCopy(now, map[string]domain.PeerView{}),
	}
	var enc StateEncoder
	for name, s := range map[string]*domain.Snapshot{
		"no peers, no relays": domain.NewSnapshot("solo", nil, map[string]*domain.RelayCopy{}),
		"nil relays":          domain.NewSnapshot("solo", nil, nil),
		"peers and relays":    domain.NewSnapshot("nov.mesh.example", peers, relays),
		"one peer changed":    domain.NewSnapshot("nov.mesh.example", []*domain.Entry{peers[0], entry("b.example:4000", up), peers[2]}, relays),
	} {
		doc := stateJSON{Node: s.Node(), Peers: map[string]viewJSON{}, Relay: map[string]relayCopyJSON{}}
		for p := range s.Peers() {
			doc.Peers[p.Name()] = viewToJSON(p.View())
		}
		for n, r := range s.Relays() {
			c := relayCopyJSON{ReceivedAt: stamp{r.ReceivedAt()}, Peers: map[string]viewJSON{}}
			for name, v := range r.Peers() {
				c.Peers[name] = viewToJSON(v)
			}
			doc.Relay[n] = c
		}
		want, err := json.Marshal(doc)
		if err != nil {
			t.Fatal(err)
		}
		if got := enc.Encode(s); string(got) != string(want) {
			t.Errorf("%s:\n got %s\nwant %s", name, got, want)
		}
		if got := new(StateEncoder).Encode(s); string(got) != string(want) {
			t.Errorf("%s, fresh encoder:\n got %s\nwant %s", name, got, want)
		}
	}
}

func TestPeerViewJSONIsTheSeeds(t *testing.T) {
	v := domain.PeerView{Status: domain.StatusUp, Since: t0.In(time.FixedZone("CEST", 7200)),
		LastSeen: t0.Add(19*time.Minute + 30*time.Second + 123*time.Millisecond), RTT: 2345 * time.Microsecond, HasRTT: true}
	b := appendView(nil, v)
	// The seed's fields, plus rtt_ms (which the seed's aggregator ignores).
	want := `{"status":"up","since":"2026-06-06T12:42:00Z","last_seen":"2026-06-06T13:01:30Z","consecutive_failures":0,"rtt_ms":2.345}`
	if string(b) != want {
		t.Fatalf("got  %s\nwant %s", b, want)
	}
	b = appendView(nil, domain.PeerView{Status: domain.StatusUnknown, Since: t0})
	if want := `{"status":"unknown","since":"2026-06-06T12:42:00Z","last_seen":null,"consecutive_failures":0,"rtt_ms":null}`; string(b) != want {
		t.Fatalf("got  %s\nwant %s", b, want)
	}
	back, err := decodeView([]byte(`{"status":"down","since":"2026-06-06T14:42:00+02:00","last_seen":null,"consecutive_failures":7}`))
	if err != nil {
		t.Fatal(err)
	}
	if !back.Since.Equal(t0) || back.Since.Location() != time.UTC {
		t.Fatalf("an offset time must decode to the same instant in UTC, got %v", back.Since)
	}
}

func TestHistoryListsTransitionsOldestFirstWithUptime(t *testing.T) {
	h := domain.NewHistory([]domain.HistoryEntry{{Status: domain.StatusUp, At: t0}, {Status: domain.StatusDown, At: t0.Add(18 * time.Hour)}})
	s := domain.NewSnapshot("nov", []*domain.Entry{domain.NewEntry(domain.Peer("dec"), domain.PeerView{Status: domain.StatusDown, Since: t0}, h)}, nil)
	got := string(EncodeHistory(s, t0.Add(24*time.Hour)))
	want := `{"node":"nov","peers":{"dec":{"transitions":[{"status":"up","at":"2026-06-06T12:42:00Z"},{"status":"down","at":"2026-06-07T06:42:00Z"}],"uptime":{"24h":0.75,"30d":0.75,"7d":0.75,"90d":0.75}}}}`
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

// A node's /history says when it was isolated, and its figures leave that
// time out: the "down" it saw of dec while cut off is no observation.
func TestHistorySaysWhenTheNodeWasIsolated(t *testing.T) {
	h := domain.NewHistory([]domain.HistoryEntry{{Status: domain.StatusUp, At: t0}, {Status: domain.StatusDown, At: t0.Add(18 * time.Hour)},
		{Status: domain.StatusUp, At: t0.Add(20 * time.Hour)}})
	spells := domain.NewIsolations([]domain.Span{{From: t0.Add(18 * time.Hour), To: t0.Add(20 * time.Hour)}, {From: t0.Add(23 * time.Hour)}})
	s := domain.NewSnapshot("nov", []*domain.Entry{domain.NewEntry(domain.Peer("dec"), domain.PeerView{Status: domain.StatusUp, Since: t0}, h)}, nil).
		WithIsolations(spells)
	got := string(EncodeHistory(s, t0.Add(24*time.Hour)))
	want := `{"node":"nov","peers":{"dec":{"transitions":[{"status":"up","at":"2026-06-06T12:42:00Z"},{"status":"down","at":"2026-06-07T06:42:00Z"},{"status":"up","at":"2026-06-07T08:42:00Z"}],` +
		`"uptime":{"24h":1,"30d":1,"7d":1,"90d":1}}},"isolated":[{"from":"2026-06-07T06:42:00Z","to":"2026-06-07T08:42:00Z"},{"from":"2026-06-07T11:42:00Z"}]}`
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}
