// Package actors holds Mesh's supervised goroutines (suture services) and
// the domain types they pass between them. Each actor owns its state; the
// others reach it through its methods.
package actors

import (
	"encoding/json"
	"fmt"
	"time"
)

// Status is what a node believes of a peer.
type Status string

// The three statuses of the wire contract.
const (
	StatusUnknown Status = "unknown"
	StatusUp      Status = "up"
	StatusDown    Status = "down"
)

// Valid reports whether s is one of the three statuses.
func (s Status) Valid() bool {
	return s == StatusUnknown || s == StatusUp || s == StatusDown
}

// Time is a wall-clock instant that travels as RFC 3339 in UTC with a Z and
// whole seconds, exactly as the seed document shows it.
type Time struct{ time.Time }

// MarshalJSON writes the seed's format.
func (t Time) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, len(time.RFC3339)+2)
	b = append(b, '"')
	b = t.UTC().AppendFormat(b, time.RFC3339)
	return append(b, '"'), nil
}

// UnmarshalJSON accepts any RFC 3339 time (other nodes may send fractions or
// offsets) and keeps it in UTC.
func (t *Time) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("not an RFC 3339 time string")
	}
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return fmt.Errorf("%q is not an RFC 3339 time", s)
	}
	t.Time = v.UTC()
	return nil
}

// PeerView is what one node knows of one peer. It is the value under
// "peers" in /state and in a relay, so its JSON is the wire contract.
type PeerView struct {
	Status              Status `json:"status"`
	Since               Time   `json:"since"`
	LastSeen            *Time  `json:"last_seen"` // nil until the first successful probe
	ConsecutiveFailures int    `json:"consecutive_failures"`
	// RTT is the last probe's round-trip time in milliseconds, success or
	// not; nil before the first. The seed's aggregator ignores it.
	RTT *float64 `json:"rtt_ms"`
}

// Millis is d in milliseconds to the microsecond, as rtt_ms carries it.
func Millis(d time.Duration) *float64 {
	ms := float64(d.Microseconds()) / 1000
	return &ms
}

// ProbeResult is one probe's outcome, sent by a prober to the state owner.
type ProbeResult struct {
	Peer string
	At   time.Time // when the probe finished
	OK   bool
	Err  error // why it failed; nil when OK
	RTT  time.Duration
}

// Transition is a change of a peer's status, emitted by the state owner to
// whoever must act on it (the notifier, the state file writer, metrics).
type Transition struct {
	Peer     string
	From, To Status
	At       time.Time
	// DownSince is when the outage began: for a recovery (To == up after
	// down) it is the start of the downtime being reported.
	DownSince time.Time
	Failures  int
}

// History limits: what /history and the state file keep per peer.
const (
	HistoryMaxAge     = 90 * 24 * time.Hour
	HistoryMaxEntries = 10000
)

// HistoryEntry is one transition to up or down, kept in a peer's history.
type HistoryEntry struct {
	Status Status
	At     time.Time
}

// peerState is the state owner's private, mutable record of one peer.
type peerState struct {
	view PeerView
	// history is oldest first. Published snapshots share its backing array:
	// the owner only ever appends beyond their length or reslices its
	// start, so what a reader holds never changes.
	history []HistoryEntry
}

// record appends a transition to the history and forgets what is older
// than HistoryMaxAge or beyond HistoryMaxEntries.
func (p *peerState) record(t Transition) {
	p.history = pruneHistory(append(p.history, HistoryEntry{Status: t.To, At: t.At}), t.At)
}

// pruneHistory drops entries older than HistoryMaxAge before now and all
// but the newest HistoryMaxEntries.
func pruneHistory(h []HistoryEntry, now time.Time) []HistoryEntry {
	cut := now.Add(-HistoryMaxAge)
	i := 0
	for i < len(h) && h[i].At.Before(cut) {
		i++
	}
	h = h[i:]
	if len(h) > HistoryMaxEntries {
		h = h[len(h)-HistoryMaxEntries:]
	}
	return h
}

func newPeerState(boot time.Time) *peerState {
	return &peerState{view: PeerView{Status: StatusUnknown, Since: Time{boot}}}
}

// observe applies one probe outcome to the peer, following DESIGN.md's
// Behaviour section, and returns the transition it caused, if any.
func (p *peerState) observe(ok bool, at time.Time, threshold int, name string) (Transition, bool) {
	v := &p.view
	if ok {
		seen := Time{at}
		v.LastSeen = &seen
		v.ConsecutiveFailures = 0
		if v.Status == StatusUp {
			return Transition{}, false
		}
		t := Transition{Peer: name, From: v.Status, To: StatusUp, At: at}
		if v.Status == StatusDown {
			t.DownSince = v.Since.Time
		}
		v.Status, v.Since = StatusUp, Time{at}
		return t, true
	}
	v.ConsecutiveFailures++
	if v.ConsecutiveFailures < threshold || v.Status == StatusDown {
		return Transition{}, false
	}
	t := Transition{Peer: name, From: v.Status, To: StatusDown, At: at, DownSince: at, Failures: v.ConsecutiveFailures}
	v.Status, v.Since = StatusDown, Time{at}
	return t, true
}

// Notifies reports whether a transition deserves a message: every change
// except the silent unknown -> up at boot.
func (t Transition) Notifies() bool {
	return !(t.From == StatusUnknown && t.To == StatusUp)
}
