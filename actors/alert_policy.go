package actors

import (
	"time"

	"github.com/dupunkto/mesh/actors/domain"
)

// Policy is what the two alert modes (ALERTS) differ in. There is one
// alert engine, the Notifier; its policy says whose verdict the alerts
// follow and who may send them.
//
//   - ALERTS=cluster: the alerts follow the cluster's verdict; every
//     observer of a subject is a candidate to announce it, elected without
//     a coordinator (see election.go); announcements travel in the relays.
//   - ALERTS=node: the alerts follow this node's own view, as the seed's
//     did; this node is the only candidate, announces at once, and tells
//     nobody else.
type Policy struct {
	// nodes is how many nodes the cluster has, counted in messages that
	// name the vantage points ("from 3 of 5 nodes"); 0 names none, and the
	// verdict is this node's own view.
	nodes int
}

// AlertPolicy returns the policy of ALERTS: cluster alerts in a cluster
// of nodes nodes, or node alerts.
func AlertPolicy(cluster bool, nodes int) Policy {
	if !cluster {
		return Policy{}
	}
	return Policy{nodes: nodes}
}

// cluster reports whether the alerts follow the cluster's verdict.
func (p Policy) cluster() bool { return p.nodes > 0 }

// judgement is the verdict the alerts follow on one subject: which
// episode, if any, it is in, and the vantage points.
type judgement struct {
	subject domain.Subject
	// kind is the episode the subject is in: "" for none.
	kind     domain.AnnouncementKind
	downFrom []string
	upFrom   []string
	// confirmed: the cluster's verdict shows this episode too. An episode
	// that began while this node was cut off is announced only then.
	confirmed bool
	// ownSince is when this node's own view of the subject turned down,
	// if it is down: an outage's downtime counts from there.
	ownSince time.Time
	// held: the subject is in maintenance (a peer stopped on purpose):
	// nothing is told of it until that is over.
	held        bool
	maintenance domain.Maintenance
}

// answering is how many nodes see j's subject at all, up or down: the
// others are down themselves, or their views are stale.
func (j judgement) answering() int { return len(j.downFrom) + len(j.upFrom) }

// judge is the policy's verdict on v's subject as of snap at now.
func (p Policy) judge(snap *domain.Snapshot, v domain.Verdict, now time.Time) judgement {
	clusterKind := episodeKind(v)
	j := judgement{subject: v.Subject()}
	j.maintenance, j.held = snap.Maintenance(v.Name(), now)
	own, _ := snap.View(v.Name())
	if own.Status == domain.StatusDown {
		j.ownSince = own.Since
	}
	if p.cluster() {
		j.kind, j.downFrom, j.upFrom, j.confirmed = clusterKind, v.DownFrom(), v.UpFrom(), true
		return j
	}
	if own.Status == domain.StatusDown {
		j.kind, j.downFrom = domain.AnnouncedDown, []string{snap.Node()}
		j.confirmed = clusterKind == domain.AnnouncedDown
	}
	return j
}

// episodeKind says which episode, if any, the cluster's verdict makes of
// its subject: down when the verdict is, partial when some of its
// observers cannot reach it.
func episodeKind(v domain.Verdict) domain.AnnouncementKind {
	switch {
	case v.Observed() == domain.ClusterDown:
		return domain.AnnouncedDown
	case len(v.DownFrom()) > 0:
		return domain.AnnouncedPartial
	}
	return ""
}

// place is this node's place among the candidates to announce an episode
// of j (0 is first): with cluster alerts, how many of the subject's
// observers (those that see it up or down) have a name before this
// node's; with node alerts, this node is the only one.
//
// Observers that see the subject up count too. Nodes notice an outage up
// to a round apart; one that is a probe behind still shows the subject up,
// and if it were skipped, the node after it would announce at once and the
// two would both send a down message. Counting it costs a slot of delay in
// the rare case it really does see the subject up.
func (p Policy) place(j judgement, self string) int {
	if !p.cluster() {
		return 0
	}
	n := 0
	for _, names := range [][]string{j.downFrom, j.upFrom} {
		for _, o := range names {
			if o < self {
				n++
			}
		}
	}
	return n
}

// shared reports whether announcements go out in this node's relays and
// come in from the others': with cluster alerts. A node alerting on its
// own view tells nobody, so that cluster-alerting nodes beside it do not
// stay quiet for it.
func (p Policy) shared() bool { return p.cluster() }

// restoresOwnDown reports whether a subject this node's own view left down
// counts as announced by it at a restart, when the state file does not say
// (a file of an earlier version, or one written without notifications):
// with node alerts, the own view is the verdict, and a down one was told.
func (p Policy) restoresOwnDown() bool { return !p.cluster() }
