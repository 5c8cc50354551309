package actors

import (
	"fmt"
	"slices"

	"github.com/dupunkto/mesh/actors/domain"
)

// WebhookChannel is the name of WEBHOOK_URL's channel.
const WebhookChannel = "webhook"

// ChannelNames names the channels of NOTIFY_URLS by their schemes, in
// order: "telegram", and "telegram-2" for a second one. A name says which
// service a log line or a metric is about without a word of its URL.
func ChannelNames(schemes []string) []string {
	seen := map[string]int{}
	names := make([]string, len(schemes))
	for i, s := range schemes {
		seen[s]++
		names[i] = s
		if seen[s] > 1 {
			names[i] = fmt.Sprintf("%s-%d", s, seen[s])
		}
	}
	return names
}

// Channels is the fan-out of the alert path: it hands each message to
// every channel, in the order the notifier sends them, and each channel
// delivers on its own. No channels is no notifications.
type Channels []*Channel

// Enqueue queues m on every channel; it never blocks.
func (cs Channels) Enqueue(m domain.Message) {
	for _, c := range cs {
		c.Enqueue(m)
	}
}

// Pending returns each channel's undelivered messages, by channel name,
// for the state file; channels with none are left out.
func (cs Channels) Pending() map[string][]domain.Message {
	out := map[string][]domain.Message{}
	for _, c := range cs {
		if p := c.Pending(); len(p) > 0 {
			out[c.cfg.Name] = p
		}
	}
	return out
}

// Has reports whether a channel of that name is among cs.
func (cs Channels) Has(name string) bool {
	return slices.ContainsFunc(cs, func(c *Channel) bool { return c.cfg.Name == name })
}
