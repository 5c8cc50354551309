package actors

import (
	"strings"
	"time"
	"unicode"

	"github.com/dupunkto/mesh/actors/domain"
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
	Subject  domain.Subject
	Severity string
	StartsAt time.Time
	Summary  string   // the message's text, without its emoji and markup
	DownFrom []string // the vantage points that cannot reach the peer
	UpFrom   []string // and those that can
}

// key identifies an alert as Alertmanager does, by its labels (the
// cluster's name is the same for every alert of a node).
func (a Alert) key() string { return alertKey(a.Name, a.Subject.Name) }

func alertKey(name, subject string) string { return name + "\x00" + subject }

// Label is the label that names what the alert is about: "target" for a
// target's, "peer" for a peer's.
func (a Alert) Label() string { return a.Subject.Kind.String() }

// alertName is the alertname of an episode of kind about a subject.
func alertName(kind domain.AnnouncementKind, of domain.Kind) string {
	switch {
	case of == domain.KindTarget && kind == domain.AnnouncedPartial:
		return AlertTargetPartial
	case of == domain.KindTarget:
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

// newAlert is the alert of one episode as judgement j sees it, its
// summary the text of message m.
func newAlert(kind domain.AnnouncementKind, since time.Time, m domain.Message, j judgement) Alert {
	a := Alert{Name: alertName(kind, j.subject.Kind), Subject: j.subject, Severity: "critical", StartsAt: since, Summary: plainText(m.Text),
		DownFrom: j.downFrom, UpFrom: j.upFrom}
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
