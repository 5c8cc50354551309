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
	// Isolations are the node's spells of isolation, oldest first, which
	// its history marks.
	Isolations []domain.Span
	// Left are the peers that said they were stopping on purpose and had
	// not relayed again, and when each said so.
	Left map[string]time.Time
	// Silences are the cluster's silences the node knew, by ID.
	Silences []domain.Silence
	// Keys are the peers' keys the node pinned, by name (wire.EncodeKey).
	Keys map[string]string
}

// Subject is one subject as a previous run left it. Times keep their full
// precision, unlike on the wire, so that a restart changes nothing.
type Subject struct {
	Subject domain.Subject
	View    domain.PeerView
	// History is oldest first.
	History []domain.HistoryEntry
	// Maintained are its spells of maintenance, oldest first, the last
	// without an end if it lasted when the node stopped.
	Maintained []domain.MaintenanceSpell
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
	// Ended are the episodes the node saw end with their last message,
	// as its relays tell them (domain.Ending).
	Ended []fileEnding `json:"ended,omitempty"`
	// CertWarned are the certificates told of as expiring (or seen told
	// of), their fingerprints by target.
	CertWarned map[string]string `json:"cert_warned,omitempty"`
	// Isolated are the node's spells of isolation, oldest first; the last
	// has no "to" if it lasted when the node stopped.
	Isolated []fileSpan `json:"isolated,omitempty"`
	// Left are the peers that had stopped on purpose (see Document.Left).
	Left map[string]time.Time `json:"left,omitempty"`
	// Silences are the silences the node knew (see Document.Silences).
	Silences []fileSilence `json:"silences,omitempty"`
	// PeerKeys are the peers' keys the node pinned (see Document.Keys).
	PeerKeys map[string]string `json:"peer_keys,omitempty"`
}

type fileSilence struct {
	ID      string    `json:"id"`
	Matcher string    `json:"matcher"`
	Start   time.Time `json:"start"`
	End     time.Time `json:"end"`
	By      string    `json:"by,omitempty"`
	Comment string    `json:"comment,omitempty"`
	Node    string    `json:"node"`
	Updated time.Time `json:"updated"`
}

type fileSpan struct {
	From time.Time  `json:"from"`
	To   *time.Time `json:"to,omitempty"`
}

func fileSpanOf(s domain.Span) fileSpan {
	fs := fileSpan{From: s.From.UTC()}
	if !s.Ongoing() {
		to := s.To.UTC()
		fs.To = &to
	}
	return fs
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
	// Maintenance are its spells of maintenance (see Subject.Maintained).
	Maintenance []fileMaintenance `json:"maintenance,omitempty"`
}

type fileMaintenance struct {
	fileSpan
	Reason domain.MaintenanceReason `json:"reason"`
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
	Origin    time.Time               `json:"origin,omitzero"` // by the announcer's clock: kept as it came
}

type fileEnding struct {
	Peer   string                  `json:"peer"`
	Of     string                  `json:"of,omitempty"` // as fileMessage's
	Kind   domain.AnnouncementKind `json:"kind"`
	Since  time.Time               `json:"since"`
	Ended  time.Time               `json:"ended"`
	Origin time.Time               `json:"origin,omitzero"` // as fileAnnouncement's
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
		for _, m := range s.Maintained {
			v.Maintenance = append(v.Maintenance, fileMaintenance{fileSpanOf(m.Span), m.Reason})
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
			Since: a.Since.UTC(), Reminders: a.Reminders, Origin: a.Origin.UTC()})
	}
	for _, name := range slices.Sorted(maps.Keys(d.Alerts.Ended)) {
		e := d.Alerts.Ended[name]
		kind := domain.KindPeer
		if s, ok := d.Subjects[name]; ok {
			kind = s.Subject.Kind
		}
		f.Ended = append(f.Ended, fileEnding{Peer: name, Of: of(domain.Subject{Name: name, Kind: kind}), Kind: e.Kind,
			Since: e.Since.UTC(), Ended: e.Ended.UTC(), Origin: e.Origin.UTC()})
	}
	for _, spell := range d.Isolations {
		f.Isolated = append(f.Isolated, fileSpanOf(spell))
	}
	for _, si := range d.Silences {
		f.Silences = append(f.Silences, fileSilence{ID: si.ID, Matcher: si.Matcher, Start: si.Start.UTC(), End: si.End.UTC(), By: si.By,
			Comment: si.Comment, Node: si.Node, Updated: si.Updated.UTC()})
	}
	if len(d.Keys) > 0 {
		f.PeerKeys = d.Keys
	}
	for peer, at := range d.Left {
		if f.Left == nil {
			f.Left = map[string]time.Time{}
		}
		f.Left[peer] = at.UTC()
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
	// Dropped says what was left out, and why: each subject that was not
	// one a node writes, and each other section that held anything such.
	// The rest of the file is read all the same.
	Dropped []string
}

// MaxSize bounds the state file: a node with every peer and target it may
// have and a long history of each writes a few MiB. A larger file is no
// node's, and is refused before it is read.
const MaxSize = 64 << 20

// maxPeers bounds the peers a file may list: as many as a relay may.
const maxPeers = 1000

// Decode reads a state file as of now. What a node would never have
// written (unknown statuses, invalid names, transitions out of order, a
// number or a list past its bound) is left out: the subject it is about,
// or the section it is in, each said in Dropped, and the rest is read. A
// file that is no state file at all, or of another version, is an error.
// Times after now, which a clock stepped back leaves behind, are taken as
// now: an outage must not look as if it began in the future, or its
// recovery would report a negative downtime.
func Decode(data []byte, now time.Time) (Decoded, error) {
	if len(data) > MaxSize {
		return Decoded{}, fmt.Errorf("%d bytes, more than a node writes (%d)", len(data), MaxSize)
	}
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
	drop := func(what string, err error) { d.Dropped = append(d.Dropped, fmt.Sprintf("%s: %v", what, err)) }

	var legacy []domain.AnnouncementRecord // reminders_sent, of files of node alerts
	for _, section := range []struct {
		views map[string]fileView
		kind  domain.Kind
		most  int
	}{{f.Peers, domain.KindPeer, maxPeers}, {f.Targets, domain.KindTarget, config.MaxTargets}} {
		if len(section.views) > section.most {
			drop(section.kind.String()+"s", fmt.Errorf("%d, more than %d", len(section.views), section.most))
			continue
		}
		for _, name := range slices.Sorted(maps.Keys(section.views)) {
			v, subject := section.views[name], domain.Subject{Name: name, Kind: section.kind}
			s, err := decodeSubject(subject, v, notAfterNow)
			if err == nil && v.RemindersSent != nil && (*v.RemindersSent < 0 || *v.RemindersSent > maxReminders) {
				err = fmt.Errorf("reminders_sent %d is not 0 to %d", *v.RemindersSent, maxReminders)
			}
			if err != nil {
				drop(fmt.Sprintf("%s %q", section.kind, name), err)
				continue
			}
			d.Subjects[name] = s
			if v.RemindersSent != nil && v.Status == domain.StatusDown {
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

	var err error
	if d.Pending, err = decodeMessages(f.Messages, subjectOf); err != nil {
		drop("pending_messages", err)
		d.Pending = map[string][]domain.Message{}
	}
	if d.Alerts.Announcements, err = decodeAnnouncements(f.Announcements, subjectOf, notAfterNow); err != nil {
		drop("announcements", err)
		d.Alerts.Announcements = nil
	}
	for _, r := range legacy {
		if !slices.ContainsFunc(d.Alerts.Announcements, func(a domain.AnnouncementRecord) bool { return a.Subject == r.Subject }) {
			d.Alerts.Announcements = append(d.Alerts.Announcements, r)
		}
	}
	slices.SortFunc(d.Alerts.Announcements, func(a, b domain.AnnouncementRecord) int { return cmp.Compare(a.Subject.Name, b.Subject.Name) })
	if d.Alerts.Ended, err = decodeEndings(f.Ended, subjectOf, notAfterNow); err != nil {
		drop("ended", err)
		d.Alerts.Ended = nil
	}
	if err := checkCertsTold(f.CertWarned); err != nil {
		drop("cert_warned", err)
	} else {
		d.Alerts.CertsTold = f.CertWarned
	}
	if d.Isolations, err = decodeSpans(f.Isolated, domain.MaxIsolations, notAfterNow); err != nil {
		drop("isolated", err)
		d.Isolations = nil
	}
	if d.Left, err = decodeLeft(f.Left, notAfterNow); err != nil {
		drop("left", err)
		d.Left = nil
	}
	if d.Silences, err = decodeSilences(f.Silences); err != nil {
		drop("silences", err)
		d.Silences = nil
	}
	if d.Keys, err = decodeKeys(f.PeerKeys); err != nil {
		drop("peer_keys", err)
		d.Keys = nil
	}
	return d, nil
}

// decodeSilences checks and converts the silences: each one a node makes,
// at most as many as a node keeps.
func decodeSilences(list []fileSilence) ([]domain.Silence, error) {
	if len(list) > domain.MaxSilences {
		return nil, fmt.Errorf("%d, more than %d", len(list), domain.MaxSilences)
	}
	var out []domain.Silence
	for i, f := range list {
		s := domain.Silence{ID: f.ID, Matcher: f.Matcher, Start: f.Start, End: f.End, By: f.By, Comment: f.Comment, Node: f.Node, Updated: f.Updated}
		if err := s.Check(); err != nil {
			return nil, fmt.Errorf("%d: %v", i, err)
		}
		out = append(out, s)
	}
	return out, nil
}

// decodeKeys checks the peers' pinned keys: a peer's name each, a key
// each.
func decodeKeys(keys map[string]string) (map[string]string, error) {
	if len(keys) > maxPeers {
		return nil, fmt.Errorf("%d, more than %d", len(keys), maxPeers)
	}
	for _, peer := range slices.Sorted(maps.Keys(keys)) {
		if err := validName(domain.Peer(peer)); err != nil {
			return nil, fmt.Errorf("%q: not a peer's name", peer)
		}
		if _, err := domain.DecodeKey(keys[peer]); err != nil {
			return nil, fmt.Errorf("%q: %v", peer, err)
		}
	}
	return keys, nil
}

// decodeLeft checks and converts the peers that had left: a peer's name
// each, a time each.
func decodeLeft(left map[string]time.Time, notAfterNow func(time.Time) time.Time) (map[string]time.Time, error) {
	if len(left) > maxPeers {
		return nil, fmt.Errorf("%d, more than %d", len(left), maxPeers)
	}
	var out map[string]time.Time
	for _, peer := range slices.Sorted(maps.Keys(left)) {
		if err := validName(domain.Peer(peer)); err != nil || left[peer].IsZero() {
			return nil, fmt.Errorf("%q: not a peer's name and a time", peer)
		}
		if out == nil {
			out = map[string]time.Time{}
		}
		out[peer] = notAfterNow(left[peer])
	}
	return out, nil
}

// decodeSpans checks and converts spells, of isolation or of a subject's
// maintenance: at most most, in order, apart, each ending after it began,
// only the last without an end.
func decodeSpans(list []fileSpan, most int, notAfterNow func(time.Time) time.Time) ([]domain.Span, error) {
	if len(list) > most {
		return nil, fmt.Errorf("%d, more than %d", len(list), most)
	}
	var out []domain.Span
	for i, fs := range list {
		spell := domain.Span{From: notAfterNow(fs.From)}
		if fs.To != nil {
			spell.To = notAfterNow(*fs.To)
		}
		last := i == len(list)-1
		if fs.From.IsZero() || (fs.To == nil && !last) || (fs.To != nil && spell.To.Before(spell.From)) ||
			(i > 0 && spell.From.Before(out[i-1].To)) {
			return nil, fmt.Errorf("%d: not a spell after the one before", i)
		}
		out = append(out, spell)
	}
	return out, nil
}

// decodeMessages checks and converts the undelivered messages, by channel.
func decodeMessages(msgs []fileMessage, subjectOf func(name, said string) (domain.Subject, error)) (map[string][]domain.Message, error) {
	if len(msgs) > MaxPending {
		return nil, fmt.Errorf("%d, more than the queues hold", len(msgs))
	}
	out := map[string][]domain.Message{}
	for i, m := range msgs {
		kind, ok := domain.ParseMessageKind(m.Kind)
		subject, err := subjectOf(m.Peer, m.Of)
		if !ok || err != nil || m.Text == "" || len(m.Text) > maxMessageText || !validChannelName(m.Channel) {
			return nil, fmt.Errorf("message %d: invalid channel, kind, subject or text", i)
		}
		channel := cmp.Or(m.Channel, WebhookChannel)
		out[channel] = append(out[channel], domain.Message{Kind: kind, Subject: subject, Text: m.Text, At: m.At})
	}
	return out, nil
}

// decodeAnnouncements checks and converts the announcements.
func decodeAnnouncements(list []fileAnnouncement, subjectOf func(name, said string) (domain.Subject, error),
	notAfterNow func(time.Time) time.Time) ([]domain.AnnouncementRecord, error) {
	if len(list) > MaxAnnouncements {
		return nil, fmt.Errorf("%d, more than a node makes", len(list))
	}
	var out []domain.AnnouncementRecord
	for i, a := range list {
		subject, err := subjectOf(a.Peer, a.Of)
		if err != nil || config.ValidateName(a.By) != nil || !a.Kind.Valid() || a.Since.IsZero() || a.Reminders < 0 || a.Reminders > maxReminders {
			return nil, fmt.Errorf("%d: invalid subject, node, kind, since or reminders", i)
		}
		out = append(out, domain.AnnouncementRecord{Subject: subject, By: a.By,
			Announcement: domain.Announcement{Kind: a.Kind, Since: notAfterNow(a.Since), Reminders: a.Reminders, Origin: a.Origin}})
	}
	return out, nil
}

// decodeEndings checks and converts the episodes seen end.
func decodeEndings(list []fileEnding, subjectOf func(name, said string) (domain.Subject, error),
	notAfterNow func(time.Time) time.Time) (map[string]domain.Ending, error) {
	if len(list) > MaxAnnouncements {
		return nil, fmt.Errorf("%d, more than a node keeps", len(list))
	}
	var out map[string]domain.Ending
	for i, e := range list {
		subject, err := subjectOf(e.Peer, e.Of)
		if err != nil || !e.Kind.Valid() || e.Since.IsZero() || e.Ended.Before(e.Since) {
			return nil, fmt.Errorf("%d: invalid subject, kind, since or end", i)
		}
		if out == nil {
			out = map[string]domain.Ending{}
		}
		out[subject.Name] = domain.Ending{Kind: e.Kind, Since: notAfterNow(e.Since), Ended: notAfterNow(e.Ended), Origin: e.Origin}
	}
	return out, nil
}

// checkCertsTold checks the certificates told of, by target.
func checkCertsTold(told map[string]string) error {
	if len(told) > config.MaxTargets {
		return fmt.Errorf("%d, more than %d targets", len(told), config.MaxTargets)
	}
	for target, fp := range told {
		if config.ValidateTargetName(target) != nil || fp == "" || len(fp) > 64 {
			return fmt.Errorf("%q: invalid target or fingerprint", target)
		}
	}
	return nil
}

// decodeSubject checks and converts one subject's view and history.
func decodeSubject(s domain.Subject, v fileView, notAfterNow func(time.Time) time.Time) (Subject, error) {
	if err := validName(s); err != nil {
		return Subject{}, err
	}
	if !v.Status.Valid() || v.Since.IsZero() || v.ConsecutiveFailures < 0 || v.ConsecutiveFailures > domain.MaxFailures {
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
	spans := make([]fileSpan, len(v.Maintenance))
	for i, m := range v.Maintenance {
		if m.Reason != domain.MaintenanceLeave && m.Reason != domain.MaintenanceSilence && m.Reason != domain.MaintenanceWindow {
			return Subject{}, fmt.Errorf("maintenance %d: reason %q", i, m.Reason)
		}
		spans[i] = m.fileSpan
	}
	maintained, err := decodeSpans(spans, domain.MaxMaintenanceSpells, notAfterNow)
	if err != nil {
		return Subject{}, fmt.Errorf("maintenance %v", err)
	}
	for i, span := range maintained {
		out.Maintained = append(out.Maintained, domain.MaintenanceSpell{Span: span, Reason: v.Maintenance[i].Reason})
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
