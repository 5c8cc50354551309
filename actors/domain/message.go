package domain

import "time"

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
)

// MessageKinds are every kind, for parsing and for metrics.
func MessageKinds() []MessageKind {
	return []MessageKind{MessageDown, MessageRecovery, MessageReminder, MessagePartial, MessagePartialOver, MessageCertExpiry}
}

// ParseMessageKind reads a kind back from its String, as the state file
// keeps it.
func ParseMessageKind(s string) (MessageKind, bool) {
	for _, k := range MessageKinds() {
		if k.String() == s {
			return k, true
		}
	}
	return 0, false
}

func (k MessageKind) String() string {
	switch k {
	case MessageDown:
		return "down"
	case MessageRecovery:
		return "recovery"
	case MessagePartial:
		return "partial"
	case MessagePartialOver:
		return "partial_over"
	case MessageCertExpiry:
		return "cert_expiry"
	default:
		return "reminder"
	}
}

// Message is one chat message, ready to deliver.
type Message struct {
	Kind    MessageKind
	Subject Subject // what it tells of
	Text    string
	At      time.Time // when the event it announces happened
}
