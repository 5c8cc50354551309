package actors

import (
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/dupunkto/mesh/actors/domain"
)

// The alert engine's certificate warnings (followCert): once per
// certificate, and once for the cluster.

const certTarget = "https://shop.example/"

// certSnapshot is node self's snapshot with one HTTPS target whose
// certificate is cert, seen up by self and by the nodes in upFrom (their
// relays, each telling of the certificates in told); self sees the peers
// given up, or down when written "-name".
func certSnapshot(self string, cert domain.Cert, told map[string]string, peers []string, upFrom ...string) *domain.Snapshot {
	up := domain.PeerView{Status: domain.StatusUp, Since: t0}
	relays := map[string]*domain.RelayCopy{}
	for _, n := range upFrom {
		relays[n] = domain.NewRelayCopy(t0, nil).WithTargets(map[string]domain.PeerView{certTarget: up}).Saying(domain.Said{Told: told}, time.Time{})
	}
	var entries []*domain.Entry
	for _, p := range slices.SortedFunc(slices.Values(peers), func(a, b string) int { return strings.Compare(strings.TrimPrefix(a, "-"), strings.TrimPrefix(b, "-")) }) {
		if name, down := strings.CutPrefix(p, "-"); down {
			entries = append(entries, domain.NewEntry(domain.Peer(name), domain.PeerView{Status: domain.StatusDown, Since: t0}, domain.History{}))
			continue
		}
		entries = append(entries, domain.NewEntry(domain.Peer(p), up, domain.History{}))
	}
	entries = append(entries, domain.NewEntry(domain.Target(certTarget), up, domain.History{}).WithCert(cert)) // after every peer's name by its scheme
	s := domain.NewSnapshot(self, entries, relays)
	return s.WithVerdicts(domain.ComputeVerdicts(s, domain.ClusterRule{Fresh: time.Hour}, t0))
}

// certAlerts is an engine of node self that warns 14 days ahead, in a
// cluster of nodes (0: node alerts), with a slot of a minute, listening
// for a minute after its start.
func certAlerts(self string, nodes int, state *settableState, out MessageSink, told map[string]string) *Notifier {
	return NewNotifier(NotifierConfig{Node: self, Policy: AlertPolicy(nodes > 0, nodes), Followups: defaultFollowups,
		Slot: time.Minute, Fresh: time.Minute, CertWarn: 14 * 24 * time.Hour, State: state, Out: out, Saved: domain.AlertRecord{CertsTold: told},
		Now: t0, Log: zerolog.Nop()})
}

func TestACertificateNearItsEndIsToldOfOncePerCertificate(t *testing.T) {
	expiring := domain.Cert{NotAfter: t0.Add(9 * 24 * time.Hour), Fingerprint: "aa"}
	state := &settableState{}
	state.s.Store(certSnapshot("a", domain.Cert{NotAfter: t0.Add(60 * 24 * time.Hour), Fingerprint: "00"}, nil, nil))
	out := &messageRecorder{}
	w := certAlerts("a", 0, state, out, nil)

	if wake := w.process(t0.Add(time.Minute)); !wake.Equal(t0.Add(46 * 24 * time.Hour)) {
		t.Fatalf("looks again at %v, want when the certificate comes within 14 days", wake.Sub(t0))
	}
	if got := out.take(); len(got) != 0 {
		t.Fatalf("a certificate 60 days from its end was told of: %v", got)
	}
	state.s.Store(certSnapshot("a", expiring, nil, nil))
	w.process(t0.Add(time.Minute))
	w.process(t0.Add(time.Hour))
	got := out.take()
	if len(got) != 1 || got[0].text != "🔒 The certificate of `https://shop.example/` expires in 8d 23h (2026-06-15 12:42 UTC)" {
		t.Fatalf("told %v; want one warning", got)
	}
	if !maps.Equal(w.Record().CertsTold, map[string]string{certTarget: "aa"}) {
		t.Fatalf("kept %v for the state file", w.Record().CertsTold)
	}

	// A restart resumes what was told of; a renewed certificate that is
	// about to expire again is told of again.
	w = certAlerts("a", 0, state, out, w.Record().CertsTold)
	w.process(t0.Add(2 * time.Hour))
	state.s.Store(certSnapshot("a", domain.Cert{NotAfter: t0.Add(2 * 24 * time.Hour), Fingerprint: "bb"}, nil, nil))
	w.process(t0.Add(3 * time.Hour))
	if got := out.take(); len(got) != 1 || !strings.Contains(got[0].text, "expires in 1d 21h") {
		t.Fatalf("after a restart and a new certificate: %v; want one warning, of the new one", got)
	}
}

// In cluster mode the nodes the cluster does not call down take turns by
// name, a slot apart, after the quiet start: the first tells, and the
// others, hearing it told in its relays, only mark it, so that none tells
// it again later. A node that does not watch the target, or whose word
// never comes, costs those after it a slot, no more.
func TestInAClusterOneNodeTellsOfACertificate(t *testing.T) {
	expiring := domain.Cert{NotAfter: t0.Add(24 * time.Hour), Fingerprint: "aa"}
	told := map[string]string{certTarget: "aa"}
	for _, tc := range []struct {
		name   string
		self   string
		peers  []string          // up, for the cluster, or down ("-a")
		others []string          // those of them whose view of the target is in
		told   map[string]string // what their relays say was told of
		tells  time.Duration     // after the start; 0: it never tells
	}{
		{"the first tells after the quiet start", "a", []string{"b", "c"}, []string{"b", "c"}, nil, time.Minute},
		{"the second hears the first tell", "b", []string{"a", "c"}, []string{"a", "c"}, told, 0},
		{"the third hears it too", "c", []string{"a", "b"}, []string{"a", "b"}, told, 0},
		{"with the first down, the second tells", "b", []string{"-a", "c"}, []string{"c"}, nil, time.Minute},
		{"the first does not watch the target: the second tells a slot later", "b", []string{"a", "c"}, []string{"c"}, nil, 2 * time.Minute},
	} {
		state := &settableState{}
		state.s.Store(certSnapshot(tc.self, expiring, tc.told, tc.peers, tc.others...))
		out := &messageRecorder{}
		w := certAlerts(tc.self, 3, state, out, nil)
		warnings := func() []sentAt { // the certificate's: a down peer has its own message
			return slices.DeleteFunc(out.take(), func(s sentAt) bool { return !strings.HasPrefix(s.text, "🔒") })
		}
		w.process(t0) // within the quiet start: no message; marked only if heard told
		if got := warnings(); len(got) != 0 || (len(w.Record().CertsTold) != 0) != (tc.told != nil) {
			t.Fatalf("%s: told %v and marked %v before it had heard from the others", tc.name, got, w.Record().CertsTold)
		}
		var toldAt time.Duration
		for at := time.Minute; at <= 5*time.Minute; at += time.Minute {
			w.process(t0.Add(at))
			if got := warnings(); len(got) == 1 && toldAt == 0 {
				toldAt = at
			} else if len(got) != 0 {
				t.Fatalf("%s: told %v at %v", tc.name, got, at)
			}
		}
		if toldAt != tc.tells || w.Record().CertsTold[certTarget] != "aa" {
			t.Errorf("%s: told after %v (want %v), marked %v", tc.name, toldAt, tc.tells, w.Record().CertsTold)
		}
	}
}
