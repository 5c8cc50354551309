package actors

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/dupunkto/mesh/actors/domain"
	"github.com/dupunkto/mesh/actors/mailbox"
)

// Delivery defaults: Slack documents about one message per second per
// webhook; a message that cannot be delivered in ten minutes is stale.
const (
	// DefaultWebhookTimeout bounds a channel's first attempt at a message
	// (and each post to Alertmanager); a retry's bound grows up to
	// MaxAttemptTimeout, so that a service that is slow but works gets a
	// message at most twice.
	DefaultWebhookTimeout = 10 * time.Second
	MaxAttemptTimeout     = 5 * time.Minute
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
// NOTIFY_URLS. The channel around it queues, paces, bounds each attempt
// and retries.
type Poster interface {
	// Post returns by ctx's deadline, which the channel sets for each
	// attempt. It reports whether a failure is worth retrying and how long
	// the service asked to wait, if it did. Its error never holds the URL.
	Post(ctx context.Context, m domain.Message) (retryAfter time.Duration, retry bool, err error)
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
	Timeout     time.Duration // of a message's first attempt; a retry's grows to MaxAttemptTimeout
	MinGap      time.Duration // between two posts
	BackoffBase time.Duration // first retry wait; doubles up to BackoffMax
	BackoffMax  time.Duration
	GiveUpAfter time.Duration // a message still failing after this is dropped
	QueueSize   int
	// Pending are the messages a previous run had not delivered (from the
	// state file); they go first.
	Pending []domain.Message
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

	queue *mailbox.Mailbox[domain.Message]

	// inflight is the message being delivered: taken from the queue and set
	// under mu, so that Pending never misses it between the two.
	mu       sync.Mutex
	inflight *domain.Message

	// pace is owned by Serve, kept across restarts.
	pace pacer
}

// NewChannel returns the channel actor that posts with cfg.Poster.
func NewChannel(cfg ChannelConfig) *Channel {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.Timeout, DefaultWebhookTimeout)
	def(&cfg.MinGap, DefaultMinGap)
	def(&cfg.BackoffBase, DefaultBackoffBase)
	def(&cfg.BackoffMax, DefaultBackoffMax)
	def(&cfg.GiveUpAfter, DefaultGiveUpAfter)
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = DefaultQueueSize
	}
	c := &Channel{cfg: cfg, where: cfg.Poster.Where(), pace: pacer{gap: cfg.MinGap}}
	c.queue = mailbox.New(mailbox.Config[domain.Message]{Size: cfg.QueueSize, Policy: remindersFirst, Dropped: c.dropped})
	cfg.Metrics.AddChannel(cfg.Name)
	for _, m := range cfg.Pending {
		c.queue.Put(m)
	}
	if len(cfg.Pending) > 0 {
		c.logger(cfg.Log.Info()).Int("queued", len(cfg.Pending)).Msg("channel delivering what the previous run had not")
	}
	c.cfg.Pending = nil
	return c
}

// Pending returns the messages not yet delivered, the one being delivered
// first, for the state file to keep.
func (c *Channel) Pending() []domain.Message {
	c.mu.Lock()
	defer c.mu.Unlock()
	queued := c.queue.Snapshot()
	if c.inflight == nil {
		return queued
	}
	return append([]domain.Message{*c.inflight}, queued...)
}

// remindersFirst is a channel queue's policy: down and recovery messages
// matter more than reminders, so when the queue is full a reminder gives
// way: the incoming one, or the oldest queued one to make room for a down
// or recovery message.
func remindersFirst(queued []domain.Message, incoming domain.Message) int {
	if incoming.Kind == domain.MessageReminder {
		return -1
	}
	return slices.IndexFunc(queued, func(q domain.Message) bool { return q.Kind == domain.MessageReminder })
}

func (c *Channel) dropped(m domain.Message, queued int) {
	c.logMessage(c.cfg.Log.Warn(), m).Int("queued", queued).Msg("channel queue full: message dropped")
	c.cfg.Metrics.ChannelDelivery(c.cfg.Name, DeliveryDropped)
	c.cfg.Metrics.MailboxDropped(c.cfg.Name)
}

func (c *Channel) String() string { return "channel(" + c.cfg.Name + ")" }

// Enqueue queues a message. It never blocks; when the queue is full,
// remindersFirst says what is dropped, and the drop is logged and counted.
func (c *Channel) Enqueue(m domain.Message) { c.queue.Put(m) }

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
		if c.deliver(ctx, m) {
			c.mu.Lock()
			c.inflight = nil
			c.mu.Unlock()
		}
		if ctx.Err() != nil {
			c.logUndelivered()
			return ctx.Err()
		}
	}
}

// FinishGrace is how long a post in flight when the node stops may still
// take. Cut short at once, a message the service had taken was kept as
// undelivered, and the next run sent it again: a second down message.
const FinishGrace = 2 * time.Second

// next returns the message to deliver: the one in flight when Serve was
// restarted mid-delivery, else the oldest queued.
func (c *Channel) next() (domain.Message, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.inflight == nil {
		m, ok := c.queue.Take()
		if !ok {
			return domain.Message{}, false
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
		ev.Msg("channel stopping with undelivered messages; the state file keeps them for the next run")
	} else {
		ev.Msg("channel stopping with undelivered messages; they are lost (set STATE_FILE to keep them)")
	}
}

// deliver posts m until it is accepted, refused for good, or has been
// failing for GiveUpAfter. Every attempt waits for the pacer, and is bounded
// by a timeout that grows with each attempt: a service that answers after
// 30 s times the first attempt out, and takes the second. A failure the
// service may get over waits for the backoff; a 429 pauses the whole queue
// for as long as the service asks, which is not failing: a rate-limited
// message is never dropped for waiting, only by the queue's own policy when
// the queue overflows meanwhile. It reports whether it is done with m
// (delivered or dropped); not when the node stopped first.
func (c *Channel) deliver(ctx context.Context, m domain.Message) (done bool) {
	retries := backoff{next: c.cfg.BackoffBase, max: c.cfg.BackoffMax, giveUpAfter: c.cfg.GiveUpAfter}
	timeouts := attemptTimeouts{next: c.cfg.Timeout, max: max(c.cfg.Timeout, MaxAttemptTimeout)}
	paused := false // a 429 paused the queue for this message: said once
	for attempt := 1; ; attempt++ {
		if !sleep(ctx, c.pace.wait(time.Now())) {
			return false
		}
		start := time.Now()
		c.pace.posted(start)
		timeout := timeouts.take()
		// The attempt outlives ctx by FinishGrace: a node stopping lets
		// the post in flight finish.
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
		stopping := context.AfterFunc(ctx, func() { time.AfterFunc(FinishGrace, cancel) })
		retryAfter, retry, err := c.cfg.Poster.Post(actx, m)
		stopping()
		timedOut := err != nil && ctx.Err() == nil && actx.Err() != nil
		cancel()
		if timedOut {
			// Whatever the poster made of it, the attempt ran out of time:
			// the service may be slow, and the next attempt waits longer.
			retryAfter, retry, err = 0, true, fmt.Errorf("timed out after %s", timeout)
		}
		switch {
		case err == nil:
			c.cfg.Metrics.ChannelDelivery(c.cfg.Name, DeliveryDelivered)
			c.logMessage(c.cfg.Log.Debug(), m).Int("attempt", attempt).Msg("message delivered")
			return true
		case ctx.Err() != nil:
			return false
		case !retry:
			c.cfg.Metrics.ChannelDelivery(c.cfg.Name, DeliveryGaveUp)
			c.logMessage(c.cfg.Log.Error(), m).Err(err).Msg("the service refused the message; dropped (check the channel's URL)")
			return true
		case timedOut:
			c.cfg.Metrics.ChannelDelivery(c.cfg.Name, DeliveryTimedOut)
		default:
			c.cfg.Metrics.ChannelDelivery(c.cfg.Name, DeliveryRetried)
		}
		if retryAfter > 0 {
			wait := c.pace.pause(retryAfter, time.Now())
			c.logMessage(onceThenDebug(c.cfg.Log, &paused), m).Err(err).Int("attempt", attempt).Float64("retry_in_s", wait.Seconds()).
				Int("queued", len(c.queue.Snapshot())).Msg("the service asked to wait (rate limited); queue paused, message kept")
			continue
		}
		wait, giveUp := retries.failed(time.Since(start))
		if giveUp {
			c.cfg.Metrics.ChannelDelivery(c.cfg.Name, DeliveryGaveUp)
			c.logMessage(c.cfg.Log.Error(), m).Err(err).Int("attempt", attempt).Msg("delivery kept failing; message dropped")
			return true
		}
		ev := c.cfg.Log.Warn()
		if attempt > 1 {
			ev = c.cfg.Log.Debug() // one warning per message, not one per retry
		}
		c.logMessage(ev, m).Err(err).Int("attempt", attempt).Float64("retry_in_s", wait.Seconds()).
			Msg("delivery failed; will retry")
		if !sleep(ctx, wait) {
			return false
		}
	}
}

// onceThenDebug is a warning the first time (*said false, which it sets),
// a debug line after.
func onceThenDebug(log zerolog.Logger, said *bool) *zerolog.Event {
	if *said {
		return log.Debug()
	}
	*said = true
	return log.Warn()
}

func (c *Channel) logMessage(ev *zerolog.Event, m domain.Message) *zerolog.Event {
	return c.logger(ev).Str(m.Subject.Kind.String(), m.Subject.Name).Str("kind", m.Kind.String())
}

// logger adds what names the channel to a log line: its name and where it
// posts (a host or a scheme, never a token).
func (c *Channel) logger(ev *zerolog.Event) *zerolog.Event {
	return ev.Str("channel", c.cfg.Name).Str("host", c.where)
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
