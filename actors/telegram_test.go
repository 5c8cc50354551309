package actors

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dupunkto/mesh/actors/domain"
)

const telegramToken = "123456789:AAH-secret-bot-token"

// botAPI is a stand-in for Telegram's Bot API that answers every call
// with status and body, and records each call's path and payload.
type botAPI struct {
	*httptest.Server
	mu       sync.Mutex
	calls    []string
	payloads []map[string]any
}

func newBotAPI(t *testing.T, status int, contentType, body string) *botAPI {
	b := &botAPI{}
	b.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		var payload map[string]any
		_ = json.Unmarshal(raw, &payload)
		b.mu.Lock()
		b.calls = append(b.calls, r.URL.Path)
		b.payloads = append(b.payloads, payload)
		b.mu.Unlock()
		w.Header().Set("Content-Type", contentType)
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(b.Close)
	return b
}

func telegramPoster(t *testing.T, api, query string) *TelegramPoster {
	t.Helper()
	p, err := NewTelegramPoster("telegram://"+telegramToken+"@telegram?"+query, nil)
	if err != nil {
		t.Fatal(err)
	}
	p.api = api
	return p
}

var telegramDown = domain.Message{Kind: domain.MessageDown, Subject: domain.Peer("dec"), Text: "🔴 `dec` is unreachable <now>"}

// Each chat of the URL gets the message, as Shoutrrr would send it: its
// thread, and a title in bold with the text escaped for HTML.
func TestTelegramPostsToEveryChatOfTheURL(t *testing.T) {
	api := newBotAPI(t, 200, "application/json", `{"ok":true,"result":{}}`)
	p := telegramPoster(t, api.URL, "chats=@ops,-1001234:42&title=Mesh")
	if wait, retry, err := p.Post(t.Context(), telegramDown); err != nil || retry || wait != 0 {
		t.Fatalf("Post = %v, %v, %v; want delivered", wait, retry, err)
	}
	if len(api.calls) != 2 || api.calls[0] != "/bot"+telegramToken+"/sendMessage" {
		t.Fatalf("calls %v: want one sendMessage per chat", api.calls)
	}
	first, second := api.payloads[0], api.payloads[1]
	if first["chat_id"] != "@ops" || second["chat_id"] != "-1001234" || second["message_thread_id"] != float64(42) {
		t.Fatalf("payloads %v: want @ops, then -1001234 in thread 42", api.payloads)
	}
	if first["parse_mode"] != "HTML" || first["text"] != "<b>Mesh</b>\n🔴 `dec` is unreachable &lt;now&gt;" {
		t.Fatalf("payload %v: want the title in bold and the text escaped", first)
	}
}

// Every way a post can fail is a failure, retried unless Telegram said the
// message can never go, and none of them quotes the bot's token. Shoutrrr's
// own client took the first three for deliveries.
func TestEveryFailedTelegramPostIsAFailure(t *testing.T) {
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	stop := make(chan struct{})
	hanging := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-stop }))
	t.Cleanup(hanging.Close)
	t.Cleanup(func() { close(stop) }) // first: Close waits for the handler
	cases := []struct {
		name      string
		api       string
		retry     bool
		wait      time.Duration
		errSaying string
	}{
		{"a refused connection", closed.URL, true, 0, "refused"},
		{"no answer by the attempt's deadline", hanging.URL, true, 0, "deadline exceeded"},
		{"a proxy's HTML 502", newBotAPI(t, 502, "text/html", "<html>Bad Gateway</html>").URL, true, 0, "not Telegram's JSON"},
		{"a 200 that is not Telegram's JSON", newBotAPI(t, 200, "text/html", "<html>captive portal</html>").URL, true, 0, "not Telegram's JSON"},
		{"Telegram's own 500", newBotAPI(t, 500, "application/json", `{"ok":false,"description":"Internal Server Error"}`).URL, true, 0, "Internal Server Error"},
		{"flood control", newBotAPI(t, 429, "application/json", `{"ok":false,"description":"Too Many Requests: retry after 7","parameters":{"retry_after":7}}`).URL, true, 7 * time.Second, "429"},
		{"a chat that is not there", newBotAPI(t, 400, "application/json", `{"ok":false,"description":"Bad Request: chat not found"}`).URL, false, 0, "chat not found"},
		{"a revoked token", newBotAPI(t, 401, "application/json", `{"ok":false,"description":"Unauthorized"}`).URL, false, 0, "Unauthorized"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := telegramPoster(t, tc.api, "chats=@ops")
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			wait, retry, err := p.Post(ctx, telegramDown)
			if err == nil {
				t.Fatal("Post succeeded; want a failure")
			}
			if retry != tc.retry || wait != tc.wait || !strings.Contains(err.Error(), tc.errSaying) {
				t.Fatalf("Post = %v, %v, %q; want %v, %v and an error saying %q", wait, retry, err, tc.wait, tc.retry, tc.errSaying)
			}
			if strings.Contains(err.Error(), "AAH-secret") || strings.Contains(err.Error(), "123456789") {
				t.Fatalf("the error %q quotes the token", err)
			}
		})
	}
}
