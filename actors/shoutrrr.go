package actors

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"time"

	"github.com/nicholas-fedor/shoutrrr/pkg/types"

	"github.com/dupunkto/mesh/actors/domain"
	"github.com/dupunkto/mesh/config"
)

// ShoutrrrPoster sends through one Shoutrrr service (NOTIFY_URLS): Shoutrrr
// knows each service's payload and API, the channel around it keeps Mesh's
// own queue, pacing and retries. Shoutrrr's errors say nothing of whether a
// failure is lasting, so every failure is retried until the channel gives
// up on the message.
type ShoutrrrPoster struct {
	url     string
	service string
	timeout time.Duration
	titled  bool // each message gets a title of its own (see messageTitle)

	// A service keeps state between sends that leaks from one message into
	// the next (ntfy adds each message's title to headers it keeps, and
	// sends the first forever), so each post sets up its service afresh;
	// it is parsing, no I/O. Except Matrix, whose setup logs in: its
	// service is kept, set up at its first post rather than at start so
	// that a chat server down at start does not stop the node. Owned by
	// the channel's Serve, one post at a time; mu makes that plain to the
	// race detector.
	mu     sync.Mutex
	matrix types.Service

	// sending holds a token while a send runs. Shoutrrr's Send takes no
	// context, and several services post with http.DefaultClient, which
	// never times out: a post stops waiting at its timeout, but the send
	// goes on until the service answers. A post whose predecessor still
	// hangs fails rather than start another, so that a service that never
	// answers holds one goroutine, not one per attempt.
	sending chan struct{}
}

// NewNotifyPoster returns the poster of one checked NOTIFY_URLS entry:
// Shoutrrr's, or Mesh's own where Shoutrrr's would take a failure for a
// delivery (Telegram, see TelegramPoster). timeout bounds each attempt.
func NewNotifyPoster(u config.NotifyURL, timeout time.Duration, cut Cut) Poster {
	if u.Service == "telegram" {
		if p, err := NewTelegramPoster(u.URL, timeout, cut); err == nil {
			return p
		}
	}
	return NewShoutrrrPoster(u, timeout)
}

// NewShoutrrrPoster returns the poster for one checked NOTIFY_URLS entry.
// timeout bounds each attempt; zero is DefaultWebhookTimeout.
func NewShoutrrrPoster(u config.NotifyURL, timeout time.Duration) *ShoutrrrPoster {
	if timeout <= 0 {
		timeout = DefaultWebhookTimeout
	}
	p := &ShoutrrrPoster{url: u.URL, service: u.Service, timeout: timeout, sending: make(chan struct{}, 1)}
	if parsed, err := url.Parse(u.URL); err == nil {
		q := parsed.Query()
		p.titled = titledServices[u.Service] && !q.Has("title") && !q.Has("subject")
	}
	return p
}

// titledServices are those whose messages show a title apart from the
// text: an e-mail's subject, a push notification's heading. Each message
// gets one that says what happened, unless the URL sets its own. Chat
// services get the text alone, as WEBHOOK_URL's do; and a title is not
// passed to a service that has none, which would refuse it.
var titledServices = map[string]bool{"smtp": true, "ntfy": true, "gotify": true, "pushover": true, "pushbullet": true, "bark": true, "join": true}

// messageTitle is a message's title where the service shows one.
func messageTitle(m domain.Message) string {
	what := map[domain.MessageKind]string{domain.MessageDown: "is down", domain.MessageRecovery: "is up again", domain.MessageReminder: "is still down",
		domain.MessagePartial: "is unreachable from some nodes", domain.MessagePartialOver: "is reachable from every node again",
		domain.MessageCertExpiry: "has a certificate about to expire"}[m.Kind]
	return "Mesh: " + m.Subject.Name + " " + what
}

// Where is the service's name: its URL's host may be a token (telegram://
// token@telegram).
func (p *ShoutrrrPoster) Where() string { return p.service }

// Post sends the message's text. Shoutrrr's Send takes no context, so it
// runs aside and the post stops waiting for it at the timeout or when ctx
// ends; the send itself ends when the service answers (see sending).
func (p *ShoutrrrPoster) Post(ctx context.Context, m domain.Message) (time.Duration, bool, error) {
	sink, err := p.sink()
	if err != nil {
		return 0, true, p.redacted(fmt.Errorf("setting up %s: %w", p.service, err))
	}
	var params *types.Params
	if p.titled {
		params = &types.Params{"title": messageTitle(m)}
	}
	t := time.NewTimer(p.timeout)
	defer t.Stop()
	select {
	case p.sending <- struct{}{}:
	case <-t.C:
		return 0, true, fmt.Errorf("timed out after %s: the previous message's send still hangs", p.timeout)
	case <-ctx.Done():
		return 0, true, ctx.Err()
	}
	done := make(chan error, 1)
	go func() {
		defer func() { <-p.sending }()
		defer func() {
			// A service's code that panics on a failed post (Zulip's
			// closes a body it never got) must not take the node down:
			// it is a failed attempt, retried as any.
			if v := recover(); v != nil {
				done <- fmt.Errorf("%s failed and its library panicked: %v", p.service, v)
			}
		}()
		done <- sink.Send(m.Text, params)
	}()
	select {
	case err := <-done:
		if err != nil {
			return 0, true, p.redacted(err)
		}
		return 0, false, nil
	case <-t.C:
		return 0, true, fmt.Errorf("timed out after %s", p.timeout)
	case <-ctx.Done():
		return 0, true, ctx.Err()
	}
}

// sink is the service to send the next message through.
func (p *ShoutrrrPoster) sink() (types.Service, error) {
	if p.service != "matrix" {
		return config.NewNotifyService(p.url)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.matrix == nil {
		s, err := config.NewNotifyService(p.url)
		if err != nil {
			return nil, err
		}
		p.matrix = s
	}
	return p.matrix, nil
}

// redacted is err with every secret part of the URL taken out of its
// text: Shoutrrr's errors quote the URLs they were sending to, which for
// Telegram hold the bot's token.
func (p *ShoutrrrPoster) redacted(err error) error {
	return errors.New(config.Redact(err.Error(), p.url))
}
