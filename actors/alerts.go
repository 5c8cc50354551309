package actors

import (
	"iter"
	"strings"
	"time"
	"unicode"

	"github.com/dupunkto/mesh/actors/domain"
	"github.com/dupunkto/mesh/config"
)

// The alerts Mesh posts to Alertmanager, by alertname.
const (
	AlertPeerDown      = "MeshPeerDown"      // the cluster's verdict (or, with ALERTS=node, this node's view) is down
	AlertPeerPartial   = "MeshPeerPartial"   // some nodes cannot reach the peer, too few to call it down
	AlertTargetDown    = "MeshTargetDown"    // the same of a target (TARGETS)
	AlertTargetPartial = "MeshTargetPartial" // the same of a target
)

// Alert is one alert this node asserts: the peer's outage as its messages
// tell it, with the same start whichever node posts it, so that
// Alertmanager takes the posts of several nodes as one alert. The labels
// leave the posting node out for the same reason.
type Alert struct {
	Name     string
	Peer     string // the peer's or the target's name
	Severity string
	StartsAt time.Time
	Summary  string   // the message's text, without its emoji and markup
	DownFrom []string // the vantage points that cannot reach the peer
	UpFrom   []string // and those that can
}

// key identifies an alert as Alertmanager does, by its labels (the
// cluster's name is the same for every alert of a node).
func (a Alert) key() string { return alertKey(a.Name, a.Peer) }

func alertKey(name, peer string) string { return name + "\x00" + peer }

// Label is the label that names what the alert is about: "target" for a
// target's, "peer" for a peer's.
func (a Alert) Label() string { return subjectField(a.Peer) }

// subjectField is what labels and log fields call a name: "target" for a
// target's (TARGETS), "peer" for a peer's.
func subjectField(name string) string {
	if config.IsTargetName(name) {
		return "target"
	}
	return "peer"
}

// alertName is the alertname of an episode of kind about a peer, or about
// a target.
func alertName(kind domain.AnnouncementKind, target bool) string {
	switch {
	case target && kind == domain.AnnouncedPartial:
		return AlertTargetPartial
	case target:
		return AlertTargetDown
	case kind == domain.AnnouncedPartial:
		return AlertPeerPartial
	}
	return AlertPeerDown
}

// AlertSet is what a node asserts to Alertmanager at one moment.
type AlertSet struct {
	// Mine are the alerts this node posts: it sends the episode's messages.
	Mine []Alert
	// Elsewhere are the keys of episodes another node sends the messages
	// of now (it announced them, or took them over): this node stops
	// posting them, but must not resolve them either.
	Elsewhere map[string]bool
	// Frozen: this node cannot tell now (it has lost its own network);
	// what it posted stands as it was, and nothing new is posted.
	Frozen bool
}

// AlertSource gives the alerts a node asserts now.
type AlertSource interface {
	Alerts() AlertSet
}

// newAlert is the alert of one episode of peer, its summary the text of
// message m.
func newAlert(kind domain.AnnouncementKind, peer string, since time.Time, m Message, v domain.Verdict) Alert {
	a := Alert{Name: alertName(kind, v.Target()), Peer: peer, Severity: "critical", StartsAt: since, Summary: plainText(m.Text),
		DownFrom: v.DownFrom(), UpFrom: v.UpFrom()}
	if kind == domain.AnnouncedPartial {
		a.Severity = "warning"
	}
	return a
}

// plainText is a message's text without its leading emoji and the
// backticks around the peer's name: chat markup means nothing in
// Alertmanager's templates.
func plainText(text string) string {
	text = strings.TrimLeftFunc(text, func(r rune) bool { return r != '`' && !unicode.IsLetter(r) && !unicode.IsDigit(r) })
	return strings.ReplaceAll(text, "`", "")
}

// NodeAlerts is the alert source of ALERTS=node: each node posts its own
// view, a peer it sees down as MeshPeerDown. Several nodes post the same
// alert; Alertmanager keeps one, firing while any of them sees the peer
// down.
type NodeAlerts struct {
	State interface{ Snapshot() *domain.Snapshot }
}

// Alerts returns a MeshPeerDown for each peer this node sees down, and a
// MeshTargetDown for each target; none while it is isolated.
func (n NodeAlerts) Alerts() AlertSet {
	snap := n.State.Snapshot()
	if snap.Isolated() {
		return AlertSet{Frozen: true}
	}
	var set AlertSet
	add := func(entries iter.Seq[*domain.PeerEntry], name string) {
		for e := range entries {
			if v := e.View(); v.Status == domain.StatusDown {
				m := downMessage(e.Name(), v.Since)
				set.Mine = append(set.Mine, Alert{Name: name, Peer: e.Name(), Severity: "critical", StartsAt: v.Since,
					Summary: plainText(m.Text), DownFrom: []string{snap.Node()}})
			}
		}
	}
	add(snap.Peers(), AlertPeerDown)
	add(snap.Targets(), AlertTargetDown)
	return set
}
