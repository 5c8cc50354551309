package actors

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/dupunkto/mesh/actors/mailbox"
	"github.com/dupunkto/mesh/config"
)

// Delivery defaults: Slack documents about one message per second per
// webhook; a message that cannot be delivered in ten minutes is stale.
const (
	DefaultWebhookTimeout = 10 * time.Second
	DefaultMinGap         = time.Second
	DefaultBackoffBase    = time.Second
	DefaultBackoffMax     = time.Minute
	DefaultGiveUpAfter    = 10 * time.Minute
	// MaxRetryAfter caps how long a 429 may pause the queue: a service
	// that asks for a day is broken, and its queue would fill and drop.
	MaxRetryAfter = time.Hour
	// DefaultQueueSize is how many messages may wait: at the pace of one a
	// second, over four minutes of backlog, which only a chat service that
	// is down or throttling builds up. Past it, reminders give way.
	DefaultQueueSize = 256
)

// Poster makes one attempt to deliver a message to one service: the
// Discord or Slack webhook of WEBHOOK_URL, or a Shoutrrr service of
// NOTIFY_URLS. The channel around it queues, paces and retries.
type Poster interface {
	// Post reports whether a failure is worth retrying and how long the
	// service asked to wait, if it did. Its error never holds the URL.
	Post(ctx context.Context, m Message) (retryAfter time.Duration, retry bool, err error)
	// Where is what logs may say of the service: a host or a scheme,
	// never the rest of its URL, which holds a token.
	Where() string
}

// ChannelConfig is what a channel actor is built from. Zero durations and
// sizes take the defaults above.
type ChannelConfig struct {
	// Name is the channel's name in logs, metrics and the state file:
	// "webhook" for WEBHOOK_URL, the scheme for each of NOTIFY_URLS
	// ("telegram", and "telegram-2" for a second one).
	Name        string
	Poster      Poster
	MinGap      time.Duration // between two posts
	BackoffBase time.Duration // first retry wait; doubles up to BackoffMax
	BackoffMax  time.Duration
	GiveUpAfter time.Duration // a message still failing after this is dropped
	QueueSize   int
	// Pending are the messages a previous run had not delivered (from the
	// state file); they go first.
	Pending []Message
	// Persisted says whether a state file keeps undelivered messages
	// across a restart, for the stop to say where they went.
	Persisted bool
	Metrics   *Metrics // nil counts nothing
	Log       zerolog.Logger
}

// Channel delivers messages to one service, one at a time, in the order
// they were queued, paced, retrying transient failures. Its queue is
// bounded; when full, reminders give way to down and recovery messages.
// Each channel is its own actor, so that a failing one never delays
// another.
type Channel struct {
	cfg   ChannelConfig
	where string // what logs may say of the service

	queue *mailbox.Mailbox[Message]

	// inflight is the message being delivered: taken from the queue and set
	// under mu, so that Pending never misses it between the two.
	mu       sync.Mutex
	inflight *Message

	// Owned by Serve, kept across restarts.
	lastPost    time.Time
	pausedUntil time.Time // a 429 asked the whole queue to wait until then
}

// NewChannel returns the channel actor that posts with cfg.Poster.
func NewChannel(cfg ChannelConfig) *Channel {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.MinGap, DefaultMinGap)
	def(&cfg.BackoffBase, DefaultBackoffBase)
	def(&cfg.BackoffMax, DefaultBackoffMax)
	def(&cfg.GiveUpAfter, DefaultGiveUpAfter)
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = DefaultQueueSize
	}
	c := &Channel{cfg: cfg, where: cfg.Poster.Where()}
	c.queue = mailbox.New(mailbox.Config[Message]{Size: cfg.QueueSize, Policy: remindersFirst, Dropped: c.dropped})
	cfg.Metrics.AddChannel(cfg.Name)
	for _, m := range cfg.Pending {
		c.queue.Put(m)
	}
	if len(cfg.Pending) > 0 {
		c.logger(cfg.Log.Info()).Int("queued", len(cfg.Pending)).Msg("webhook: delivering what the previous run had not")
	}
	c.cfg.Pending = nil
	return c
}

// Pending returns the messages not yet delivered, the one being delivered
// first, for the state file to keep.
func (c *Channel) Pending() []Message {
	c.mu.Lock()
	defer c.mu.Unlock()
	queued := c.queue.Snapshot()
	if c.inflight == nil {
		return queued
	}
	return append([]Message{*c.inflight}, queued...)
}

// remindersFirst is the webhook queue's policy: down and recovery messages
// matter more than reminders, so when the queue is full a reminder gives
// way: the incoming one, or the oldest queued one to make room for a down
// or recovery message.
func remindersFirst(queued []Message, incoming Message) int {
	if incoming.Kind == MessageReminder {
		return -1
	}
	return slices.IndexFunc(queued, func(q Message) bool { return q.Kind == MessageReminder })
}

func (c *Channel) dropped(m Message, queued int) {
	c.logMessage(c.cfg.Log.Warn(), m).Int("queued", queued).Msg("webhook queue full: message dropped")
	c.cfg.Metrics.WebhookDelivery(c.cfg.Name, WebhookDropped)
	c.cfg.Metrics.MailboxDropped("webhook")
}

func (c *Channel) String() string { return "channel(" + c.cfg.Name + ")" }

// Enqueue queues a message. It never blocks; when the queue is full,
// remindersFirst says what is dropped, and the drop is logged and counted.
func (c *Channel) Enqueue(m Message) { c.queue.Put(m) }

// Serve delivers queued messages until ctx ends, then says what it had not
// delivered.
func (c *Channel) Serve(ctx context.Context) error {
	for {
		m, ok := c.next()
		if !ok {
			select {
			case <-ctx.Done():
				c.logUndelivered()
				return ctx.Err()
			case <-c.queue.Ready():
				continue
			}
		}
		c.deliver(ctx, m)
		if ctx.Err() != nil {
			c.logUndelivered()
			return ctx.Err()
		}
		c.mu.Lock()
		c.inflight = nil
		c.mu.Unlock()
	}
}

// next returns the message to deliver: the one in flight when Serve was
// restarted mid-delivery, else the oldest queued.
func (c *Channel) next() (Message, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.inflight == nil {
		m, ok := c.queue.Take()
		if !ok {
			return Message{}, false
		}
		c.inflight = &m
	}
	return *c.inflight, true
}

// logUndelivered says, as the node stops, what it had not delivered and
// whether the state file keeps it for the next run.
func (c *Channel) logUndelivered() {
	pending := c.Pending()
	if len(pending) == 0 {
		return
	}
	kinds := map[string]int{}
	for _, m := range pending {
		kinds[m.Kind.String()]++
	}
	ev := c.logger(c.cfg.Log.Warn()).Int("queued", len(pending)).Interface("kinds", kinds)
	if c.cfg.Persisted {
		ev.Msg("webhook stopping with undelivered messages; the state file keeps them for the next run")
	} else {
		ev.Msg("webhook stopping with undelivered messages; they are lost (set STATE_FILE to keep them)")
	}
}

// deliver posts m until it is accepted, refused for good, or has been
// failing for GiveUpAfter. Every attempt respects MinGap since the last and
// any pause a 429 asked for. Time spent paused at the service's request is
// not failing: a rate-limited message is never dropped for waiting, only
// by the queue's own policy when the queue overflows meanwhile.
func (c *Channel) deliver(ctx context.Context, m Message) {
	failing := time.Duration(0) // time spent failing, pauses asked for not counted
	paused := false             // a 429 paused the queue for this message
	backoff := c.cfg.BackoffBase
	for attempt := 1; ; attempt++ {
		if !sleep(ctx, time.Until(latest(c.lastPost.Add(c.cfg.MinGap), c.pausedUntil))) {
			return
		}
		c.lastPost = time.Now()
		retryAfter, retry, err := c.cfg.Poster.Post(ctx, m)
		if err == nil {
			c.cfg.Metrics.WebhookDelivery(c.cfg.Name, WebhookDelivered)
			c.logMessage(c.cfg.Log.Debug(), m).Int("attempt", attempt).Msg("webhook delivered")
			return
		}
		if ctx.Err() != nil {
			return
		}
		if !retry {
			c.cfg.Metrics.WebhookDelivery(c.cfg.Name, WebhookGaveUp)
			c.logMessage(c.cfg.Log.Error(), m).Err(err).Msg("webhook refused the message; dropped (check the channel's URL)")
			return
		}
		c.cfg.Metrics.WebhookDelivery(c.cfg.Name, WebhookRetried)
		if retryAfter > 0 {
			wait := min(retryAfter, MaxRetryAfter)
			c.pausedUntil = time.Now().Add(wait)
			ev := c.cfg.Log.Warn()
			if paused {
				ev = c.cfg.Log.Debug() // said once for this message
			}
			paused = true
			c.logMessage(ev, m).Err(err).Int("attempt", attempt).Float64("retry_in_s", wait.Seconds()).
				Int("queued", len(c.queue.Snapshot())).Msg("webhook asked to wait (rate limited); queue paused, message kept")
			continue
		}
		wait := backoff
		backoff = min(backoff*2, c.cfg.BackoffMax)
		failing += time.Since(c.lastPost) + wait
		if failing > c.cfg.GiveUpAfter {
			c.cfg.Metrics.WebhookDelivery(c.cfg.Name, WebhookGaveUp)
			c.logMessage(c.cfg.Log.Error(), m).Err(err).Int("attempt", attempt).Msg("webhook kept failing; message dropped")
			return
		}
		ev := c.cfg.Log.Warn()
		if attempt > 1 {
			ev = c.cfg.Log.Debug() // one warning per message, not one per retry
		}
		c.logMessage(ev, m).Err(err).Int("attempt", attempt).Float64("retry_in_s", wait.Seconds()).Msg("webhook failed; will retry")
		if !sleep(ctx, wait) {
			return
		}
	}
}

func (c *Channel) logMessage(ev *zerolog.Event, m Message) *zerolog.Event {
	return c.logger(ev).Str(m.Subject.Kind.String(), m.Subject.Name).Str("kind", m.Kind.String())
}

// logger adds what names the channel to a log line: its name and where it
// posts (a host or a scheme, never a token).
func (c *Channel) logger(ev *zerolog.Event) *zerolog.Event {
	return ev.Str("channel", c.cfg.Name).Str("url", c.where)
}

// latest is the later of two instants.
func latest(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// sleep waits d or until ctx ends; it reports whether the wait ran out.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// WebhookChannel is the name of WEBHOOK_URL's channel.
const WebhookChannel = "webhook"

// maxChannels bounds how many channels a node has: WEBHOOK_URL and
// NOTIFY_URLS. The state file holds no more queues than this.
const maxChannels = 1 + config.MaxNotifyURLs

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

// validChannelName reports whether a state file's channel name could be
// one of ChannelNames's, or empty (WEBHOOK_URL's, in older files).
func validChannelName(name string) bool {
	return len(name) <= 64 && !strings.ContainsFunc(name, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-')
	})
}

// Channels hands each message to every channel, in the order the notifier
// sends them; each channel delivers on its own. No channels is no
// notifications.
type Channels []*Channel

// Enqueue queues m on every channel; it never blocks.
func (cs Channels) Enqueue(m Message) {
	for _, c := range cs {
		c.Enqueue(m)
	}
}

// Pending returns each channel's undelivered messages, by channel name,
// for the state file; channels with none are left out.
func (cs Channels) Pending() map[string][]Message {
	out := map[string][]Message{}
	for _, c := range cs {
		if p := c.Pending(); len(p) > 0 {
			out[c.cfg.Name] = p
		}
	}
	return out
}
