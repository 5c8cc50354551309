package actors

import (
	"testing"
	"time"

	"github.com/dupunkto/mesh/actors/domain"
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
		status   domain.Status // after the step
		failures int           // after the step
		change   int
	}
	const threshold = 3
	up := step{true, domain.StatusUp, 0, none}
	cases := []struct {
		name  string
		steps []step
	}{
		{"unknown to up is silent", []step{{true, domain.StatusUp, 0, silent}}},
		{"up stays up without a transition", []step{{true, domain.StatusUp, 0, silent}, up, up}},
		{"failures below the threshold keep a peer up", []step{{true, domain.StatusUp, 0, silent}, {false, domain.StatusUp, 1, none}, {false, domain.StatusUp, 2, none}}},
		{"up to down at the threshold notifies", []step{{true, domain.StatusUp, 0, silent}, {false, domain.StatusUp, 1, none}, {false, domain.StatusUp, 2, none}, {false, domain.StatusDown, 3, notify}}},
		{"unknown to down after the threshold notifies", []step{{false, domain.StatusUnknown, 1, none}, {false, domain.StatusUnknown, 2, none}, {false, domain.StatusDown, 3, notify}}},
		{"down keeps counting without notifying again", []step{{false, domain.StatusUnknown, 1, none}, {false, domain.StatusUnknown, 2, none}, {false, domain.StatusDown, 3, notify}, {false, domain.StatusDown, 4, none}, {false, domain.StatusDown, 5, none}}},
		{"down to up notifies the recovery", []step{{false, domain.StatusUnknown, 1, none}, {false, domain.StatusUnknown, 2, none}, {false, domain.StatusDown, 3, notify}, {true, domain.StatusUp, 0, notify}}},
		{"a success resets the failure count", []step{{true, domain.StatusUp, 0, silent}, {false, domain.StatusUp, 1, none}, {false, domain.StatusUp, 2, none}, up, {false, domain.StatusUp, 1, none}}},
		{"a threshold of one takes a peer down at the first failure", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			th := threshold
			if tc.steps == nil {
				th, tc.steps = 1, []step{{false, domain.StatusDown, 1, notify}}
			}
			p := newSubjectState(domain.Peer("dec"), t0)
			for i, s := range tc.steps {
				at := t0.Add(time.Duration(i+1) * time.Minute)
				before := p.view
				tr, changed := p.observe(s.ok, at, th, 1)
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
				if tr.From == domain.StatusDown && !tr.DownSince.Equal(before.Since) {
					t.Fatalf("step %d: recovery DownSince %v, want %v", i, tr.DownSince, before.Since)
				}
			}
		})
	}
}

func TestPeerStateLastSeen(t *testing.T) {
	p := newSubjectState(domain.Peer("dec"), t0)
	if p.view.Status != domain.StatusUnknown || !p.view.LastSeen.IsZero() || !p.view.Since.Equal(t0) {
		t.Fatalf("a new peer must be unknown since boot with no last_seen, got %+v", p.view)
	}
	p.observe(false, t0.Add(time.Second), 4, 1)
	if !p.view.LastSeen.IsZero() {
		t.Fatal("a failure set last_seen")
	}
	p.observe(true, t0.Add(2*time.Second), 4, 1)
	if p.view.LastSeen.IsZero() || !p.view.LastSeen.Equal(t0.Add(2*time.Second)) {
		t.Fatalf("last_seen = %v, want the success time", p.view.LastSeen)
	}
}

func TestSuccessThreshold(t *testing.T) {
	cases := []struct {
		name  string
		probe []bool // after the peer is down
		want  []domain.Status
	}{
		{"a down peer is up after three successes in a row", []bool{true, true, true}, []domain.Status{domain.StatusDown, domain.StatusDown, domain.StatusUp}},
		{"a failure between successes starts the count again", []bool{true, true, false, true, true, true},
			[]domain.Status{domain.StatusDown, domain.StatusDown, domain.StatusDown, domain.StatusDown, domain.StatusDown, domain.StatusUp}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := newSubjectState(domain.Peer("dec"), t0)
			at := t0
			p.observe(false, at, 1, 3) // down at once
			for i, ok := range tc.probe {
				at = at.Add(time.Second)
				tr, changed := p.observe(ok, at, 1, 3)
				if p.view.Status != tc.want[i] {
					t.Fatalf("probe %d: %s, want %s", i, p.view.Status, tc.want[i])
				}
				if changed && (tr.To != domain.StatusUp || !tr.DownSince.Equal(t0)) {
					t.Fatalf("probe %d: transition %+v, want the recovery of the outage since %v", i, tr, t0)
				}
				if ok && !p.view.LastSeen.Equal(at) {
					t.Fatalf("probe %d: last_seen %v, want each success recorded", i, p.view.LastSeen)
				}
			}
		})
	}
	// From unknown, the first success is enough: the threshold is for coming back.
	p := newSubjectState(domain.Peer("dec"), t0)
	if _, changed := p.observe(true, t0, 4, 3); !changed || p.view.Status != domain.StatusUp {
		t.Fatalf("unknown peer after a success: %s", p.view.Status)
	}
}
