package actors

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// Delivery defaults: Slack documents about one message per second per
// webhook; a message that cannot be delivered in ten minutes is stale.
const (
	DefaultWebhookTimeout = 10 * time.Second
	DefaultMinGap         = time.Second
	DefaultBackoffBase    = time.Second
	DefaultBackoffMax     = time.Minute
	DefaultGiveUpAfter    = 10 * time.Minute
	DefaultQueueSize      = 256
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
	Client      *http.Client
	Metrics     *Metrics // nil counts nothing
	Log         zerolog.Logger
}

// Webhook delivers messages to one chat webhook, one at a time, in the
// order they were queued, paced, retrying transient failures. Its queue is
// bounded; when full, reminders give way to down and recovery messages.
type Webhook struct {
	cfg  WebhookConfig
	host string // the only part of the URL that may be logged: the rest is a token

	mu    sync.Mutex
	queue []Message
	wake  chan struct{}

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
		cfg.Client = &http.Client{
			Transport: &http.Transport{
				Proxy:                  http.ProxyFromEnvironment, // chat services are often reached through one
				DialContext:            (&net.Dialer{Timeout: cfg.Timeout}).DialContext,
				TLSHandshakeTimeout:    cfg.Timeout,
				ResponseHeaderTimeout:  cfg.Timeout,
				MaxResponseHeaderBytes: 64 << 10,
			},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	host := "webhook"
	if u, err := url.Parse(cfg.URL); err == nil {
		host = u.Host
	}
	return &Webhook{cfg: cfg, host: host, wake: make(chan struct{}, 1)}
}

func (w *Webhook) String() string { return "webhook(" + w.host + ")" }

// Enqueue queues a message. It never blocks. When the queue is full a
// reminder is dropped (the new one, or the oldest queued one to make room
// for a down or recovery message); the drop is logged.
func (w *Webhook) Enqueue(m Message) {
	w.mu.Lock()
	if len(w.queue) >= w.cfg.QueueSize {
		victim := -1
		if m.Kind != MessageReminder {
			for i, q := range w.queue {
				if q.Kind == MessageReminder {
					victim = i
					break
				}
			}
		}
		dropped := m
		if victim >= 0 {
			dropped = w.queue[victim]
			w.queue = append(w.queue[:victim], w.queue[victim+1:]...)
		}
		w.logMessage(w.cfg.Log.Warn(), dropped).Int("queued", len(w.queue)).Msg("webhook queue full: message dropped")
		w.cfg.Metrics.WebhookDelivery(WebhookDropped)
		if victim < 0 {
			w.mu.Unlock()
			return
		}
	}
	w.queue = append(w.queue, m)
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Serve delivers queued messages until ctx ends.
func (w *Webhook) Serve(ctx context.Context) error {
	for {
		if w.inflight == nil {
			w.inflight = w.pop()
		}
		if w.inflight == nil {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-w.wake:
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

func (w *Webhook) pop() *Message {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.queue) == 0 {
		return nil
	}
	m := w.queue[0]
	w.queue = w.queue[1:]
	return &m
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
