package wire

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/dupunkto/mesh/actors/domain"
)

// The documents as json.Marshal writes them from tagged structs: the
// reference the hand-written encoders are held to.

type viewJSON struct {
	Status              domain.Status `json:"status"`
	Since               stamp         `json:"since"`
	LastSeen            *stamp        `json:"last_seen"`
	ConsecutiveFailures int           `json:"consecutive_failures"`
	RTT                 *float64      `json:"rtt_ms"`
}

func viewToJSON(v domain.PeerView) viewJSON {
	j := viewJSON{Status: v.Status, Since: stamp{v.Since}, ConsecutiveFailures: v.ConsecutiveFailures}
	if !v.LastSeen.IsZero() {
		j.LastSeen = &stamp{v.LastSeen}
	}
	if v.HasRTT {
		ms := millis(v.RTT)
		j.RTT = &ms
	}
	return j
}

type stateJSON struct {
	Node  string                   `json:"node"`
	Peers map[string]viewJSON      `json:"peers"`
	Relay map[string]relayCopyJSON `json:"relay"`
}

type relayCopyJSON struct {
	ReceivedAt stamp               `json:"received_at"`
	Peers      map[string]viewJSON `json:"peers"`
}

type relayJSON struct {
	Node  string              `json:"node"`
	Peers map[string]viewJSON `json:"peers"`
}

// randomView is a view with every field drawn from its whole range,
// fractions of seconds, time zones and sub-microsecond round trips included.
func randomView(r *rand.Rand) domain.PeerView {
	at := func() time.Time {
		return time.Unix(r.Int64N(4e9), r.Int64N(1e9)).In(time.FixedZone("", 3600*(r.IntN(27)-12)))
	}
	v := domain.PeerView{Status: []domain.Status{domain.StatusUp, domain.StatusDown, domain.StatusUnknown}[r.IntN(3)], Since: at(), ConsecutiveFailures: r.IntN(1 << r.IntN(40))}
	if r.IntN(2) == 0 {
		v.LastSeen = at()
	}
	if r.IntN(2) == 0 {
		v.RTT, v.HasRTT = time.Duration(r.Int64N(1<<r.IntN(47))), true
	}
	return v
}

func TestViewsAreWhatJSONMarshalWrites(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 20000 {
		v := randomView(r)
		want, err := json.Marshal(viewToJSON(v))
		if err != nil {
			t.Fatal(err)
		}
		if got := appendView(nil, v); string(got) != string(want) {
			t.Fatalf("view %d %+v:\n got %s\nwant %s", i, v, got, want)
		}
	}
}

func TestFloatsAndStringsAreWhatJSONMarshalWrites(t *testing.T) {
	for _, f := range []float64{0, 1e-9, 1e-7, 9.99e-7, 1e-6, 0.001, 1.5, 2.345, 23.418, 86400000, 1e20, 1e21, 1.5e300, -3} {
		want, _ := json.Marshal(f)
		if got := appendFloat(nil, f); string(got) != string(want) {
			t.Errorf("%v: got %s, want %s", f, got, want)
		}
	}
	for _, s := range []string{"", "a.example:4000", "[::1]:4000", "é.example", "a<b>&c", `quote"back\slash`, "tab\there", "\xff\xfe", "line\u2028sep"} {
		want, _ := json.Marshal(s)
		if got := appendString(nil, s); string(got) != string(want) {
			t.Errorf("%q: got %s, want %s", s, got, want)
		}
	}
}

func TestRelayBodyIsWhatJSONMarshalWrites(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var entries []*domain.Entry
	want := relayJSON{Node: "nov.mesh.example", Peers: map[string]viewJSON{}}
	for i := range 50 {
		name, v := fmt.Sprintf("node-%02d.example:4000", i), randomView(r)
		entries = append(entries, domain.NewEntry(domain.Peer(name), v, domain.History{}))
		want.Peers[name] = viewToJSON(v)
	}
	b, _ := json.Marshal(want)
	if got := EncodeRelay(domain.NewSnapshot("nov.mesh.example", entries, nil), domain.Said{}); string(got) != string(b) {
		t.Fatalf("relay body:\n got %s\nwant %s", got, b)
	}
}
