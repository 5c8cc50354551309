package actors

import (
	"slices"
	"testing"
	"time"

	"github.com/dupunkto/mesh/actors/domain"
)

// The two policies judge the same snapshot: cluster alerts by the
// cluster's verdict, node alerts by this node's own view alone.
func TestThePoliciesJudgeByTheirOwnVerdict(t *testing.T) {
	view := func(st domain.Status) domain.PeerView { return domain.PeerView{Status: st, Since: t0} }
	// me sees p down and q up; x and y see p up and q down.
	snap := domain.NewSnapshot("me", []*domain.Entry{
		domain.NewEntry(domain.Peer("p"), view(domain.StatusDown), domain.History{}),
		domain.NewEntry(domain.Peer("q"), view(domain.StatusUp), domain.History{}),
	}, map[string]*domain.RelayCopy{
		"x": domain.NewRelayCopy(t0, map[string]domain.PeerView{"p": view(domain.StatusUp), "q": view(domain.StatusDown)}),
		"y": domain.NewRelayCopy(t0, map[string]domain.PeerView{"p": view(domain.StatusUp), "q": view(domain.StatusDown)}),
	})
	snap = snap.WithVerdicts(domain.ComputeVerdicts(snap, domain.ClusterRule{Fresh: time.Minute}, t0))
	judge := func(p Policy, name string) judgement {
		v, _ := snap.Verdicts().Of(name)
		return p.judge(snap, v, time.Now())
	}
	cluster, node := AlertPolicy(true, 3), AlertPolicy(false, 0)
	if j := judge(cluster, "p"); j.kind != domain.AnnouncedPartial || !slices.Equal(j.downFrom, []string{"me"}) || !j.ownSince.Equal(t0) {
		t.Errorf("cluster alerts on p: %+v, want partial, down from me", j)
	}
	if j := judge(cluster, "q"); j.kind != domain.AnnouncedDown || !slices.Equal(j.downFrom, []string{"x", "y"}) || !j.confirmed {
		t.Errorf("cluster alerts on q: %+v, want down from x and y", j)
	}
	if j := judge(node, "p"); j.kind != domain.AnnouncedDown || !slices.Equal(j.downFrom, []string{"me"}) || j.confirmed {
		t.Errorf("node alerts on p: %+v, want down from me, the cluster not confirming", j)
	}
	if j := judge(node, "q"); j.kind != "" {
		t.Errorf("node alerts on q: %+v, want nothing: this node sees it up", j)
	}
	if node.place(judgement{downFrom: []string{"a", "b"}}, "c") != 0 || cluster.place(judgement{downFrom: []string{"a"}, upFrom: []string{"b", "d"}}, "c") != 2 {
		t.Error("node alerts have one candidate; cluster alerts count every observer before this node")
	}
	if !cluster.shared() || node.shared() || node.restoresOwnDown() == cluster.restoresOwnDown() {
		t.Error("only cluster alerts share announcements; only node alerts take an own down for announced")
	}
}
