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
	titled  bool // each message gets a title of its own (see messageTitle)

	// A service keeps state between sends that leaks from one message into
	// the next (ntfy adds each message's title to headers it keeps, and
	// sends the first forever), so each post sets up its service afresh;
	// it is parsing, no I/O. Except Matrix, whose setup logs in: its
	// service is kept, set up at its first post rather than at start so
	// that a chat server down at start does not stop the node. Set up in
	// the send's goroutine; mu guards it.
	mu     sync.Mutex
	matrix types.Service

	// last is the latest send, which may still run. Shoutrrr's Send takes
	// no context, and several services post with http.DefaultClient,
	// which never times out: a post stops waiting at its deadline, but the
	// send goes on until the service answers. The next attempt at the same
	// message waits for that send rather than start another, so a service
	// that is slow but works gets the message once; another message waits
	// for it to end, so a service that never answers holds one goroutine,
	// not one per attempt. Owned by the channel's Serve, one post at a time.
	last *shoutrrrSend
}

// shoutrrrSend is one run of a service's Send: err is set before done is
// closed; told says a Post has returned its result.
type shoutrrrSend struct {
	text string
	done chan struct{}
	err  error
	told bool
}

// NewNotifyPoster returns the poster of one checked NOTIFY_URLS entry:
// Shoutrrr's, or Mesh's own where Shoutrrr's would take a failure for a
// delivery (Telegram, see TelegramPoster). cut is asked before each
// connection where Mesh makes them.
func NewNotifyPoster(u config.NotifyURL, cut Cut) Poster {
	if u.Service == "telegram" {
		if p, err := NewTelegramPoster(u.URL, cut); err == nil {
			return p
		}
	}
	return NewShoutrrrPoster(u)
}

// NewShoutrrrPoster returns the poster for one checked NOTIFY_URLS entry.
func NewShoutrrrPoster(u config.NotifyURL) *ShoutrrrPoster {
	p := &ShoutrrrPoster{url: u.URL, service: u.Service}
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
// runs aside and the post stops waiting for it when ctx ends; the send
// itself ends when the service answers (see last).
func (p *ShoutrrrPoster) Post(ctx context.Context, m domain.Message) (time.Duration, bool, error) {
	if prev := p.last; prev != nil && !prev.told {
		select {
		case <-prev.done:
		case <-ctx.Done():
			if prev.text == m.Text {
				return 0, true, ctx.Err()
			}
			return 0, true, errors.New("the previous message's send still hangs")
		}
		if prev.text == m.Text {
			// The last attempt's send has ended since: its answer is this
			// attempt's, and the service got the message once.
			return p.told(prev)
		}
	}
	var params *types.Params
	if p.titled {
		params = &types.Params{"title": messageTitle(m)}
	}
	send := &shoutrrrSend{text: m.Text, done: make(chan struct{})}
	p.last = send
	go func() {
		defer close(send.done)
		defer func() {
			// A service's code that panics on a failed post (Zulip's
			// closes a body it never got) must not take the node down:
			// it is a failed attempt, retried as any.
			if v := recover(); v != nil {
				send.err = fmt.Errorf("%s failed and its library panicked: %v", p.service, v)
			}
		}()
		sink, err := p.sink()
		if err != nil {
			send.err = fmt.Errorf("setting up %s: %w", p.service, err)
			return
		}
		send.err = sink.Send(m.Text, params)
	}()
	select {
	case <-send.done:
		return p.told(send)
	case <-ctx.Done():
		return 0, true, ctx.Err()
	}
}

// told is the result of a send that has ended, noted as told.
func (p *ShoutrrrPoster) told(s *shoutrrrSend) (time.Duration, bool, error) {
	s.told = true
	if s.err != nil {
		return 0, true, p.redacted(s.err)
	}
	return 0, false, nil
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
