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
}

// AnnouncementRecord is an announcement a node knows of: one it made (By is
// the node itself), or one it heard of in another node's relays.
type AnnouncementRecord struct {
	Subject Subject
	By      string
	Announcement
}

// AlertRecord is what a node's alerts must not forget across a restart,
// so that it neither repeats a message nor drops an outage: the
// announcements it knows of, and the certificates told of (their
// fingerprints, by target name).
type AlertRecord struct {
	Announcements []AnnouncementRecord
	CertsTold     map[string]string
}
