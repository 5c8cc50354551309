package wire

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/dupunkto/mesh/actors/domain"
	"github.com/dupunkto/mesh/config"
)

// What a relay says beside its views, in fields the seed's nodes ignore:
//
//	"announced":  {subject: {"kind", "since", "reminders", "origin"}}   the episodes the sender announced
//	"ended":      {subject: {"kind", "since", "ended", "origin"}}       the episodes it saw end, for a day
//	"certs_told": {target: fingerprint}                       the certificates told of
//	"leaving":    true                                        it stops on purpose: its last relay
//	"silences":   [{"id", "matcher", "start", "end", "by", "comment", "node", "updated"}]   the silences it knows
//	"maintenance": ["0 3 * * 0 2h Europe/Amsterdam"]          its own maintenance windows
//	"left":       {peer: time}                                the peers it holds as stopped on purpose
//	"sent_at":    time                                        when it sent the relay, by its clock
//
// Each is left out when empty, and so is an origin a node did not send.
// sent_at lets the receiver read the other times against its own clock
// (domain.RelayCopy.Said); an origin is never read so: it names an episode
// (domain.Announcement.Origin).

// saidFields are the said fields of a relay as it arrives, raw, so that
// each can be checked and named in the error.
type saidFields struct {
	Announced map[string]json.RawMessage `json:"announced"`
	Ended     map[string]json.RawMessage `json:"ended"`
	CertsTold map[string]json.RawMessage `json:"certs_told"`
	Leaving   json.RawMessage            `json:"leaving"`
	Silences  []json.RawMessage          `json:"silences"`
	Windows   []string                   `json:"maintenance"`
	Left      map[string]json.RawMessage `json:"left"`
	SentAt    json.RawMessage            `json:"sent_at"`
}

type announcementDoc struct {
	Kind      domain.AnnouncementKind `json:"kind"`
	Since     instant                 `json:"since"`
	Reminders int                     `json:"reminders"`
	Origin    *instant                `json:"origin,omitempty"`
}

type endingDoc struct {
	Kind   domain.AnnouncementKind `json:"kind"`
	Since  instant                 `json:"since"`
	Ended  instant                 `json:"ended"`
	Origin *instant                `json:"origin,omitempty"`
}

// originOf is an origin as it travels: none when zero.
func originOf(t time.Time) *instant {
	if t.IsZero() {
		return nil
	}
	return &instant{stamp{t}}
}

// decodeOrigin reads an origin, which may be absent.
func decodeOrigin(field string, raw json.RawMessage) (time.Time, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return time.Time{}, nil
	}
	var t stamp
	if err := json.Unmarshal(raw, &t); err != nil || t.IsZero() {
		return time.Time{}, fmt.Errorf("%s.origin: must be an RFC 3339 time", field)
	}
	return t.Time, nil
}

// sentAtFormat is sent_at's format: RFC 3339 to the millisecond, so that
// the receiver's reading of the sender's clock is as close as the network
// lets it be.
const sentAtFormat = "2006-01-02T15:04:05.000Z07:00"

// appendSaid appends the said fields of a relay but sent_at.
func appendSaid(b []byte, said domain.Said) []byte {
	if len(said.Announced) > 0 {
		docs := make(map[string]announcementDoc, len(said.Announced))
		for name, a := range said.Announced {
			docs[name] = announcementDoc{Kind: a.Kind, Since: instant{stamp{a.Since}}, Reminders: a.Reminders, Origin: originOf(a.Origin)}
		}
		enc, _ := json.Marshal(docs) // strings, stamps and ints: it cannot fail
		b = append(append(b, `,"announced":`...), enc...)
	}
	if len(said.Ended) > 0 {
		docs := make(map[string]endingDoc, len(said.Ended))
		for name, e := range said.Ended {
			docs[name] = endingDoc{Kind: e.Kind, Since: instant{stamp{e.Since}}, Ended: instant{stamp{e.Ended}}, Origin: originOf(e.Origin)}
		}
		enc, _ := json.Marshal(docs) // strings and stamps: it cannot fail
		b = append(append(b, `,"ended":`...), enc...)
	}
	if len(said.Told) > 0 {
		enc, _ := json.Marshal(said.Told) // strings: it cannot fail
		b = append(append(b, `,"certs_told":`...), enc...)
	}
	if said.Leaving {
		b = append(b, `,"leaving":true`...)
	}
	if len(said.Windows) > 0 {
		specs := make([]string, len(said.Windows))
		for i, w := range said.Windows {
			specs[i] = w.Spec
		}
		enc, _ := json.Marshal(specs) // strings: it cannot fail
		b = append(append(b, `,"maintenance":`...), enc...)
	}
	if len(said.Left) > 0 {
		docs := make(map[string]stamp, len(said.Left))
		for peer, at := range said.Left {
			docs[peer] = stamp{at}
		}
		enc, _ := json.Marshal(docs) // strings and stamps: it cannot fail
		b = append(append(b, `,"left":`...), enc...)
	}
	if len(said.Silences) > 0 {
		docs := make([]SilenceDoc, len(said.Silences))
		for i, si := range said.Silences {
			docs[i] = SilenceDocOf(si)
		}
		enc, _ := json.Marshal(docs) // strings and stamps: it cannot fail
		b = append(append(b, `,"silences":`...), enc...)
	}
	return b
}

// Stamped returns an encoded relay body with when it is sent, by this
// node's clock: sent_at goes on last, just before it leaves, so that a
// body can be made once and sent to every peer, and two deltas that say
// the same compare equal.
func Stamped(body []byte, sentAt time.Time) []byte {
	b := make([]byte, 0, len(body)+len(`,"sent_at":""`)+len(sentAtFormat))
	b = append(b, body[:len(body)-1]...) // without its closing brace
	b = append(b, `,"sent_at":"`...)
	b = append(sentAt.UTC().AppendFormat(b, sentAtFormat), '"')
	return append(b, '}')
}

// decode checks and converts the said fields; the error names the field.
func (f saidFields) decode() (domain.Said, time.Time, error) {
	var said domain.Said
	var err error
	if said.Announced, err = decodeAnnouncements(f.Announced); err != nil {
		return domain.Said{}, time.Time{}, err
	}
	if said.Ended, err = decodeEndings(f.Ended); err != nil {
		return domain.Said{}, time.Time{}, err
	}
	if said.Told, err = decodeCertsTold(f.CertsTold); err != nil {
		return domain.Said{}, time.Time{}, err
	}
	if len(f.Leaving) > 0 && string(f.Leaving) != "null" && json.Unmarshal(f.Leaving, &said.Leaving) != nil {
		return domain.Said{}, time.Time{}, fmt.Errorf("leaving: must be true or false")
	}
	if said.Silences, err = decodeSilences(f.Silences); err != nil {
		return domain.Said{}, time.Time{}, err
	}
	if said.Left, err = decodeBySubject(f.Left, "left", func(field string, r json.RawMessage) (time.Time, error) {
		var at stamp
		if err := json.Unmarshal(r, &at); err != nil || at.IsZero() {
			return time.Time{}, fmt.Errorf("%s: must be an RFC 3339 time", field)
		}
		return at.Time, nil
	}); err != nil {
		return domain.Said{}, time.Time{}, err
	}
	if len(f.Windows) > domain.MaxWindows {
		return domain.Said{}, time.Time{}, fmt.Errorf("maintenance: more than %d windows", domain.MaxWindows)
	}
	for i, spec := range f.Windows {
		w, err := config.ParseWindow(spec)
		if err != nil {
			return domain.Said{}, time.Time{}, fmt.Errorf("maintenance[%d]: %v", i, err)
		}
		said.Windows = append(said.Windows, w)
	}
	var sentAt time.Time
	if len(f.SentAt) > 0 && string(f.SentAt) != "null" {
		var s string
		if json.Unmarshal(f.SentAt, &s) != nil {
			return domain.Said{}, time.Time{}, fmt.Errorf("sent_at: must be an RFC 3339 time")
		}
		if sentAt, err = time.Parse(time.RFC3339Nano, s); err != nil {
			return domain.Said{}, time.Time{}, fmt.Errorf("sent_at: must be an RFC 3339 time")
		}
		sentAt = sentAt.UTC()
	}
	return said, sentAt, nil
}

// decodeAnnouncements checks and converts a relay's "announced" object.
func decodeAnnouncements(raw map[string]json.RawMessage) (map[string]domain.Announcement, error) {
	return decodeBySubject(raw, "announced", func(field string, r json.RawMessage) (domain.Announcement, error) {
		var d struct {
			Kind      json.RawMessage `json:"kind"`
			Since     json.RawMessage `json:"since"`
			Reminders json.RawMessage `json:"reminders"`
			Origin    json.RawMessage `json:"origin"`
		}
		if err := json.Unmarshal(r, &d); err != nil {
			return domain.Announcement{}, fmt.Errorf("%s: must be an object", field)
		}
		kind, since, err := kindAndTime(field, d.Kind, d.Since, "since")
		if err != nil {
			return domain.Announcement{}, err
		}
		var n int64
		if err := json.Unmarshal(orNull(d.Reminders), &n); err != nil || len(d.Reminders) == 0 || string(d.Reminders) == "null" || n < 0 || n > maxReminders {
			return domain.Announcement{}, fmt.Errorf("%s.reminders: must be an integer from 0 to %d", field, maxReminders)
		}
		origin, err := decodeOrigin(field, d.Origin)
		if err != nil {
			return domain.Announcement{}, err
		}
		return domain.Announcement{Kind: kind, Since: since, Reminders: int(n), Origin: origin}, nil
	})
}

// decodeEndings checks and converts a relay's "ended" object.
func decodeEndings(raw map[string]json.RawMessage) (map[string]domain.Ending, error) {
	return decodeBySubject(raw, "ended", func(field string, r json.RawMessage) (domain.Ending, error) {
		var d struct {
			Kind   json.RawMessage `json:"kind"`
			Since  json.RawMessage `json:"since"`
			Ended  json.RawMessage `json:"ended"`
			Origin json.RawMessage `json:"origin"`
		}
		if err := json.Unmarshal(r, &d); err != nil {
			return domain.Ending{}, fmt.Errorf("%s: must be an object", field)
		}
		kind, since, err := kindAndTime(field, d.Kind, d.Since, "since")
		if err != nil {
			return domain.Ending{}, err
		}
		var ended stamp
		if err := json.Unmarshal(orNull(d.Ended), &ended); err != nil || ended.Before(since) {
			return domain.Ending{}, fmt.Errorf("%s.ended: must be an RFC 3339 time, not before since", field)
		}
		origin, err := decodeOrigin(field, d.Origin)
		if err != nil {
			return domain.Ending{}, err
		}
		return domain.Ending{Kind: kind, Since: since, Ended: ended.Time, Origin: origin}, nil
	})
}

// decodeBySubject decodes an object of one entry per subject, at most
// MaxAnnouncements, each name a peer's or a target's, each value by one.
func decodeBySubject[T any](raw map[string]json.RawMessage, name string, one func(field string, r json.RawMessage) (T, error)) (map[string]T, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	if len(raw) > MaxAnnouncements {
		return nil, fmt.Errorf("%s: more than %d entries", name, MaxAnnouncements)
	}
	out := make(map[string]T, len(raw))
	for subject, r := range raw {
		field := fmt.Sprintf("%s[%s]", name, quoteShort(subject))
		if err := validateSubjectName(subject); err != nil {
			return nil, fmt.Errorf("%s: name: %v", field, err)
		}
		v, err := one(field, r)
		if err != nil {
			return nil, err
		}
		out[subjectKey(subject)] = v
	}
	return out, nil
}

// kindAndTime reads an entry's episode kind and one of its times.
func kindAndTime(field string, rawKind, rawTime json.RawMessage, timeName string) (domain.AnnouncementKind, time.Time, error) {
	var kind string
	if err := json.Unmarshal(orNull(rawKind), &kind); err != nil || !domain.AnnouncementKind(kind).Valid() {
		return "", time.Time{}, fmt.Errorf("%s.kind: must be \"down\" or \"partial\"", field)
	}
	var t stamp
	if err := json.Unmarshal(orNull(rawTime), &t); err != nil || t.IsZero() {
		return "", time.Time{}, fmt.Errorf("%s.%s: must be an RFC 3339 time", field, timeName)
	}
	return domain.AnnouncementKind(kind), t.Time, nil
}

// maxFingerprint bounds a told certificate's fingerprint: a SHA-256 in hex.
const maxFingerprint = 64

// decodeCertsTold checks and converts a relay's "certs_told" object.
func decodeCertsTold(raw map[string]json.RawMessage) (map[string]string, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	if len(raw) > MaxRelayTargets {
		return nil, fmt.Errorf("certs_told: more than %d certificates", MaxRelayTargets)
	}
	out := make(map[string]string, len(raw))
	for name, r := range raw {
		field := fmt.Sprintf("certs_told[%s]", quoteShort(name))
		if err := config.ValidateTargetName(name); err != nil {
			return nil, fmt.Errorf("%s: name: %v", field, err)
		}
		var fp string
		if err := json.Unmarshal(r, &fp); err != nil || fp == "" || len(fp) > maxFingerprint {
			return nil, fmt.Errorf("%s: must be a certificate's fingerprint, up to %d characters", field, maxFingerprint)
		}
		out[name] = fp
	}
	return out, nil
}

// SilenceDoc is a silence as it travels, in relays and in /silences.
type SilenceDoc struct {
	ID      string  `json:"id"`
	Matcher string  `json:"matcher"`
	Start   instant `json:"start"`
	End     instant `json:"end"`
	By      string  `json:"by"`
	Comment string  `json:"comment"`
	Node    string  `json:"node"`
	Updated instant `json:"updated"`
}

// SilenceDocOf is a silence as JSON shows it.
func SilenceDocOf(s domain.Silence) SilenceDoc {
	return SilenceDoc{ID: s.ID, Matcher: s.Matcher, Start: instant{stamp{s.Start}}, End: instant{stamp{s.End}}, By: s.By, Comment: s.Comment, Node: s.Node, Updated: instant{stamp{s.Updated}}}
}

// Silence is the silence d shows.
func (d SilenceDoc) Silence() domain.Silence {
	return domain.Silence{ID: d.ID, Matcher: d.Matcher, Start: d.Start.Time, End: d.End.Time, By: d.By, Comment: d.Comment, Node: d.Node, Updated: d.Updated.Time}
}

// decodeSilences checks and converts a relay's "silences".
func decodeSilences(raw []json.RawMessage) ([]domain.Silence, error) {
	if len(raw) > domain.MaxSilences {
		return nil, fmt.Errorf("silences: more than %d", domain.MaxSilences)
	}
	var out []domain.Silence
	for i, r := range raw {
		var d SilenceDoc
		if err := json.Unmarshal(r, &d); err != nil {
			return nil, fmt.Errorf("silences[%d]: must be a silence", i)
		}
		s := d.Silence()
		if err := s.Check(); err != nil {
			return nil, fmt.Errorf("silences[%d].%v", i, err)
		}
		out = append(out, s)
	}
	return out, nil
}
