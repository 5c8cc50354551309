package actors

import (
	"fmt"
	"time"
)

// MessageKind says what a webhook message announces. Down and recovery
// messages matter more than reminders: when the queue overflows, reminders
// go first.
type MessageKind int

// The three messages of DESIGN.md.
const (
	MessageDown MessageKind = iota
	MessageRecovery
	MessageReminder
)

// parseMessageKind reads a kind back from its String, as the state file
// keeps it.
func parseMessageKind(s string) (MessageKind, bool) {
	for _, k := range []MessageKind{MessageDown, MessageRecovery, MessageReminder} {
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
	default:
		return "reminder"
	}
}

// Message is one chat message, ready to deliver.
type Message struct {
	Kind MessageKind
	Peer string
	Text string
	At   time.Time // when the event it announces happened
}

func downMessage(peer string, at time.Time) Message {
	return Message{MessageDown, peer, fmt.Sprintf("🔴 `%s` is unreachable", peer), at}
}

func recoveryMessage(peer string, downFor time.Duration, at time.Time) Message {
	return Message{MessageRecovery, peer, fmt.Sprintf("🟢 `%s` is reachable again (down for %s)", peer, FormatDuration(downFor)), at}
}

func reminderMessage(peer string, downFor time.Duration, at time.Time) Message {
	return Message{MessageReminder, peer, fmt.Sprintf("🟠 `%s` is still unreachable (down for %s)", peer, FormatDuration(downFor)), at}
}

// FormatDuration writes a downtime as the messages show it: under a minute
// "Ns"; under an hour "Nm Ns"; under a day "Nh Nm"; else "Nd Nh".
func FormatDuration(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	s := int64(d / time.Second)
	switch {
	case s < 60:
		return fmt.Sprintf("%ds", s)
	case s < 3600:
		return fmt.Sprintf("%dm %ds", s/60, s%60)
	case s < 86400:
		return fmt.Sprintf("%dh %dm", s/3600, s%3600/60)
	default:
		return fmt.Sprintf("%dd %dh", s/86400, s%86400/3600)
	}
}
