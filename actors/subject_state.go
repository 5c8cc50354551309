package actors

import (
	"time"

	"github.com/dupunkto/mesh/actors/domain"
)

// subjectState is the state owner's private, mutable record of one
// subject, a peer or a target.
type subjectState struct {
	subject domain.Subject
	view    domain.PeerView
	// history is oldest first. Published snapshots share its backing array
	// through domain.History, which is clipped: the owner only ever appends
	// beyond what they hold or reslices its start, so what a reader holds
	// never changes.
	history []domain.HistoryEntry
	// successes counts successful probes in a row while the subject is down.
	successes int
	// cert is the certificate a target's latest TLS handshake met.
	cert domain.Cert
}

func newSubjectState(s domain.Subject, boot time.Time) *subjectState {
	return &subjectState{subject: s, view: domain.PeerView{Status: domain.StatusUnknown, Since: boot}}
}

// entry is the subject as a snapshot publishes it.
func (p *subjectState) entry() *domain.Entry {
	e := domain.NewEntry(p.subject, p.view, domain.NewHistory(p.history))
	if p.cert != (domain.Cert{}) {
		e = e.WithCert(p.cert)
	}
	return e
}

// record appends a transition to the history and forgets what is older
// than domain.HistoryMaxAge or beyond domain.HistoryMaxEntries.
func (p *subjectState) record(t domain.Transition) {
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

// observe applies one probe outcome to the subject, following DESIGN.md's
// Behaviour section, and returns the transition it caused, if any. A down
// subject is up again after successes probes in a row (SUCCESS_THRESHOLD).
func (p *subjectState) observe(ok bool, at time.Time, failures, successes int) (domain.Transition, bool) {
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
		t := domain.Transition{Subject: p.subject, From: v.Status, To: domain.StatusUp, At: at}
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
	t := domain.Transition{Subject: p.subject, From: v.Status, To: domain.StatusDown, At: at, DownSince: at, Failures: v.ConsecutiveFailures}
	v.Status, v.Since = domain.StatusDown, at
	return t, true
}

// measured records a probe's round-trip time, to the microsecond as
// rtt_ms carries it.
func (p *subjectState) measured(rtt time.Duration) {
	p.view.RTT, p.view.HasRTT = rtt.Truncate(time.Microsecond), true
}
