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

// certSnapshot is node self's snapshot with one HTTPS target whose
// certificate is cert, seen up by self and by the nodes in upFrom (their
// relays), so that the verdict's up_from is self and them; self sees the
// peers given up, or down when written "-name".
func certSnapshot(self string, cert domain.Cert, peers []string, upFrom ...string) *domain.Snapshot {
	const target = "https://shop.example/"
	up := domain.PeerView{Status: domain.StatusUp, Since: t0}
	relays := map[string]*domain.RelayCopy{}
	for _, n := range upFrom {
		relays[n] = domain.NewRelayCopy(t0, nil).WithTargets(map[string]domain.PeerView{target: up})
	}
	var entries []*domain.Entry
	for _, p := range slices.SortedFunc(slices.Values(peers), func(a, b string) int { return strings.Compare(strings.TrimPrefix(a, "-"), strings.TrimPrefix(b, "-")) }) {
		if name, down := strings.CutPrefix(p, "-"); down {
			entries = append(entries, domain.NewEntry(domain.Peer(name), domain.PeerView{Status: domain.StatusDown, Since: t0}, domain.History{}))
			continue
		}
		entries = append(entries, domain.NewEntry(domain.Peer(p), up, domain.History{}))
	}
	entries = append(entries, domain.NewEntry(domain.Target(target), up, domain.History{}).WithCert(cert)) // after every peer's name by its scheme
	s := domain.NewSnapshot(self, entries, relays)
	return s.WithVerdicts(domain.ComputeVerdicts(s, domain.ClusterRule{Fresh: time.Hour}, t0))
}

func TestACertificateNearItsEndIsToldOfOncePerCertificate(t *testing.T) {
	expiring := domain.Cert{NotAfter: t0.Add(9 * 24 * time.Hour), Fingerprint: "aa"}
	state := &settableState{}
	state.s.Store(certSnapshot("a", domain.Cert{NotAfter: t0.Add(60 * 24 * time.Hour), Fingerprint: "00"}, nil))
	out := &messageRecorder{}
	w := NewCertWatch(CertWatchConfig{Node: "a", Warn: 14 * 24 * time.Hour, State: state, Out: out, Now: t0, Log: zerolog.Nop()})

	w.look(t0)
	if got := out.take(); len(got) != 0 {
		t.Fatalf("a certificate 60 days from its end was told of: %v", got)
	}
	state.s.Store(certSnapshot("a", expiring, nil))
	w.look(t0)
	w.look(t0.Add(time.Hour))
	got := out.take()
	if len(got) != 1 || got[0].text != "🔒 The certificate of `https://shop.example/` expires in 9d 0h (2026-06-15 12:42 UTC)" {
		t.Fatalf("told %v; want one warning", got)
	}
	if !maps.Equal(w.Warned(), map[string]string{"https://shop.example/": "aa"}) {
		t.Fatalf("kept %v for the state file", w.Warned())
	}

	// A restart resumes what was told of; a renewed certificate that is
	// about to expire again is told of again.
	w = NewCertWatch(CertWatchConfig{Node: "a", Warn: 14 * 24 * time.Hour, State: state, Out: out, Saved: w.Warned(), Now: t0, Log: zerolog.Nop()})
	w.look(t0.Add(2 * time.Hour))
	state.s.Store(certSnapshot("a", domain.Cert{NotAfter: t0.Add(2 * 24 * time.Hour), Fingerprint: "bb"}, nil))
	w.look(t0.Add(3 * time.Hour))
	if got := out.take(); len(got) != 1 || !strings.Contains(got[0].text, "expires in 1d 21h") {
		t.Fatalf("after a restart and a new certificate: %v; want one warning, of the new one", got)
	}
}

// In cluster mode the first node that sees the target up tells; the others
// mark the certificate told of, so that none tells it again later.
func TestInAClusterTheFirstNodeThatSeesTheTargetUpTells(t *testing.T) {
	expiring := domain.Cert{NotAfter: t0.Add(24 * time.Hour), Fingerprint: "aa"}
	for _, tc := range []struct {
		self   string
		peers  []string // up, for the cluster
		others []string // those of them whose view of the target is in
		tells  bool
	}{
		{"a", []string{"b", "c"}, []string{"b", "c"}, true},
		{"b", []string{"a", "c"}, []string{"a", "c"}, false},
		{"c", []string{"a", "b"}, []string{"a", "b"}, false},
		{"b", []string{"-a", "c"}, []string{"c"}, true}, // a is down: b is first
	} {
		state := &settableState{}
		state.s.Store(certSnapshot(tc.self, expiring, tc.peers, tc.others...))
		out := &messageRecorder{}
		w := NewCertWatch(CertWatchConfig{Node: tc.self, Warn: 14 * 24 * time.Hour, Cluster: true, Quiet: time.Minute, State: state, Out: out, Now: t0, Log: zerolog.Nop()})
		w.look(t0) // within the quiet start: nothing, not even marked
		if len(w.Warned()) != 0 {
			t.Fatalf("%s marked a certificate before it had heard from the others", tc.self)
		}
		w.look(t0.Add(time.Minute))
		if got := out.take(); (len(got) == 1) != tc.tells || w.Warned()["https://shop.example/"] != "aa" {
			t.Errorf("%s with %v seeing it up: told %v (want telling: %v), marked %v", tc.self, tc.others, got, tc.tells, w.Warned())
		}
	}

	// b has not heard a's view yet (a just started, or its relay is late):
	// it does not take itself for the first, and decides nothing until it
	// has.
	state := &settableState{}
	state.s.Store(certSnapshot("b", expiring, []string{"a", "c"}, "c"))
	out := &messageRecorder{}
	w := NewCertWatch(CertWatchConfig{Node: "b", Warn: 14 * 24 * time.Hour, Cluster: true, Quiet: time.Minute, State: state, Out: out, Now: t0, Log: zerolog.Nop()})
	w.look(t0.Add(time.Minute))
	if got := out.take(); len(got) != 0 || len(w.Warned()) != 0 {
		t.Fatalf("b without a's view told %v and marked %v", got, w.Warned())
	}
	state.s.Store(certSnapshot("b", expiring, []string{"a", "c"}, "a", "c"))
	w.look(t0.Add(2 * time.Minute))
	if got := out.take(); len(got) != 0 || w.Warned()["https://shop.example/"] != "aa" {
		t.Fatalf("b with every view: told %v, marked %v; want a left to tell, and it marked", got, w.Warned())
	}
}
