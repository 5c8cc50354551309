package domain

import "time"

// AnnouncementKind is what kind of message an announcement stands for.
type AnnouncementKind string

// The two kinds of episode a cluster announces once.
const (
	// AnnouncedDown: the cluster's verdict on the peer is down, and the
	// announcing node sent the down message.
	AnnouncedDown AnnouncementKind = "down"
	// AnnouncedPartial: a minority of the peer's observers cannot reach it,
	// and the announcing node sent the message naming who can and who cannot.
	AnnouncedPartial AnnouncementKind = "partial"
)

// Valid reports whether k is one of the kinds.
func (k AnnouncementKind) Valid() bool { return k == AnnouncedDown || k == AnnouncedPartial }

// Announcement is a node's word that it told the chat channel of an
// episode of one peer, and will send what follows (the reminders, the
// recovery) while it lasts. Nodes pass their announcements on in their
// relays, so that the others stay quiet and one can take over if the
// announcer goes.
type Announcement struct {
	Kind AnnouncementKind
	// Since is when the episode began, as its announcer saw it: reminders
	// and recoveries count the downtime from here, whoever sends them.
	Since time.Time
	// Reminders is how many still-down reminders the announcer has sent.
	Reminders int
	// Origin names the episode wherever it goes: when it began by the
	// clock of the node that first announced it, to the millisecond. It
	// is never read against another clock (unlike Since), so an ending
	// that carries it closes this episode and no other, whatever the
	// nodes' clocks or a relay's delay on the way. Zero from a node that
	// does not send it.
	Origin time.Time
}

// OriginOf is the origin of an episode a node announces first, which
// began at since by its clock: to the millisecond, as it travels.
func OriginOf(since time.Time) time.Time { return since.UTC().Truncate(time.Millisecond) }

// AnnouncementRecord is an announcement a node knows of: one it made (By is
// the node itself), or one it heard of in another node's relays.
type AnnouncementRecord struct {
	Subject Subject
	By      string
	Announcement
}

// AlertRecord is what a node's alerts must not forget across a restart,
// so that it neither repeats a message nor drops an outage: the
// announcements it knows of, the episodes it saw end (by subject name),
// and the certificates told of (their fingerprints, by target name).
type AlertRecord struct {
	Announcements []AnnouncementRecord
	Ended         map[string]Ending
	CertsTold     map[string]string
}

// Ending is an episode a node saw end, after it was announced: the
// announcement's kind and since, and when it ended. Nodes pass their
// endings on in their relays for a while (EndingsKept), so that a node
// that was away (restarted, paused, suspended) while another ended the
// episode does not end it a second time.
type Ending struct {
	Kind   AnnouncementKind
	Since  time.Time
	Ended  time.Time
	Origin time.Time // the ended announcement's (see Announcement.Origin)
}

// EndingsKept is how long a node keeps and relays an ending: longer than
// a node is likely to be away and come back with the episode still open.
const EndingsKept = 24 * time.Hour

// Ends reports whether the ending closes the episode announced as a. When
// both carry an origin: the same origin, or the ending is of a later
// episode (it began after a did), for a node keeps only the latest
// ending of a subject, and a later episode ended means a is long over.
// Else (a node that sends no origin): one of that kind that ended after a
// began.
func (e Ending) Ends(a Announcement) bool {
	if e.Kind != a.Kind {
		return false
	}
	if !e.Origin.IsZero() && !a.Origin.IsZero() {
		return e.Origin.Equal(a.Origin) || e.Since.After(a.Since)
	}
	return e.Ended.After(a.Since)
}

// Said is what a node's relays carry beside its views: its announcements
// and its endings, by subject name, and the certificates it knows were
// told of, their fingerprints by target name.
type Said struct {
	Announced map[string]Announcement
	Ended     map[string]Ending
	Told      map[string]string
	// Leaving: the node is stopping on purpose (SIGTERM), and this is its
	// last relay. Its peers show it stopped, not down, for LEAVE_GRACE.
	Leaving bool
	// Silences are the cluster's silences the node knows: each node passes
	// them all on, so that one taken by any node reaches every node. Their
	// times are the taking node's, never shifted.
	Silences []Silence
	// Windows are the node's own maintenance windows (MAINTENANCE): its
	// peers say nothing of it down inside one.
	Windows []Window
	// Left are the peers the node holds as stopped on purpose and not back
	// yet, with when each said so: a node that was away when one left did
	// not hear it say so, and learns it from the others.
	Left map[string]time.Time
}

// Shifted is s with every time moved by d: what another node said, read
// against this node's clock.
func (s Said) Shifted(d time.Duration) Said {
	if d == 0 {
		return s
	}
	out := Said{Told: s.Told, Leaving: s.Leaving, Silences: s.Silences, Windows: s.Windows}
	if s.Left != nil {
		out.Left = make(map[string]time.Time, len(s.Left))
		for peer, at := range s.Left {
			out.Left[peer] = at.Add(d)
		}
	}
	if s.Announced != nil {
		out.Announced = make(map[string]Announcement, len(s.Announced))
		for name, a := range s.Announced {
			a.Since = a.Since.Add(d)
			out.Announced[name] = a
		}
	}
	if s.Ended != nil {
		out.Ended = make(map[string]Ending, len(s.Ended))
		for name, e := range s.Ended {
			e.Since, e.Ended = e.Since.Add(d), e.Ended.Add(d)
			out.Ended[name] = e
		}
	}
	return out
}
