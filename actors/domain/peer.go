package domain

import "time"

// PeerView is what one node knows of one peer: the value under "peers" in
// /state and in a relay. It is a plain value with no pointers, so a copy
// shares nothing with the snapshot it came from.
type PeerView struct {
	Status Status
	// Since is when the current status began.
	Since time.Time
	// LastSeen is the last successful probe; zero until the first.
	LastSeen            time.Time
	ConsecutiveFailures int
	// RTT is the last probe's round-trip time, success or not. HasRTT is
	// false before the first probe, and in views relayed by nodes that do
	// not send it (the seed's).
	RTT    time.Duration
	HasRTT bool
}

// ProbeResult is one probe's outcome, sent by a prober to the state owner.
type ProbeResult struct {
	Subject Subject
	At      time.Time // when the probe finished
	OK      bool
	Err     error // why it failed; nil when OK
	RTT     time.Duration
	// Cert is the certificate a target's probe over TLS met, even when
	// the probe failed after the handshake; zero otherwise.
	Cert Cert
}

// Transition is a change of a subject's status, emitted by the state owner
// to whoever must act on it (the state file writer, metrics).
type Transition struct {
	Subject  Subject
	From, To Status
	At       time.Time
	// DownSince is when the outage began: for a recovery (To == up after
	// down) it is the start of the downtime being reported.
	DownSince time.Time
	Failures  int
}

// Notifies reports whether a transition deserves a message: every change
// except the silent unknown -> up at boot.
func (t Transition) Notifies() bool {
	return !(t.From == StatusUnknown && t.To == StatusUp)
}

// Cert is what a target's probe learnt of the certificate its server
// showed: when it expires, and its SHA-256 fingerprint, so that a warning
// is said once per certificate, and again for its successor.
type Cert struct {
	NotAfter    time.Time
	Fingerprint string // hex; "" when no certificate was seen
}
