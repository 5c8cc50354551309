// Package statefile is the document a node keeps in STATE_FILE: its
// types, its JSON encoding and decoding, what a valid one holds, and its
// format version. It does no I/O: the state file writer (actors'
// StateFile) reads and writes the file, and each actor hands over, and
// takes back at start, one value of its own: the owner its subjects' views
// and histories, the alert engine its record, the channels their
// undelivered messages.
package statefile

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/dupunkto/mesh/actors/domain"
	"github.com/dupunkto/mesh/config"
)

// Version is the format of the state file. A file of another version is
// not guessed at. Fields added since version 1 are optional, so that a
// file written before them reads as it did.
const Version = 1

// Document is what the state file holds, as the actors use it.
type Document struct {
	Node    string
	SavedAt time.Time
	// Subjects are the peers' and the targets' views and histories, by name.
	Subjects map[string]Subject
	// Alerts is the alert engine's record: what it announced and heard
	// of, and the certificates told of.
	Alerts domain.AlertRecord
	// Pending are the messages not yet delivered, by channel name, each
	// channel's oldest first: a down message being retried when the node
	// stops is sent by the next run, not lost.
	Pending map[string][]domain.Message
}

// Subject is one subject as a previous run left it. Times keep their full
// precision, unlike on the wire, so that a restart changes nothing.
type Subject struct {
	Subject domain.Subject
	View    domain.PeerView
	// History is oldest first.
	History []domain.HistoryEntry
}

// WebhookChannel is the name of WEBHOOK_URL's channel, which files written
// before NOTIFY_URLS leave unnamed.
const WebhookChannel = "webhook"

// Bounds on what Decode accepts, beyond which a file is not one a node
// wrote: at most this many reminders for one outage (a year of reminders
// a minute apart is half a million), messages of at most this length
// (Mesh's are under 200 bytes), and as many pending messages as the
// channels' queues hold.
const (
	maxReminders   = 1 << 20
	maxMessageText = 2000
	// MaxPending is how many undelivered messages a file may hold: each of
	// WEBHOOK_URL and NOTIFY_URLS's channels with a full queue and one in
	// flight.
	MaxPending = (1 + config.MaxNotifyURLs) * (256 + 1)
	// MaxAnnouncements is one per subject at most.
	MaxAnnouncements = 1000 + config.MaxTargets
)

// file is the JSON of the state file.
type file struct {
	Version int                 `json:"version"`
	Node    string              `json:"node"`
	SavedAt time.Time           `json:"saved_at"`
	Peers   map[string]fileView `json:"peers"`
	// Targets are the targets' views and histories, as Peers.
	Targets       map[string]fileView `json:"targets,omitempty"`
	Messages      []fileMessage       `json:"pending_messages,omitempty"`
	Announcements []fileAnnouncement  `json:"announcements,omitempty"`
	// CertWarned are the certificates told of as expiring (or seen told
	// of), their fingerprints by target.
	CertWarned map[string]string `json:"cert_warned,omitempty"`
}

type fileView struct {
	Status              domain.Status `json:"status"`
	Since               time.Time     `json:"since"`
	LastSeen            *time.Time    `json:"last_seen"`
	ConsecutiveFailures int           `json:"consecutive_failures"`
	// RemindersSent is how many reminders the outage had: what files of
	// node alerts held before the alert engine's record took it over.
	// Read, never written.
	RemindersSent *int             `json:"reminders_sent,omitempty"`
	History       []fileTransition `json:"history"`
}

type fileTransition struct {
	Status domain.Status `json:"status"`
	At     time.Time     `json:"at"`
}

type fileMessage struct {
	// Channel is the channel it waits for; absent in files written before
	// NOTIFY_URLS, when WEBHOOK_URL was the only one.
	Channel string `json:"channel,omitempty"`
	Kind    string `json:"kind"` // a MessageKind's String
	// Peer is the name of the subject it tells of; Of says what kind of
	// subject that is ("target"), absent for a peer and in older files,
	// where the file's own sections tell.
	Peer string    `json:"peer"`
	Of   string    `json:"of,omitempty"`
	Text string    `json:"text"`
	At   time.Time `json:"at"`
}

type fileAnnouncement struct {
	Peer      string                  `json:"peer"`
	Of        string                  `json:"of,omitempty"` // as fileMessage's
	By        string                  `json:"by"`
	Kind      domain.AnnouncementKind `json:"kind"`
	Since     time.Time               `json:"since"`
	Reminders int                     `json:"reminders"`
}

// Encode writes d as the state file, saved at d.SavedAt.
func Encode(d Document) ([]byte, error) {
	f := file{Version: Version, Node: d.Node, SavedAt: d.SavedAt.UTC(), Peers: map[string]fileView{}, CertWarned: d.Alerts.CertsTold}
	for name, s := range d.Subjects {
		v := fileView{Status: s.View.Status, Since: s.View.Since.UTC(), ConsecutiveFailures: s.View.ConsecutiveFailures,
			History: make([]fileTransition, len(s.History))}
		if !s.View.LastSeen.IsZero() {
			seen := s.View.LastSeen.UTC()
			v.LastSeen = &seen
		}
		for i, h := range s.History {
			v.History[i] = fileTransition{Status: h.Status, At: h.At.UTC()}
		}
		if s.Subject.Kind == domain.KindTarget {
			if f.Targets == nil {
				f.Targets = map[string]fileView{}
			}
			f.Targets[name] = v
			continue
		}
		f.Peers[name] = v
	}
	for _, a := range d.Alerts.Announcements {
		f.Announcements = append(f.Announcements, fileAnnouncement{Peer: a.Subject.Name, Of: of(a.Subject), By: a.By, Kind: a.Kind,
			Since: a.Since.UTC(), Reminders: a.Reminders})
	}
	for _, channel := range slices.Sorted(maps.Keys(d.Pending)) {
		for _, m := range d.Pending[channel] {
			f.Messages = append(f.Messages, fileMessage{Channel: channel, Kind: m.Kind.String(), Peer: m.Subject.Name, Of: of(m.Subject),
				Text: m.Text, At: m.At.UTC()})
		}
	}
	return json.Marshal(f)
}

// of is what a file's "of" says of a subject's kind: nothing for a peer.
func of(s domain.Subject) string {
	if s.Kind == domain.KindTarget {
		return s.Kind.String()
	}
	return ""
}

// Decoded is a document as Decode read it, and what it had to mend.
type Decoded struct {
	Document
	// Clamped counts the times after now the file held, taken as now.
	Clamped int
}

// Decode reads a state file as of now. It refuses what a node would
// never have written: another version, unknown statuses, invalid names,
// transitions out of order, more of anything than the bounds. Times after
// now, which a clock stepped back leaves behind, are taken as now: an
// outage must not look as if it began in the future, or its recovery
// would report a negative downtime.
func Decode(data []byte, now time.Time) (Decoded, error) {
	var f file
	if err := json.Unmarshal(data, &f); err != nil {
		return Decoded{}, fmt.Errorf("not a state file: %w", err)
	}
	if f.Version != Version {
		return Decoded{}, fmt.Errorf("state file version %d, this node reads %d", f.Version, Version)
	}
	d := Decoded{Document: Document{Node: f.Node, SavedAt: f.SavedAt, Subjects: map[string]Subject{}, Pending: map[string][]domain.Message{}}}
	notAfterNow := func(t time.Time) time.Time {
		if t.After(now) {
			d.Clamped++
			return now
		}
		return t
	}
	if len(f.Targets) > config.MaxTargets {
		return Decoded{}, fmt.Errorf("%d targets, more than %d", len(f.Targets), config.MaxTargets)
	}
	var legacy []domain.AnnouncementRecord // reminders_sent, of files of node alerts
	for _, section := range []struct {
		views map[string]fileView
		kind  domain.Kind
	}{{f.Peers, domain.KindPeer}, {f.Targets, domain.KindTarget}} {
		for name, v := range section.views {
			subject := domain.Subject{Name: name, Kind: section.kind}
			s, err := decodeSubject(subject, v, notAfterNow)
			if err != nil {
				return Decoded{}, fmt.Errorf("%s %q: %w", section.kind, name, err)
			}
			d.Subjects[name] = s
			if v.RemindersSent != nil && v.Status == domain.StatusDown {
				if *v.RemindersSent < 0 || *v.RemindersSent > maxReminders {
					return Decoded{}, fmt.Errorf("%s %q: reminders_sent %d is not 0 to %d", section.kind, name, *v.RemindersSent, maxReminders)
				}
				legacy = append(legacy, domain.AnnouncementRecord{Subject: subject, By: f.Node,
					Announcement: domain.Announcement{Kind: domain.AnnouncedDown, Since: s.View.Since, Reminders: *v.RemindersSent}})
			}
		}
	}
	// subjectOf is the subject a message or an announcement names: its
	// kind is the one the file says, else the section the file lists it
	// in, else a peer's, as files before targets had only peers.
	subjectOf := func(name, said string) (domain.Subject, error) {
		kind := domain.KindPeer
		if s, ok := d.Subjects[name]; ok {
			kind = s.Subject.Kind
		}
		switch said {
		case "":
		case domain.KindTarget.String():
			kind = domain.KindTarget
		default:
			return domain.Subject{}, fmt.Errorf("of %q is not target", said)
		}
		s := domain.Subject{Name: name, Kind: kind}
		return s, validName(s)
	}

	if len(f.Messages) > MaxPending {
		return Decoded{}, fmt.Errorf("%d pending messages, more than the queues hold", len(f.Messages))
	}
	for i, m := range f.Messages {
		kind, ok := domain.ParseMessageKind(m.Kind)
		subject, err := subjectOf(m.Peer, m.Of)
		if !ok || err != nil || m.Text == "" || len(m.Text) > maxMessageText || !validChannelName(m.Channel) {
			return Decoded{}, fmt.Errorf("pending message %d: invalid channel, kind, subject or text", i)
		}
		channel := cmp.Or(m.Channel, WebhookChannel)
		d.Pending[channel] = append(d.Pending[channel], domain.Message{Kind: kind, Subject: subject, Text: m.Text, At: m.At})
	}

	if len(f.Announcements) > MaxAnnouncements {
		return Decoded{}, fmt.Errorf("%d announcements, more than a node makes", len(f.Announcements))
	}
	for i, a := range f.Announcements {
		subject, err := subjectOf(a.Peer, a.Of)
		if err != nil || config.ValidateName(a.By) != nil || !a.Kind.Valid() || a.Since.IsZero() || a.Reminders < 0 || a.Reminders > maxReminders {
			return Decoded{}, fmt.Errorf("announcement %d: invalid subject, node, kind, since or reminders", i)
		}
		d.Alerts.Announcements = append(d.Alerts.Announcements, domain.AnnouncementRecord{Subject: subject, By: a.By,
			Announcement: domain.Announcement{Kind: a.Kind, Since: notAfterNow(a.Since), Reminders: a.Reminders}})
	}
	for _, r := range legacy {
		if !slices.ContainsFunc(d.Alerts.Announcements, func(a domain.AnnouncementRecord) bool { return a.Subject == r.Subject }) {
			d.Alerts.Announcements = append(d.Alerts.Announcements, r)
		}
	}
	slices.SortFunc(d.Alerts.Announcements, func(a, b domain.AnnouncementRecord) int { return cmp.Compare(a.Subject.Name, b.Subject.Name) })

	if len(f.CertWarned) > config.MaxTargets {
		return Decoded{}, fmt.Errorf("%d certificates told of, more than %d targets", len(f.CertWarned), config.MaxTargets)
	}
	for target, fp := range f.CertWarned {
		if config.ValidateTargetName(target) != nil || fp == "" || len(fp) > 64 {
			return Decoded{}, fmt.Errorf("cert_warned %q: invalid target or fingerprint", target)
		}
	}
	d.Alerts.CertsTold = f.CertWarned
	return d, nil
}

// decodeSubject checks and converts one subject's view and history.
func decodeSubject(s domain.Subject, v fileView, notAfterNow func(time.Time) time.Time) (Subject, error) {
	if err := validName(s); err != nil {
		return Subject{}, err
	}
	if !v.Status.Valid() || v.Since.IsZero() || v.ConsecutiveFailures < 0 {
		return Subject{}, errors.New("invalid status, since or failures")
	}
	if len(v.History) > domain.HistoryMaxEntries {
		return Subject{}, fmt.Errorf("%d transitions, more than %d", len(v.History), domain.HistoryMaxEntries)
	}
	out := Subject{Subject: s, View: domain.PeerView{Status: v.Status, Since: notAfterNow(v.Since), ConsecutiveFailures: v.ConsecutiveFailures}}
	if v.LastSeen != nil {
		out.View.LastSeen = notAfterNow(*v.LastSeen)
	}
	for i, h := range v.History {
		if h.Status != domain.StatusUp && h.Status != domain.StatusDown {
			return Subject{}, fmt.Errorf("history status %q", h.Status)
		}
		if i > 0 && h.At.Before(v.History[i-1].At) {
			return Subject{}, fmt.Errorf("history out of order at entry %d", i)
		}
		out.History = append(out.History, domain.HistoryEntry{Status: h.Status, At: notAfterNow(h.At)})
	}
	return out, nil
}

// validName checks a subject's name as config would have made it.
func validName(s domain.Subject) error {
	if s.Kind == domain.KindTarget {
		return config.ValidateTargetName(s.Name)
	}
	return config.ValidateName(s.Name)
}

// validChannelName reports whether a channel's name could be one a node
// gives its channels ("webhook", "telegram", "telegram-2"), or empty
// (WEBHOOK_URL's, in older files).
func validChannelName(name string) bool {
	return len(name) <= 64 && !strings.ContainsFunc(name, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-')
	})
}
