package wire

import (
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/dupunkto/mesh/actors/domain"
	"github.com/dupunkto/mesh/config"
)

func TestRelayedRTTIsKept(t *testing.T) {
	for raw, want := range map[string]*time.Duration{`12.5`: ptr(12500 * time.Microsecond), `null`: nil, `0`: ptr(time.Duration(0))} {
		r, err := DecodeRelay(fmt.Appendf(nil, `{"node":"dec.mesh.dupunkto.org","peers":{"x.example":%s}}`,
			`{"status":"up","since":"2026-06-06T12:42:00Z","last_seen":null,"consecutive_failures":0,"rtt_ms":`+raw+`}`))
		if err != nil {
			t.Fatalf("rtt_ms %s: %v", raw, err)
		}
		got := r.Peers["x.example"]
		if got.HasRTT != (want != nil) || (want != nil && got.RTT != *want) {
			t.Errorf("rtt_ms %s decoded as %v (known: %v)", raw, got.RTT, got.HasRTT)
		}
	}
}

func ptr[T any](v T) *T { return &v }

// A relay that two parsers would read differently is refused: encoding/json
// takes the last of two twin keys and matches fields ignoring case.
func TestRelaysWithTwinKeysAreRefused(t *testing.T) {
	view := `{"status":"up","since":"2026-06-06T12:42:00Z","last_seen":null,"consecutive_failures":0}`
	for name, body := range map[string]string{
		"node twice":                     `{"node":"dec.example","node":"evil.example","peers":{}}`,
		"node in two cases":              `{"node":"dec.example","NODE":"evil.example","peers":{}}`,
		"a peer twice":                   `{"node":"dec.example","peers":{"a.example":` + view + `,"a.example":` + view + `}}`,
		"a peer in two cases":            `{"node":"dec.example","peers":{"a.example":` + view + `,"A.Example":` + view + `}}`,
		"a view's status in two cases":   `{"node":"dec.example","peers":{"a.example":{"status":"up","Status":"down","since":"2026-06-06T12:42:00Z","last_seen":null,"consecutive_failures":0}}}`,
		"twins deep in an unknown field": `{"node":"dec.example","peers":{},"extra":[{"x":1,"X":2}]}`,
	} {
		if _, err := DecodeRelay([]byte(body)); err == nil || !strings.Contains(err.Error(), "twice") {
			t.Errorf("%s: %v, want refused for a key that appears twice", name, err)
		}
	}
	// Keys that are only alike in other objects are fine.
	if _, err := DecodeRelay([]byte(`{"node":"dec.example","peers":{"a.example":` + view + `,"b.example":` + view + `},"x":{"node":1}}`)); err != nil {
		t.Fatalf("a relay without twins was refused: %v", err)
	}
}

// A node's announcements travel in its relay as "announced", and come back
// as they left, to the millisecond: a field the seed does not know, and
// an end a second early would fall before what it ends.
func TestAnnouncementsTravelInTheRelay(t *testing.T) {
	since := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	sent := map[string]domain.Announcement{
		"e.example":      {Kind: domain.AnnouncedDown, Since: since.Add(500 * time.Millisecond), Reminders: 2, Origin: since.Add(250 * time.Millisecond)},
		"f.example:8080": {Kind: domain.AnnouncedPartial, Since: since},
	}
	body := EncodeRelay(domain.NewSnapshot("a.example", nil, nil), domain.Said{Announced: sent})
	if !strings.Contains(string(body), `"announced":{"e.example":{"kind":"down","since":"2026-11-25T10:00:00.500Z","reminders":2,"origin":"2026-11-25T10:00:00.250Z"}`) {
		t.Fatalf("relay body %s", body)
	}
	r, err := DecodeRelay(body)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]domain.Announcement{
		"e.example":      {Kind: domain.AnnouncedDown, Since: since.Add(500 * time.Millisecond), Reminders: 2, Origin: since.Add(250 * time.Millisecond)},
		"f.example:8080": {Kind: domain.AnnouncedPartial, Since: since},
	}
	if !maps.Equal(r.Said.Announced, want) {
		t.Fatalf("decoded %+v, want %+v", r.Said.Announced, want)
	}
	// A node that announces nothing sends the seed's body, and an original
	// node's body announces nothing.
	if body := EncodeRelay(domain.NewSnapshot("a.example", nil, nil), domain.Said{}); strings.Contains(string(body), "announced") {
		t.Fatalf("relay body %s", body)
	}
}

func TestABadAnnouncementRefusesTheRelayAndSaysWhy(t *testing.T) {
	for body, want := range map[string]string{
		`{"node":"a","peers":{},"announced":[]}`: "announced",
		`{"node":"a","peers":{},"announced":{"e":{"kind":"up","since":"2026-11-25T10:00:00Z","reminders":0}}}`:                                    `announced["e"].kind`,
		`{"node":"a","peers":{},"announced":{"e":{"kind":"down","since":"yesterday","reminders":0}}}`:                                             `announced["e"].since`,
		`{"node":"a","peers":{},"announced":{"e":{"kind":"down","since":"2026-11-25T10:00:00Z"}}}`:                                                `announced["e"].reminders`,
		`{"node":"a","peers":{},"announced":{"e":{"kind":"down","since":"2026-11-25T10:00:00Z","reminders":-1}}}`:                                 `announced["e"].reminders`,
		`{"node":"a","peers":{},"announced":{"e/x":{"kind":"down","since":"2026-11-25T10:00:00Z","reminders":0}}}`:                                `announced["e/x"]: name`,
		`{"node":"a","peers":{},"announced":{"e":"down"}}`:                                                                                        `announced["e"]: must be an object`,
		`{"node":"a","peers":{"b":{"status":"down","since":"2026-11-25T10:00:00Z","last_seen":null,"consecutive_failures":9223372036854775807}}}`: `peers["b"].consecutive_failures`,
	} {
		if _, err := DecodeRelay([]byte(body)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want an error naming %s", body, err, want)
		}
	}
}

// The certificates a node knows were told of travel in its relay as
// "certs_told", whole and in deltas; a malformed one is refused, naming it.
func TestCertsToldTravelInTheRelay(t *testing.T) {
	const shop = "https://shop.example/Health"
	told := map[string]string{shop: "9f86d081884c7d65"}
	snap := domain.NewSnapshot("a.example", nil, nil)
	for _, body := range [][]byte{EncodeRelay(snap, domain.Said{Told: told}), EncodeRelayDelta(snap, domain.Said{Told: told}, nil)} {
		r, err := DecodeRelay(body)
		if err != nil || !maps.Equal(r.Said.Told, told) {
			t.Fatalf("decoded %v (%v) from %s", r.Said.Told, err, body)
		}
	}
	for body, want := range map[string]string{
		`{"node":"a","peers":{},"certs_told":{"shop.example":"ab"}}`:                                       `certs_told["shop.example"]: name`,
		`{"node":"a","peers":{},"certs_told":{"https://shop.example/":7}}`:                                 `certs_told["https://shop.example/"]: must be`,
		`{"node":"a","peers":{},"certs_told":{"https://shop.example/":""}}`:                                `certs_told["https://shop.example/"]: must be`,
		`{"node":"a","peers":{},"certs_told":{"https://shop.example/":"` + strings.Repeat("a", 65) + `"}}`: `must be`,
	} {
		if _, err := DecodeRelay([]byte(body)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want an error about %s", body, err, want)
		}
	}
}

// What a node saw end travels in its relay as "ended", and the time it
// sent the relay, by its clock, as "sent_at", to the millisecond; a
// malformed one is refused, naming it.
func TestEndingsAndTheSendersClockTravelInTheRelay(t *testing.T) {
	since := time.Date(2026, 12, 2, 6, 0, 0, 0, time.UTC)
	ended := map[string]domain.Ending{"e.example": {Kind: domain.AnnouncedDown, Since: since, Ended: since.Add(time.Minute + 250*time.Millisecond), Origin: since.Add(time.Second)}}
	sentAt := since.Add(90*time.Second + 250*time.Millisecond)
	body := Stamped(EncodeRelay(domain.NewSnapshot("a.example", nil, nil), domain.Said{Ended: ended}), sentAt)
	if !strings.Contains(string(body), `"sent_at":"2026-12-02T06:01:30.250Z"`) {
		t.Fatalf("relay body %s", body)
	}
	r, err := DecodeRelay(body)
	if err != nil || !maps.Equal(r.Said.Ended, ended) || !r.SentAt.Equal(sentAt) {
		t.Fatalf("decoded %+v sent at %v (%v)", r.Said.Ended, r.SentAt, err)
	}
	for body, want := range map[string]string{
		`{"node":"a","peers":{},"ended":{"e":{"kind":"down","since":"2026-11-25T10:00:00Z","ended":"2026-11-25T09:00:00Z"}}}`:                 `ended["e"].ended`,
		`{"node":"a","peers":{},"ended":{"e":{"kind":"gone","since":"2026-11-25T10:00:00Z","ended":"2026-11-25T11:00:00Z"}}}`:                 `ended["e"].kind`,
		`{"node":"a","peers":{},"ended":{"e":{"kind":"down","since":"2026-11-25T10:00:00Z","ended":"2026-11-25T11:00:00Z","origin":"soon"}}}`: `ended["e"].origin`,
		`{"node":"a","peers":{},"announced":{"e":{"kind":"down","since":"2026-11-25T10:00:00Z","reminders":0,"origin":7}}}`:                   `announced["e"].origin`,
		`{"node":"a","peers":{},"sent_at":"at noon"}`: `sent_at`,
	} {
		if _, err := DecodeRelay([]byte(body)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want an error about %s", body, err, want)
		}
	}
}

// A node stopping on purpose says so in its last relay, in a field the
// seed's nodes ignore; anything but true or false there is refused.
func TestALeaveTravelsInTheRelay(t *testing.T) {
	body := EncodeRelay(domain.NewSnapshot("a.example", nil, nil), domain.Said{Leaving: true})
	if !strings.Contains(string(body), `"leaving":true`) {
		t.Fatalf("relay body %s", body)
	}
	for _, b := range [][]byte{body, Stamped(body, time.Now())} {
		if r, err := DecodeRelay(b); err != nil || !r.Said.Leaving {
			t.Fatalf("decoded %+v (%v), want leaving", r.Said, err)
		}
	}
	if r, _ := DecodeRelay(EncodeRelay(domain.NewSnapshot("a.example", nil, nil), domain.Said{})); r.Said.Leaving {
		t.Fatal("a relay that says nothing of leaving decoded as leaving")
	}
	if _, err := DecodeRelay([]byte(`{"node":"a","peers":{},"leaving":"soon"}`)); err == nil || !strings.Contains(err.Error(), "leaving") {
		t.Fatalf("%v, want an error about leaving", err)
	}
}

// The peers a node holds as stopped on purpose travel in its relays, with
// when each said so, for a node that was away when one left; a time that
// is none refuses the relay and says where.
func TestTheLeavesANodeHoldsTravelInTheRelay(t *testing.T) {
	at := time.Date(2026, 12, 2, 17, 8, 16, 0, time.UTC)
	body := EncodeRelay(domain.NewSnapshot("a.example", nil, nil), domain.Said{Left: map[string]time.Time{"c.example:4000": at}})
	if !strings.Contains(string(body), `"left":{"c.example:4000":"2026-12-02T17:08:16Z"}`) {
		t.Fatalf("relay body %s", body)
	}
	r, err := DecodeRelay(body)
	if err != nil || len(r.Said.Left) != 1 || !r.Said.Left["c.example:4000"].Equal(at) {
		t.Fatalf("decoded %+v (%v)", r.Said.Left, err)
	}
	if _, err := DecodeRelay([]byte(`{"node":"a","peers":{},"left":{"c":"soon"}}`)); err == nil || !strings.Contains(err.Error(), `left["c"]`) {
		t.Fatalf("%v, want an error about left[\"c\"]", err)
	}
}

// A node's maintenance windows travel in its relays as the specs it was
// given; a window no node takes refuses the relay and says which.
func TestMaintenanceWindowsTravelInTheRelay(t *testing.T) {
	w, err := config.ParseWindow("0 3 * * 0 2h Europe/Amsterdam")
	if err != nil {
		t.Fatal(err)
	}
	body := EncodeRelay(domain.NewSnapshot("a.example", nil, nil), domain.Said{Windows: []domain.Window{w}})
	if !strings.Contains(string(body), `"maintenance":["0 3 * * 0 2h Europe/Amsterdam"]`) {
		t.Fatalf("relay body %s", body)
	}
	r, err := DecodeRelay(body)
	if err != nil || len(r.Said.Windows) != 1 || r.Said.Windows[0].Spec != w.Spec || r.Said.Windows[0].For != 2*time.Hour {
		t.Fatalf("decoded %+v (%v)", r.Said.Windows, err)
	}
	if _, err := DecodeRelay([]byte(`{"node":"a","peers":{},"maintenance":["whenever"]}`)); err == nil || !strings.Contains(err.Error(), "maintenance[0]") {
		t.Fatalf("%v, want an error about maintenance[0]", err)
	}
}

// A node's view of its targets travels in its relay as "targets", whole and
// in deltas, names as they are (a path keeps its case), and an announcement
// about a target with it; /state shows them as "targets" too.
func TestTargetsTravelInTheRelayAndShowInState(t *testing.T) {
	since := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	shop, db := "https://shop.example/Health", "tcp://db.example:5432"
	snap := domain.NewSnapshot("a.example", []*domain.Entry{
		domain.NewEntry(domain.Peer("b.example"), domain.PeerView{Status: domain.StatusUp, Since: since}, domain.History{}),
		domain.NewEntry(domain.Target(shop), domain.PeerView{Status: domain.StatusDown, Since: since, ConsecutiveFailures: 4}, domain.History{}),
		domain.NewEntry(domain.Target(db), domain.PeerView{Status: domain.StatusUp, Since: since, LastSeen: since}, domain.History{}),
	}, nil)
	announced := map[string]domain.Announcement{shop: {Kind: domain.AnnouncedDown, Since: since}}
	r, err := DecodeRelay(EncodeRelay(snap, domain.Said{Announced: announced}))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]domain.PeerView{shop: {Status: domain.StatusDown, Since: since, ConsecutiveFailures: 4}, db: {Status: domain.StatusUp, Since: since, LastSeen: since}}
	if !maps.Equal(r.Targets, want) || len(r.Peers) != 1 || r.Said.Announced[shop].Kind != domain.AnnouncedDown {
		t.Fatalf("decoded targets %v, peers %v, announced %v", r.Targets, r.Peers, r.Said.Announced)
	}
	d, err := DecodeRelay(EncodeRelayDelta(snap, domain.Said{}, map[string]bool{db: true}))
	if err != nil || !d.Delta || len(d.Targets) != 1 || len(d.Peers) != 0 {
		t.Fatalf("a delta of one target: %+v, %v", d, err)
	}
	state, err := DecodeState(new(StateEncoder).Encode(snap))
	if err != nil || state.TargetCount() != 2 {
		t.Fatalf("/state's targets: %v", err)
	}
	if v, ok := state.View(shop); !ok || v.Status != domain.StatusDown {
		t.Fatalf("/state's view of %s: %+v", shop, v)
	}
	plain := domain.NewSnapshot("a.example", nil, nil)
	if body := string(new(StateEncoder).Encode(plain)) + string(EncodeRelay(plain, domain.Said{})); strings.Contains(body, "targets") {
		t.Fatalf("a node without targets writes them: %s", body)
	}
}

func TestARelaysTargetsAreChecked(t *testing.T) {
	view := `{"status":"up","since":"2026-06-06T12:42:00Z","last_seen":null,"consecutive_failures":0}`
	for name, targets := range map[string]string{
		"a peer's name":           `{"a.example":` + view + `}`,
		"a password in the name":  `{"https://u:p@a.example/":` + view + `}`,
		"another scheme":          `{"ftp://a.example/":` + view + `}`,
		"a bad view":              `{"https://a.example/":{"status":"sideways"}}`,
		"not an object":           `[]`,
		"more than the most kept": manyTargets(MaxRelayTargets+1, view),
	} {
		if _, err := DecodeRelay([]byte(`{"node":"dec.example","peers":{},"targets":` + targets + `}`)); err == nil || !strings.Contains(err.Error(), "targets") {
			t.Errorf("%s: %v, want refused naming targets", name, err)
		}
	}
}

func manyTargets(n int, view string) string {
	var b strings.Builder
	b.WriteString("{")
	for i := range n {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `"tcp://t%d.example:1":%s`, i, view)
	}
	return b.String() + "}"
}
