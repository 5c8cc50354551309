// Package actors holds Mesh's supervised goroutines (suture services). Each
// actor owns its state; the others reach it through its methods. The values
// they pass between them are package domain's; the JSON they send and
// serve is package wire's.
package actors

import (
	"time"

	"github.com/dupunkto/mesh/actors/domain"
)

// peerState is the state owner's private, mutable record of one peer.
type peerState struct {
	name string
	view domain.PeerView
	// history is oldest first. Published snapshots share its backing array
	// through domain.History, which is clipped: the owner only ever appends
	// beyond what they hold or reslices its start, so what a reader holds
	// never changes.
	history []domain.HistoryEntry
	// successes counts successful probes in a row while the peer is down.
	successes int
	// cert is the certificate a target's latest TLS handshake met.
	cert domain.Cert
}

func newPeerState(name string, boot time.Time) *peerState {
	return &peerState{name: name, view: domain.PeerView{Status: domain.StatusUnknown, Since: boot}}
}

// entry is the peer as a snapshot publishes it.
func (p *peerState) entry() *domain.PeerEntry {
	e := domain.NewPeerEntry(p.name, p.view, domain.NewHistory(p.history))
	if p.cert != (domain.Cert{}) {
		e = e.WithCert(p.cert)
	}
	return e
}

// record appends a transition to the history and forgets what is older
// than domain.HistoryMaxAge or beyond domain.HistoryMaxEntries.
func (p *peerState) record(t domain.Transition) {
	p.history = pruneHistory(append(p.history, domain.HistoryEntry{Status: t.To, At: t.At}), t.At)
}

// pruneHistory drops entries older than domain.HistoryMaxAge before now and
// all but the newest domain.HistoryMaxEntries.
func pruneHistory(h []domain.HistoryEntry, now time.Time) []domain.HistoryEntry {
	cut := now.Add(-domain.HistoryMaxAge)
	i := 0
	for i < len(h) && h[i].At.Before(cut) {
		i++
	}
	h = h[i:]
	if len(h) > domain.HistoryMaxEntries {
		h = h[len(h)-domain.HistoryMaxEntries:]
	}
	return h
}

// observe applies one probe outcome to the peer, following DESIGN.md's
// Behaviour section, and returns the transition it caused, if any. A down
// peer is up again after successes probes in a row (SUCCESS_THRESHOLD).
func (p *peerState) observe(ok bool, at time.Time, failures, successes int) (domain.Transition, bool) {
	v := &p.view
	if ok {
		v.LastSeen = at
		v.ConsecutiveFailures = 0
		if v.Status == domain.StatusUp {
			return domain.Transition{}, false
		}
		if v.Status == domain.StatusDown {
			if p.successes++; p.successes < successes {
				return domain.Transition{}, false
			}
		}
		p.successes = 0
		t := domain.Transition{Peer: p.name, From: v.Status, To: domain.StatusUp, At: at}
		if v.Status == domain.StatusDown {
			t.DownSince = v.Since
		}
		v.Status, v.Since = domain.StatusUp, at
		return t, true
	}
	p.successes = 0
	v.ConsecutiveFailures++
	if v.ConsecutiveFailures < failures || v.Status == domain.StatusDown {
		return domain.Transition{}, false
	}
	t := domain.Transition{Peer: p.name, From: v.Status, To: domain.StatusDown, At: at, DownSince: at, Failures: v.ConsecutiveFailures}
	v.Status, v.Since = domain.StatusDown, at
	return t, true
}

// measured records a probe's round-trip time, to the microsecond as
// rtt_ms carries it.
func (p *peerState) measured(rtt time.Duration) {
	p.view.RTT, p.view.HasRTT = rtt.Truncate(time.Microsecond), true
}
