package actors

import (
	"testing"
	"time"

	"github.com/dupunkto/mesh/actors/domain"
	"github.com/rs/zerolog"
)

// With ALERTS=node each node asserts its own view: a MeshPeerDown for each
// peer it sees down, from its outage's start; none while it is isolated.
func TestNodeAlertsAreThisNodesOwnView(t *testing.T) {
	t0 := time.Date(2026, 11, 26, 3, 0, 0, 0, time.UTC)
	snap := domain.NewSnapshot("nov", []*domain.Entry{
		domain.NewEntry(domain.Peer("dec"), domain.PeerView{Status: domain.StatusDown, Since: t0}, domain.History{}),
		domain.NewEntry(domain.Peer("feb"), domain.PeerView{Status: domain.StatusUnknown}, domain.History{}),
		domain.NewEntry(domain.Peer("jan"), domain.PeerView{Status: domain.StatusUp, Since: t0}, domain.History{}),
	}, nil)
	alerts := func(s *domain.Snapshot) AlertSet {
		s = s.WithVerdicts(domain.ComputeVerdicts(s, domain.ClusterRule{Fresh: time.Second}, t0))
		return NewNotifier(NotifierConfig{Node: "nov", Policy: AlertPolicy(false, 0), Followups: defaultFollowups, State: fixedState{s: s},
			Out: &messageRecorder{}, Now: t0, Log: zerolog.Nop()}).Alerts()
	}
	set := alerts(snap)
	want := Alert{Name: AlertPeerDown, Subject: domain.Peer("dec"), Severity: "critical", StartsAt: t0, Summary: "dec is unreachable", DownFrom: []string{"nov"}}
	if len(set.Mine) != 1 || set.Frozen || set.Mine[0].key() != want.key() || set.Mine[0].Summary != want.Summary ||
		!set.Mine[0].StartsAt.Equal(t0) || len(set.Mine[0].DownFrom) != 1 || set.Mine[0].DownFrom[0] != "nov" {
		t.Fatalf("asserts %+v, want %+v", set, want)
	}
	if set := alerts(snap.WithIsolated(true)); !set.Frozen || len(set.Mine) != 0 {
		t.Fatalf("an isolated node asserts %+v, want nothing, frozen", set)
	}
}

func TestPlainTextDropsTheEmojiAndTheMarkup(t *testing.T) {
	for in, want := range map[string]string{
		"🔴 `dec` is unreachable from 2 of 3 nodes (jan, nov)": "dec is unreachable from 2 of 3 nodes (jan, nov)",
		"🟢 `dec` is reachable again (down for 5m 0s)":         "dec is reachable again (down for 5m 0s)",
		"plain": "plain",
	} {
		if got := plainText(in); got != want {
			t.Errorf("plainText(%q) = %q, want %q", in, got, want)
		}
	}
}
