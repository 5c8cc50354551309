package actors

import (
	"encoding/json"
	"testing"
	"time"
)

// The /state document put together from fragments is byte for byte what
// json.Marshal writes for the same snapshot.
func TestSnapshotJSONIsWhatJSONMarshalWrites(t *testing.T) {
	now := time.Date(2026, 6, 6, 13, 1, 30, 0, time.UTC)
	seen := Time{now}
	up := PeerView{Status: StatusUp, Since: Time{now.Add(-time.Hour)}, LastSeen: &seen, RTT: Millis(1500 * time.Microsecond)}
	unknown := PeerView{Status: StatusUnknown, Since: Time{now}}
	for name, s := range map[string]*Snapshot{
		"no peers, no relays": {Node: "solo", Relay: map[string]*RelayCopy{}},
		"nil relays":          {Node: "solo"},
		"peers and relays": {Node: "nov.mesh.example", Peers: []*PeerEntry{
			{Name: "a.example", View: up}, {Name: "b.example:4000", View: unknown}, {Name: "é.example", View: up},
		}, Relay: map[string]*RelayCopy{
			"b.example:4000": {ReceivedAt: Time{now}, Peers: map[string]PeerView{"a.example": up, "nov.mesh.example": unknown}},
			"a.example":      {ReceivedAt: Time{now}, Peers: map[string]PeerView{}},
		}},
	} {
		relay := s.Relay
		if relay == nil {
			relay = map[string]*RelayCopy{}
		}
		want, err := json.Marshal(struct {
			Node  string                `json:"node"`
			Peers map[string]PeerView   `json:"peers"`
			Relay map[string]*RelayCopy `json:"relay"`
		}{s.Node, s.PeerViews(), relay})
		if err != nil {
			t.Fatal(err)
		}
		if got := s.JSON(); string(got) != string(want) {
			t.Errorf("%s:\n got %s\nwant %s", name, got, want)
		}
	}
}
