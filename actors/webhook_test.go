package actors

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/dupunkto/mesh/actors/domain"
	"github.com/rs/zerolog"
)

// scriptedHook is an in-memory webhook for delivery timing under synctest.
// Each post takes the next scripted answer (the last one repeats) and is
// recorded with its time. takes, when set, is how long each answer takes,
// unless the request's deadline comes first.
type scriptedHook struct {
	start   time.Time
	mu      sync.Mutex
	answers []func() *http.Response
	posts   []hookPost
	takes   time.Duration
}

type hookPost struct {
	after time.Duration
	body  map[string]string
}

func (h *scriptedHook) RoundTrip(req *http.Request) (*http.Response, error) {
	var body map[string]string
	_ = json.NewDecoder(req.Body).Decode(&body)
	h.mu.Lock()
	h.posts = append(h.posts, hookPost{time.Since(h.start), body})
	answer := h.answers[min(len(h.posts)-1, len(h.answers)-1)]
	h.mu.Unlock()
	select {
	case <-time.After(h.takes):
	case <-req.Context().Done():
		return nil, req.Context().Err()
	}
	return answer(), nil
}

func (h *scriptedHook) times() []time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []time.Duration
	for _, p := range h.posts {
		out = append(out, p.after)
	}
	return out
}

func answer(status int, header http.Header, body string) func() *http.Response {
	return func() *http.Response {
		if header == nil {
			header = http.Header{}
		}
		return &http.Response{StatusCode: status, Status: fmt.Sprintf("%d %s", status, http.StatusText(status)), Header: header, Body: io.NopCloser(strings.NewReader(body))}
	}
}

// webhookChannel is WEBHOOK_URL's channel as the node builds it.
func webhookChannel(w WebhookConfig, c ChannelConfig) *Channel {
	c.Name, c.Poster = WebhookChannel, NewWebhookPoster(w)
	return NewChannel(c)
}

func scriptedWebhook(t *testing.T, answers ...func() *http.Response) (*Channel, *scriptedHook) {
	h := &scriptedHook{start: time.Now(), answers: answers}
	w := webhookChannel(WebhookConfig{URL: "https://chat.example/api/webhooks/1/t0ken", Format: "discord", Username: "nov", Client: &http.Client{Transport: h}}, ChannelConfig{Log: zerolog.Nop()})
	go w.Serve(t.Context())
	return w, h
}

func msg(kind domain.MessageKind, text string) domain.Message {
	return domain.Message{Kind: kind, Subject: domain.Peer("dec"), Text: text}
}

func assertTimes(t *testing.T, got []time.Duration, want ...time.Duration) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("posts at %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("posts at %v, want %v", got, want)
		}
	}
}

const s = time.Second

func TestWebhookHonours429(t *testing.T) {
	cases := []struct {
		name   string
		answer func() *http.Response
		wait   time.Duration
	}{
		{"Retry-After in seconds", answer(429, http.Header{"Retry-After": {"7"}}, ""), 7 * s},
		{"Discord's retry_after in the body", answer(429, nil, `{"message":"You are being rate limited.","retry_after":2.5,"global":false}`), 2500 * time.Millisecond},
		{"a 429 that says nothing backs off", answer(429, nil, ""), 1 * s},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				w, h := scriptedWebhook(t, tc.answer, answer(204, nil, ""))
				w.Enqueue(msg(domain.MessageDown, "down"))
				time.Sleep(time.Minute)
				assertTimes(t, h.times(), 0, tc.wait)
			})
		})
	}
}

// recordingHook is a real loopback webhook that records what it receives.
type recordingHook struct {
	*httptest.Server
	mu     sync.Mutex
	bodies []map[string]string
	handle func(w http.ResponseWriter, n int) bool // n is the request number; false: answer 204
}

func newRecordingHook(t *testing.T, handle func(w http.ResponseWriter, n int) bool) *recordingHook {
	h := &recordingHook{handle: handle}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body map[string]string
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil || r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("webhook body %v (%v), content type %q", body, err, r.Header.Get("Content-Type"))
		}
		h.mu.Lock()
		h.bodies = append(h.bodies, body)
		n := len(h.bodies)
		h.mu.Unlock()
		if h.handle == nil || !h.handle(w, n) {
			w.WriteHeader(http.StatusNoContent)
		}
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *recordingHook) received() []map[string]string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]map[string]string(nil), h.bodies...)
}

func deliverAll(t *testing.T, w *Channel, h *recordingHook, posts int) {
	t.Helper()
	go w.Serve(t.Context())
	deadline := time.Now().Add(20 * time.Second)
	for len(h.received()) < posts {
		if time.Now().After(deadline) {
			t.Fatalf("received %v, want %d posts", h.received(), posts)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestWebhookOverRealHTTP(t *testing.T) {
	t.Run("discord gets content and username, in order", func(t *testing.T) {
		h := newRecordingHook(t, nil)
		w := webhookChannel(WebhookConfig{URL: h.URL + "/api/webhooks/1/t0ken", Format: "discord", Username: "nov.mesh.dupunkto.org"}, ChannelConfig{MinGap: 10 * time.Millisecond, Log: zerolog.Nop()})
		for i := range 5 {
			w.Enqueue(msg(domain.MessageDown, fmt.Sprintf("m%d", i)))
		}
		deliverAll(t, w, h, 5)
		for i, b := range h.received() {
			if b["content"] != fmt.Sprintf("m%d", i) || b["username"] != "nov.mesh.dupunkto.org" || len(b) != 2 {
				t.Fatalf("post %d = %v", i, b)
			}
		}
	})
	t.Run("slack gets text", func(t *testing.T) {
		h := newRecordingHook(t, nil)
		w := webhookChannel(WebhookConfig{URL: h.URL + "/services/T/B/x", Format: "slack", Username: "nov"}, ChannelConfig{Log: zerolog.Nop()})
		w.Enqueue(msg(domain.MessageDown, "🔴 `dec` is unreachable"))
		deliverAll(t, w, h, 1)
		if b := h.received()[0]; b["text"] != "🔴 `dec` is unreachable" || b["content"] != "" {
			t.Fatalf("slack post %v", b)
		}
	})
	t.Run("a failing then hanging service is retried until it answers", func(t *testing.T) {
		release := make(chan struct{})
		defer close(release)
		h := newRecordingHook(t, func(w http.ResponseWriter, n int) bool {
			switch n {
			case 1:
				w.WriteHeader(http.StatusInternalServerError)
				return true
			case 2:
				<-release // hang past the second attempt's timeout, 6 × 200ms
				return true
			}
			return false
		})
		var logs syncWriter
		w := webhookChannel(WebhookConfig{URL: h.URL + "/api/webhooks/1/t0ken", Username: "nov"}, ChannelConfig{Timeout: 200 * time.Millisecond, BackoffBase: 50 * time.Millisecond, MinGap: 10 * time.Millisecond, Log: zerolog.New(&logs).Level(zerolog.DebugLevel)})
		w.Enqueue(msg(domain.MessageDown, "once"))
		deliverAll(t, w, h, 3)
		// The hook has the third post before the channel has its answer
		// and logs the delivery.
		for deadline := time.Now().Add(5 * time.Second); !strings.Contains(logs.String(), `"message delivered"`) && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond)
		}
		out := logs.String()
		if !strings.Contains(out, "500 Internal Server Error") || !strings.Contains(out, "timed out after 1.2s") || !strings.Contains(out, `"message delivered"`) {
			t.Fatalf("logs do not tell the story:\n%s", out)
		}
		if strings.Contains(out, "t0ken") || strings.Contains(out, "/api/webhooks") {
			t.Fatalf("the webhook URL's token was logged:\n%s", out)
		}
		if !strings.Contains(out, `"host":"`+strings.TrimPrefix(h.URL, "http://")+`"`) {
			t.Fatalf("logs do not name the webhook's host:\n%s", out)
		}
	})
	t.Run("a 429 with Retry-After waits that long", func(t *testing.T) {
		h := newRecordingHook(t, func(w http.ResponseWriter, n int) bool {
			if n == 1 {
				w.Header().Set("Retry-After", "1")
				w.WriteHeader(http.StatusTooManyRequests)
				return true
			}
			return false
		})
		w := webhookChannel(WebhookConfig{URL: h.URL, Username: "nov"}, ChannelConfig{BackoffBase: time.Millisecond, Log: zerolog.Nop()})
		start := time.Now()
		w.Enqueue(msg(domain.MessageDown, "limited"))
		deliverAll(t, w, h, 2)
		if waited := time.Since(start); waited < time.Second {
			t.Fatalf("retried after %v, before the 1s Retry-After", waited)
		}
	})
}
