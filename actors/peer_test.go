package actors

import (
	"encoding/json"
	"testing"
	"time"
)

var t0 = time.Date(2026, 6, 6, 12, 42, 0, 0, time.UTC)

func TestPeerStateMachine(t *testing.T) {
	const (
		none   = iota // no transition
		silent        // a transition without a message (unknown -> up)
		notify        // a transition that deserves a message
	)
	type step struct {
		ok       bool
		status   Status // after the step
		failures int    // after the step
		change   int
	}
	const threshold = 3
	up := step{true, StatusUp, 0, none}
	cases := []struct {
		name  string
		steps []step
	}{
		{"unknown to up is silent", []step{{true, StatusUp, 0, silent}}},
		{"up stays up without a transition", []step{{true, StatusUp, 0, silent}, up, up}},
		{"failures below the threshold keep a peer up", []step{{true, StatusUp, 0, silent}, {false, StatusUp, 1, none}, {false, StatusUp, 2, none}}},
		{"up to down at the threshold notifies", []step{{true, StatusUp, 0, silent}, {false, StatusUp, 1, none}, {false, StatusUp, 2, none}, {false, StatusDown, 3, notify}}},
		{"unknown to down after the threshold notifies", []step{{false, StatusUnknown, 1, none}, {false, StatusUnknown, 2, none}, {false, StatusDown, 3, notify}}},
		{"down keeps counting without notifying again", []step{{false, StatusUnknown, 1, none}, {false, StatusUnknown, 2, none}, {false, StatusDown, 3, notify}, {false, StatusDown, 4, none}, {false, StatusDown, 5, none}}},
		{"down to up notifies the recovery", []step{{false, StatusUnknown, 1, none}, {false, StatusUnknown, 2, none}, {false, StatusDown, 3, notify}, {true, StatusUp, 0, notify}}},
		{"a success resets the failure count", []step{{true, StatusUp, 0, silent}, {false, StatusUp, 1, none}, {false, StatusUp, 2, none}, up, {false, StatusUp, 1, none}}},
		{"a threshold of one takes a peer down at the first failure", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			th := threshold
			if tc.steps == nil {
				th, tc.steps = 1, []step{{false, StatusDown, 1, notify}}
			}
			p := newPeerState(t0)
			for i, s := range tc.steps {
				at := t0.Add(time.Duration(i+1) * time.Minute)
				before := p.view
				tr, changed := p.observe(s.ok, at, th, "dec")
				if p.view.Status != s.status || p.view.ConsecutiveFailures != s.failures {
					t.Fatalf("step %d: %s with %d failures, want %s with %d", i, p.view.Status, p.view.ConsecutiveFailures, s.status, s.failures)
				}
				if changed != (s.change != none) {
					t.Fatalf("step %d: transition %v, want %v", i, changed, s.change != none)
				}
				if !changed {
					if p.view.Since != before.Since {
						t.Fatalf("step %d: since moved without a transition", i)
					}
					continue
				}
				if tr.Notifies() != (s.change == notify) {
					t.Fatalf("step %d: Notifies() = %v (%+v)", i, tr.Notifies(), tr)
				}
				if !p.view.Since.Equal(at) || !tr.At.Equal(at) || tr.From != before.Status || tr.To != s.status {
					t.Fatalf("step %d: transition %+v, since %v; want %s -> %s at %v", i, tr, p.view.Since, before.Status, s.status, at)
				}
				if tr.From == StatusDown && !tr.DownSince.Equal(before.Since.Time) {
					t.Fatalf("step %d: recovery DownSince %v, want %v", i, tr.DownSince, before.Since)
				}
			}
		})
	}
}

func TestPeerStateLastSeen(t *testing.T) {
	p := newPeerState(t0)
	if p.view.Status != StatusUnknown || p.view.LastSeen != nil || !p.view.Since.Equal(t0) {
		t.Fatalf("a new peer must be unknown since boot with no last_seen, got %+v", p.view)
	}
	p.observe(false, t0.Add(time.Second), 4, "dec")
	if p.view.LastSeen != nil {
		t.Fatal("a failure set last_seen")
	}
	p.observe(true, t0.Add(2*time.Second), 4, "dec")
	if p.view.LastSeen == nil || !p.view.LastSeen.Equal(t0.Add(2*time.Second)) {
		t.Fatalf("last_seen = %v, want the success time", p.view.LastSeen)
	}
}

func TestPeerViewJSONIsTheSeeds(t *testing.T) {
	seen := Time{t0.Add(19*time.Minute + 30*time.Second + 123*time.Millisecond)}
	v := PeerView{Status: StatusUp, Since: Time{t0.In(time.FixedZone("CEST", 7200))}, LastSeen: &seen, RTT: Millis(2345678 * time.Nanosecond)}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	// The seed's fields, plus rtt_ms (which the seed's aggregator ignores).
	want := `{"status":"up","since":"2026-06-06T12:42:00Z","last_seen":"2026-06-06T13:01:30Z","consecutive_failures":0,"rtt_ms":2.345}`
	if string(b) != want {
		t.Fatalf("got  %s\nwant %s", b, want)
	}
	b, _ = json.Marshal(PeerView{Status: StatusUnknown, Since: Time{t0}})
	if want := `{"status":"unknown","since":"2026-06-06T12:42:00Z","last_seen":null,"consecutive_failures":0,"rtt_ms":null}`; string(b) != want {
		t.Fatalf("got  %s\nwant %s", b, want)
	}
	var back PeerView
	if err := json.Unmarshal([]byte(`{"status":"down","since":"2026-06-06T14:42:00+02:00","last_seen":null,"consecutive_failures":7}`), &back); err != nil {
		t.Fatal(err)
	}
	if !back.Since.Equal(t0) || back.Since.Location() != time.UTC {
		t.Fatalf("an offset time must decode to the same instant in UTC, got %v", back.Since)
	}
}
