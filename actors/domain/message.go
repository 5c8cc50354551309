package domain

import (
	"slices"
	"time"
)

// MessageKind says what a chat message announces. Down and recovery
// messages matter more than reminders: when a channel's queue overflows,
// reminders go first.
type MessageKind int

// The messages of an outage (down, reminder, recovery), of a subject only
// some nodes cannot reach (partial, and its end), and of a certificate.
const (
	MessageDown MessageKind = iota
	MessageRecovery
	MessageReminder
	MessagePartial
	MessagePartialOver
	MessageCertExpiry // an HTTPS target's certificate expires within CERT_WARN
	MessageSilence    // an operator silenced a subject (mesh silence add)
)

// messageKindNames are the kinds' words, as logs, metrics and the state
// file say them, in the order of the constants.
var messageKindNames = [...]string{"down", "recovery", "reminder", "partial", "partial_over", "cert_expiry", "silence"}

// MessageKinds are every kind, for parsing and for metrics.
func MessageKinds() []MessageKind {
	kinds := make([]MessageKind, len(messageKindNames))
	for i := range kinds {
		kinds[i] = MessageKind(i)
	}
	return kinds
}

// ParseMessageKind reads a kind back from its String, as the state file
// keeps it.
func ParseMessageKind(s string) (MessageKind, bool) {
	i := slices.Index(messageKindNames[:], s)
	return MessageKind(i), i >= 0
}

func (k MessageKind) String() string { return messageKindNames[k] }

// Message is one chat message, ready to deliver.
type Message struct {
	Kind    MessageKind
	Subject Subject // what it tells of
	Text    string
	At      time.Time // when the event it announces happened
}
