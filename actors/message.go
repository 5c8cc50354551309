package actors

import (
	"fmt"
	"strings"
	"time"

	"github.com/dupunkto/mesh/actors/domain"
)

// MessageKind says what a webhook message announces. Down and recovery
// messages matter more than reminders: when the queue overflows, reminders
// go first.
type MessageKind int

// The three messages of DESIGN.md, and the two of a peer that only some
// nodes cannot reach (cluster alerts).
const (
	MessageDown MessageKind = iota
	MessageRecovery
	MessageReminder
	MessagePartial
	MessagePartialOver
	MessageCertExpiry // an HTTPS target's certificate expires within CERT_WARN
)

// messageKinds are every kind, for parsing and for metrics.
var messageKinds = []MessageKind{MessageDown, MessageRecovery, MessageReminder, MessagePartial, MessagePartialOver, MessageCertExpiry}

// parseMessageKind reads a kind back from its String, as the state file
// keeps it.
func parseMessageKind(s string) (MessageKind, bool) {
	for _, k := range messageKinds {
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
	Subject domain.Subject // what it tells of
	Text    string
	At      time.Time // when the event it announces happened
}

func downMessage(s domain.Subject, at time.Time) Message {
	return Message{MessageDown, s, fmt.Sprintf("🔴 `%s` is unreachable", s.Name), at}
}

func recoveryMessage(s domain.Subject, downFor time.Duration, at time.Time) Message {
	return Message{MessageRecovery, s, fmt.Sprintf("🟢 `%s` is reachable again (down for %s)", s.Name, FormatDuration(downFor)), at}
}

func reminderMessage(s domain.Subject, downFor time.Duration, at time.Time) Message {
	return Message{MessageReminder, s, fmt.Sprintf("🟠 `%s` is still unreachable (down for %s)", s.Name, FormatDuration(downFor)), at}
}

// clusterDownMessage names the vantage points: the nodes that cannot reach
// the subject, out of every node of the cluster.
func clusterDownMessage(s domain.Subject, downFrom []string, nodes int, at time.Time) Message {
	return Message{MessageDown, s, fmt.Sprintf("🔴 `%s` is unreachable from %d of %d nodes (%s)",
		s.Name, len(downFrom), nodes, strings.Join(downFrom, ", ")), at}
}

func clusterReminderMessage(s domain.Subject, downFrom, nodes int, downFor time.Duration, at time.Time) Message {
	return Message{MessageReminder, s, fmt.Sprintf("🟠 `%s` is still unreachable from %d of %d nodes (down for %s)",
		s.Name, downFrom, nodes, FormatDuration(downFor)), at}
}

// partialMessage is the network problem a single-location monitor cannot
// see: some nodes cannot reach the subject, others can.
func partialMessage(s domain.Subject, downFrom, upFrom []string, at time.Time) Message {
	text := fmt.Sprintf("🟠 `%s` is unreachable from %s", s.Name, strings.Join(downFrom, ", "))
	if len(upFrom) > 0 {
		text += "; reachable from " + strings.Join(upFrom, ", ")
	}
	return Message{MessagePartial, s, text, at}
}

func partialOverMessage(s domain.Subject, lasted time.Duration, at time.Time) Message {
	return Message{MessagePartialOver, s, fmt.Sprintf("🟢 `%s` is reachable from every node again (partly unreachable for %s)",
		s.Name, FormatDuration(lasted)), at}
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
