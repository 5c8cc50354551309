package actors

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/nicholas-fedor/shoutrrr/pkg/services/chat/telegram"

	"github.com/dupunkto/mesh/actors/domain"
	"github.com/dupunkto/mesh/config"
)

// TelegramPoster posts a telegram:// entry of NOTIFY_URLS to Telegram's Bot
// API itself. Shoutrrr reads the URL (token, chats, parse mode, preview,
// notification, title), as for every other service, but its client
// (v0.13.2) takes a POST that failed without a JSON answer (a DNS failure,
// a refused or reset connection, an HTML 502 from a proxy) for a delivery:
// the channel would log "message delivered" and never retry. Here every
// failure is one, and the answer says whether to retry: Telegram's own
// 429 says how long to wait, and a 4xx that is not one is for good.
type TelegramPoster struct {
	cfg    *telegram.Config
	api    string // the Bot API's base, https://api.telegram.org
	client *http.Client
}

// NewTelegramPoster returns the poster for a checked telegram:// URL. cut,
// when not nil, is asked before each connection, as for the node's other
// clients.
func NewTelegramPoster(raw string, cut Cut) (*TelegramPoster, error) {
	s, err := config.NewNotifyService(raw)
	if err != nil {
		return nil, err
	}
	svc, ok := s.(*telegram.Service)
	if !ok {
		return nil, fmt.Errorf("not a telegram URL")
	}
	return &TelegramPoster{cfg: svc.GetConfig(), api: "https://api.telegram.org", client: newHTTPClient(forWebhooks, DefaultWebhookTimeout, cut)}, nil
}

// Where is the service's name: its URL's user is the bot's token.
func (p *TelegramPoster) Where() string { return "telegram" }

// Post sends the message to each chat of the URL, in order, and fails
// with the first that fails.
func (p *TelegramPoster) Post(ctx context.Context, m domain.Message) (time.Duration, bool, error) {
	for _, chat := range p.cfg.Chats {
		if wait, retry, err := p.send(ctx, payloadFor(m.Text, chat, p.cfg)); err != nil {
			return wait, retry, err
		}
	}
	return 0, false, nil
}

// send posts one sendMessage call.
func (p *TelegramPoster) send(ctx context.Context, payload telegram.SendMessagePayload) (time.Duration, bool, error) {
	body, _ := json.Marshal(payload) // strings, ints and bools: it cannot fail
	resp, err := postJSON(ctx, p.client, p.api+"/bot"+p.cfg.Token+"/sendMessage", body)
	if errors.Is(err, errBadURL) {
		return 0, false, errors.New("invalid telegram token")
	} else if err != nil {
		return 0, true, err
	}
	defer resp.Body.Close()
	var answer struct {
		OK          bool   `json:"ok"`
		Description string `json:"description"`
		Parameters  struct {
			RetryAfter float64 `json:"retry_after"`
		} `json:"parameters"`
	}
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	parsed := json.Unmarshal(raw, &answer) == nil
	switch {
	case resp.StatusCode/100 == 2 && parsed && answer.OK:
		return 0, false, nil
	case resp.StatusCode == http.StatusTooManyRequests:
		wait := time.Duration(answer.Parameters.RetryAfter * float64(time.Second))
		return max(wait, retryAfterOf(resp.Header.Get("Retry-After"), nil)), true, fmt.Errorf("answered %s", resp.Status)
	case resp.StatusCode/100 == 4:
		return 0, false, fmt.Errorf("answered %s: %s", resp.Status, strings.ReplaceAll(answer.Description, p.cfg.Token, "***"))
	case !parsed:
		return 0, true, fmt.Errorf("answered %s, not Telegram's JSON", resp.Status)
	}
	return 0, true, fmt.Errorf("answered %s: %s", resp.Status, strings.ReplaceAll(answer.Description, p.cfg.Token, "***"))
}

// payloadFor is the sendMessage call of a message to one chat, as
// Shoutrrr's Telegram service makes it: a chat written "id:thread" posts
// to that thread, and a title (title= in the URL) goes first, in bold, the
// message then read as HTML.
func payloadFor(text, chat string, cfg *telegram.Config) telegram.SendMessagePayload {
	id, thread, hasThread := strings.Cut(chat, ":")
	payload := telegram.SendMessagePayload{Text: text, ID: id, DisableNotification: !cfg.Notification, DisablePreview: !cfg.Preview}
	if n, err := strconv.Atoi(thread); hasThread && err == nil {
		payload.MessageThreadID = &n
	}
	mode := cfg.ParseMode
	if mode == telegram.ParseModes.None && cfg.Title != "" {
		mode, text = telegram.ParseModes.HTML, html.EscapeString(text)
	}
	if mode != telegram.ParseModes.None {
		payload.ParseMode = mode.String()
	}
	if mode == telegram.ParseModes.HTML {
		payload.Text = fmt.Sprintf("<b>%s</b>\n%s", html.EscapeString(cfg.Title), text)
	}
	return payload
}
