package actors

import (
	"fmt"
	"strings"
	"time"

	"github.com/dupunkto/mesh/actors/domain"
)

// The chat messages, worded as README shows them. Where the alerts follow
// the cluster's verdict (ALERTS=cluster), the messages that open and
// remind of an outage name its vantage points out of every node; where
// they follow one node's own view (ALERTS=node, nodes == 0), they do not.

// downMessage opens an outage: the subject is unreachable, from the nodes
// in downFrom, out of answering nodes that see it at all and nodes in all.
// After a spell of maintenance (after's Reason set) it says the subject is
// still down when that ended: a peer that stopped on purpose at since has
// not come back.
func downMessage(s domain.Subject, after domain.Maintenance, since time.Time, downFrom []string, answering, nodes int, at time.Time) domain.Message {
	text := fmt.Sprintf("🔴 `%s` is unreachable", s.Name)
	switch after.Reason {
	case domain.MaintenanceLeave:
		text = fmt.Sprintf("🔴 `%s` stopped %s ago and has not come back", s.Name, FormatDuration(at.Sub(since)))
		if nodes > 0 {
			text += "; unreachable"
		}
	case domain.MaintenanceSilence, domain.MaintenanceWindow:
		what := "the silence"
		if after.Reason == domain.MaintenanceWindow {
			what = "its maintenance window"
		}
		text = fmt.Sprintf("🔴 `%s` is still unreachable after %s ended", s.Name, what)
		if nodes > 0 {
			text += ","
		}
	}
	if nodes > 0 {
		text += vantage(s, len(downFrom), answering, nodes) + " (" + nameList(downFrom) + ")"
	}
	return domain.Message{Kind: domain.MessageDown, Subject: s, Text: text, At: at}
}

// reminderMessage says an outage goes on, from downFrom of the answering
// nodes, out of nodes.
func reminderMessage(s domain.Subject, downFrom, answering, nodes int, downFor time.Duration, at time.Time) domain.Message {
	from := ""
	if nodes > 0 {
		from = vantage(s, downFrom, answering, nodes)
	}
	return domain.Message{Kind: domain.MessageReminder, Subject: s,
		Text: fmt.Sprintf("🟠 `%s` is still unreachable%s (down for %s)", s.Name, from, FormatDuration(downFor)), At: at}
}

// vantage says where an outage is seen from. While every node but a peer
// subject answers: " from 4 of 5 nodes". While other nodes do not, "from
// 2 of 3 nodes" would read as if one could reach the subject: only the
// nodes that answer are counted, and the others said apart,
// " from 2 of 2 nodes that answer; 1 node down".
func vantage(s domain.Subject, downFrom, answering, nodes int) string {
	silent := nodes - answering
	other := ""
	if s.Kind == domain.KindPeer {
		silent-- // the subject itself, which sees nothing of itself
		other = "other "
	}
	if silent <= 0 {
		return fmt.Sprintf(" from %d of %d nodes", downFrom, nodes)
	}
	answer := "answer"
	if answering == 1 {
		answer = "answers"
	}
	return fmt.Sprintf(" from %d of %d %s that %s; %d %s%s down", downFrom, answering, plural(answering, "node"), answer, silent, other, plural(silent, "node"))
}

// maxNamed is how many nodes a message names in one list; the rest it
// counts. At a hundred nodes a down message naming all 99 observers was
// 1,700 characters with loopback names, and with real host names past
// the 2,000 a Discord message may hold: refused, the alert lost. Every
// name stays in the alert's annotations, /state and the page.
const maxNamed = 10

// nameList joins names, the first maxNamed of them and a count of the
// rest: "a, b, c" or "a, b, …, j and 89 more".
func nameList(names []string) string {
	if len(names) <= maxNamed {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:maxNamed], ", "), len(names)-maxNamed)
}

// plural is word, with an s unless n is 1.
func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

func recoveryMessage(s domain.Subject, downFor time.Duration, at time.Time) domain.Message {
	return domain.Message{Kind: domain.MessageRecovery, Subject: s,
		Text: fmt.Sprintf("🟢 `%s` is reachable again (down for %s)", s.Name, FormatDuration(downFor)), At: at}
}

// partialMessage is the network problem a single-location monitor cannot
// see: some nodes cannot reach the subject, others can.
func partialMessage(s domain.Subject, downFrom, upFrom []string, at time.Time) domain.Message {
	text := fmt.Sprintf("🟠 `%s` is unreachable from %s", s.Name, nameList(downFrom))
	if len(upFrom) > 0 {
		text += "; reachable from " + nameList(upFrom)
	}
	return domain.Message{Kind: domain.MessagePartial, Subject: s, Text: text, At: at}
}

func partialOverMessage(s domain.Subject, lasted time.Duration, at time.Time) domain.Message {
	return domain.Message{Kind: domain.MessagePartialOver, Subject: s,
		Text: fmt.Sprintf("🟢 `%s` is reachable from every node again (partly unreachable for %s)", s.Name, FormatDuration(lasted)), At: at}
}

// certMessage tells when a target's certificate expires, or that it has.
func certMessage(target domain.Subject, notAfter, now time.Time) domain.Message {
	when := notAfter.UTC().Format("2006-01-02 15:04 UTC")
	text := fmt.Sprintf("🔒 The certificate of `%s` expires in %s (%s)", target.Name, FormatDuration(notAfter.Sub(now)), when)
	if !notAfter.After(now) {
		text = fmt.Sprintf("🔒 The certificate of `%s` has expired (%s)", target.Name, when)
	}
	return domain.Message{Kind: domain.MessageCertExpiry, Subject: target, Text: text, At: now}
}

// silenceMessage tells the team who silenced what, until when and why.
func silenceMessage(s domain.Silence, at time.Time) domain.Message {
	text := fmt.Sprintf("🔧 `%s` silenced until %s", s.Matcher, s.End.UTC().Format("2006-01-02 15:04 UTC"))
	if s.By != "" {
		text += " by " + s.By
	}
	if s.Comment != "" {
		text += ": " + s.Comment
	}
	return domain.Message{Kind: domain.MessageSilence, Subject: domain.Peer(s.Matcher), Text: text, At: at}
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
