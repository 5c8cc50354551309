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
	Client      *http.Client // nil: newHTTPClient(forWebhooks, Timeout)
	Metrics     *Metrics     // nil counts nothing
	Log         zerolog.Logger
}

// Webhook delivers messages to one chat webhook, one at a time, in the
// order they were queued, paced, retrying transient failures. Its queue is
// bounded; when full, reminders give way to down and recovery messages.
type Webhook struct {
	cfg  WebhookConfig
	host string // the only part of the URL that may be logged: the rest is a token

	queue *mailbox.Mailbox[Message]

	// Owned by Serve, kept across restarts.
	inflight *Message
	lastPost time.Time
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
	return w
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

// Serve delivers queued messages until ctx ends.
func (w *Webhook) Serve(ctx context.Context) error {
	for {
		if w.inflight == nil {
			if m, ok := w.queue.Take(); ok {
				w.inflight = &m
			}
		}
		if w.inflight == nil {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-w.queue.Ready():
				continue
			}
		}
		w.deliver(ctx, *w.inflight)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		w.inflight = nil
	}
}

// deliver posts m until it is accepted, refused for good, or has been
// failing for GiveUpAfter. Every attempt respects MinGap since the last.
func (w *Webhook) deliver(ctx context.Context, m Message) {
	first := time.Now()
	backoff := w.cfg.BackoffBase
	for attempt := 1; ; attempt++ {
		if !sleep(ctx, time.Until(w.lastPost.Add(w.cfg.MinGap))) {
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
		wait := backoff
		if retryAfter > 0 {
			wait = retryAfter
		}
		backoff = min(backoff*2, w.cfg.BackoffMax)
		if time.Since(first)+wait > w.cfg.GiveUpAfter {
			w.cfg.Metrics.WebhookDelivery(WebhookGaveUp)
			w.logMessage(w.cfg.Log.Error(), m).Err(err).Int("attempt", attempt).Msg("webhook kept failing; message dropped")
			return
		}
		w.cfg.Metrics.WebhookDelivery(WebhookRetried)
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
