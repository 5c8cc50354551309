package actors

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/dupunkto/mesh/actors/domain"
)

// WebhookPoster posts to the Discord or Slack incoming webhook of
// WEBHOOK_URL. It reads their answers itself (a 429's Retry-After, or
// Discord's retry_after in the body) rather than through Shoutrrr, so that
// the channel can pause its whole queue for as long as the service asks.
type WebhookPoster struct {
	cfg  WebhookConfig
	host string // the only part of the URL that may be logged: the rest is a token
}

// WebhookConfig is what a webhook poster is built from.
type WebhookConfig struct {
	URL      string
	Format   string       // "discord" (content) or "slack" (text)
	Username string       // the node's name
	Client   *http.Client // nil: newHTTPClient(forWebhooks, DefaultWebhookTimeout, Cut)
	Cut      Cut          // nil: the network as it is
}

// NewWebhookPoster returns the poster for cfg.URL.
func NewWebhookPoster(cfg WebhookConfig) *WebhookPoster {
	if cfg.Client == nil {
		cfg.Client = newHTTPClient(forWebhooks, DefaultWebhookTimeout, cfg.Cut)
	}
	return &WebhookPoster{cfg: cfg, host: hostOf(cfg.URL, "webhook")}
}

// Where is the webhook's host.
func (w *WebhookPoster) Where() string { return w.host }

// Post makes one attempt: a JSON body of the message, as Discord's
// "content" or Slack's "text", under the node's name.
func (w *WebhookPoster) Post(ctx context.Context, m domain.Message) (retryAfter time.Duration, retry bool, err error) {
	payload := map[string]string{"username": w.cfg.Username}
	if w.cfg.Format == "slack" {
		payload["text"] = m.Text
	} else {
		payload["content"] = m.Text
	}
	body, _ := json.Marshal(payload)
	resp, err := postJSON(ctx, w.cfg.Client, w.cfg.URL, body)
	if errors.Is(err, errBadURL) {
		return 0, false, errors.New("invalid webhook URL")
	} else if err != nil {
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
