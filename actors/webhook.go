package actors

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/dupunkto/mesh/actors/mailbox"
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

// WebhookConfig is what the webhook actor is built from. Zero durations and
// sizes take the defaults above.
type WebhookConfig struct {
	URL         string
	Format      string // "discord" (content) or "slack" (text)
	Username    string // the node's name
	Timeout     time.Duration
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
	Client    *http.Client // nil: newHTTPClient(forWebhooks, Timeout)
	Metrics   *Metrics     // nil counts nothing
	Log       zerolog.Logger
}

// Webhook delivers messages to one chat webhook, one at a time, in the
// order they were queued, paced, retrying transient failures. Its queue is
// bounded; when full, reminders give way to down and recovery messages.
type Webhook struct {
	cfg  WebhookConfig
	host string // the only part of the URL that may be logged: the rest is a token

	queue *mailbox.Mailbox[Message]

	// inflight is the message being delivered: taken from the queue and set
	// under mu, so that Pending never misses it between the two.
	mu       sync.Mutex
	inflight *Message

	// Owned by Serve, kept across restarts.
	lastPost    time.Time
	pausedUntil time.Time // a 429 asked the whole queue to wait until then
}

// NewWebhook returns the webhook actor for cfg.URL.
func NewWebhook(cfg WebhookConfig) *Webhook {
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
	if cfg.Client == nil {
		cfg.Client = newHTTPClient(forWebhooks, cfg.Timeout)
	}
	host := "webhook"
	if u, err := url.Parse(cfg.URL); err == nil {
		host = u.Host
	}
	w := &Webhook{cfg: cfg, host: host}
	w.queue = mailbox.New(mailbox.Config[Message]{Size: cfg.QueueSize, Policy: remindersFirst, Dropped: w.dropped})
	for _, m := range cfg.Pending {
		w.queue.Put(m)
	}
	if len(cfg.Pending) > 0 {
		cfg.Log.Info().Int("queued", len(cfg.Pending)).Str("url", host).Msg("webhook: delivering what the previous run had not")
	}
	w.cfg.Pending = nil
	return w
}

// Pending returns the messages not yet delivered, the one being delivered
// first, for the state file to keep. A nil webhook (webhooks off) has none.
func (w *Webhook) Pending() []Message {
	if w == nil {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	queued := w.queue.Snapshot()
	if w.inflight == nil {
		return queued
	}
	return append([]Message{*w.inflight}, queued...)
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

func (w *Webhook) dropped(m Message, queued int) {
	w.logMessage(w.cfg.Log.Warn(), m).Int("queued", queued).Msg("webhook queue full: message dropped")
	w.cfg.Metrics.WebhookDelivery(WebhookDropped)
	w.cfg.Metrics.MailboxDropped("webhook")
}

func (w *Webhook) String() string { return "webhook(" + w.host + ")" }

// Enqueue queues a message. It never blocks; when the queue is full,
// remindersFirst says what is dropped, and the drop is logged and counted.
func (w *Webhook) Enqueue(m Message) { w.queue.Put(m) }

// Serve delivers queued messages until ctx ends, then says what it had not
// delivered.
func (w *Webhook) Serve(ctx context.Context) error {
	for {
		m, ok := w.next()
		if !ok {
			select {
			case <-ctx.Done():
				w.logUndelivered()
				return ctx.Err()
			case <-w.queue.Ready():
				continue
			}
		}
		w.deliver(ctx, m)
		if ctx.Err() != nil {
			w.logUndelivered()
			return ctx.Err()
		}
		w.mu.Lock()
		w.inflight = nil
		w.mu.Unlock()
	}
}

// next returns the message to deliver: the one in flight when Serve was
// restarted mid-delivery, else the oldest queued.
func (w *Webhook) next() (Message, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.inflight == nil {
		m, ok := w.queue.Take()
		if !ok {
			return Message{}, false
		}
		w.inflight = &m
	}
	return *w.inflight, true
}

// logUndelivered says, as the node stops, what it had not delivered and
// whether the state file keeps it for the next run.
func (w *Webhook) logUndelivered() {
	pending := w.Pending()
	if len(pending) == 0 {
		return
	}
	kinds := map[string]int{}
	for _, m := range pending {
		kinds[m.Kind.String()]++
	}
	ev := w.cfg.Log.Warn().Str("url", w.host).Int("queued", len(pending)).Interface("kinds", kinds)
	if w.cfg.Persisted {
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
func (w *Webhook) deliver(ctx context.Context, m Message) {
	failing := time.Duration(0) // time spent failing, pauses asked for not counted
	paused := false             // a 429 paused the queue for this message
	backoff := w.cfg.BackoffBase
	for attempt := 1; ; attempt++ {
		if !sleep(ctx, time.Until(latest(w.lastPost.Add(w.cfg.MinGap), w.pausedUntil))) {
			return
		}
		w.lastPost = time.Now()
		retryAfter, retry, err := w.post(ctx, m)
		if err == nil {
			w.cfg.Metrics.WebhookDelivery(WebhookDelivered)
			w.logMessage(w.cfg.Log.Debug(), m).Int("attempt", attempt).Msg("webhook delivered")
			return
		}
		if ctx.Err() != nil {
			return
		}
		if !retry {
			w.cfg.Metrics.WebhookDelivery(WebhookGaveUp)
			w.logMessage(w.cfg.Log.Error(), m).Err(err).Msg("webhook refused the message; dropped (check WEBHOOK_URL)")
			return
		}
		w.cfg.Metrics.WebhookDelivery(WebhookRetried)
		if retryAfter > 0 {
			wait := min(retryAfter, MaxRetryAfter)
			w.pausedUntil = time.Now().Add(wait)
			ev := w.cfg.Log.Warn()
			if paused {
				ev = w.cfg.Log.Debug() // said once for this message
			}
			paused = true
			w.logMessage(ev, m).Err(err).Int("attempt", attempt).Float64("retry_in_s", wait.Seconds()).
				Int("queued", len(w.queue.Snapshot())).Msg("webhook asked to wait (rate limited); queue paused, message kept")
			continue
		}
		wait := backoff
		backoff = min(backoff*2, w.cfg.BackoffMax)
		failing += time.Since(w.lastPost) + wait
		if failing > w.cfg.GiveUpAfter {
			w.cfg.Metrics.WebhookDelivery(WebhookGaveUp)
			w.logMessage(w.cfg.Log.Error(), m).Err(err).Int("attempt", attempt).Msg("webhook kept failing; message dropped")
			return
		}
		ev := w.cfg.Log.Warn()
		if attempt > 1 {
			ev = w.cfg.Log.Debug() // one warning per message, not one per retry
		}
		w.logMessage(ev, m).Err(err).Int("attempt", attempt).Float64("retry_in_s", wait.Seconds()).Msg("webhook failed; will retry")
		if !sleep(ctx, wait) {
			return
		}
	}
}

// post makes one attempt. It reports whether a failure is worth retrying
// and how long the service asked to wait, if it did.
func (w *Webhook) post(ctx context.Context, m Message) (retryAfter time.Duration, retry bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, w.cfg.Timeout)
	defer cancel()
	payload := map[string]string{"username": w.cfg.Username}
	if w.cfg.Format == "slack" {
		payload["text"] = m.Text
	} else {
		payload["content"] = m.Text
	}
	body, _ := json.Marshal(payload)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return 0, false, errors.New("invalid webhook URL")
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := w.cfg.Client.Do(req)
	if err != nil {
		// The client's error quotes the whole URL, token and all: keep only the cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		if errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("timed out after %s", w.cfg.Timeout)
		}
		return 0, true, err
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	switch {
	case resp.StatusCode/100 == 2:
		return 0, false, nil
	case resp.StatusCode == http.StatusTooManyRequests:
		return retryAfterOf(resp.Header.Get("Retry-After"), answer), true, fmt.Errorf("answered %s", resp.Status)
	case resp.StatusCode/100 == 5:
		return 0, true, fmt.Errorf("answered %s", resp.Status)
	default:
		return 0, false, fmt.Errorf("answered %s", resp.Status)
	}
}

// retryAfterOf reads how long a 429 asks to wait: the Retry-After header
// (seconds or an HTTP date), else Discord's JSON "retry_after" in seconds.
func retryAfterOf(header string, body []byte) time.Duration {
	if header != "" {
		if s, err := strconv.ParseFloat(header, 64); err == nil && s >= 0 {
			return time.Duration(s * float64(time.Second))
		}
		if t, err := http.ParseTime(header); err == nil {
			return max(time.Until(t), 0)
		}
	}
	var discord struct {
		RetryAfter float64 `json:"retry_after"`
	}
	if json.Unmarshal(body, &discord) == nil && discord.RetryAfter > 0 {
		return time.Duration(discord.RetryAfter * float64(time.Second))
	}
	return 0
}

func (w *Webhook) logMessage(ev *zerolog.Event, m Message) *zerolog.Event {
	return ev.Str("peer", m.Peer).Str("kind", m.Kind.String()).Str("url", w.host)
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
