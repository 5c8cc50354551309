package actors

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/dupunkto/mesh/actors/domain"
	"github.com/dupunkto/mesh/config"
)

// received is a loopback HTTP service that records each request's path
// and body, and answers with status (200 when zero) after hold.
type received struct {
	*httptest.Server
	mu     sync.Mutex
	posts  []receivedPost
	status int
	hold   chan struct{} // nil: answer at once
}

type receivedPost struct {
	path string // and query
	body string
	at   time.Time
}

func newReceived(t *testing.T, status int, hold chan struct{}) *received {
	r := &received{status: status, hold: hold}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.posts = append(r.posts, receivedPost{req.URL.RequestURI(), string(body), time.Now()})
		r.mu.Unlock()
		if r.hold != nil {
			select {
			case <-r.hold:
			case <-req.Context().Done():
			}
		}
		if r.status != 0 {
			w.WriteHeader(r.status)
		}
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *received) all() []receivedPost {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]receivedPost(nil), r.posts...)
}

func (r *received) host() string { return strings.TrimPrefix(r.URL, "http://") }

func shoutrrrChannel(t *testing.T, name, raw string, log zerolog.Logger) *Channel {
	return shoutrrrChannelTimingOut(t, name, raw, 500*time.Millisecond, log)
}

func shoutrrrChannelTimingOut(t *testing.T, name, raw string, timeout time.Duration, log zerolog.Logger) *Channel {
	t.Helper()
	u := config.NotifyURL{URL: raw, Service: strings.SplitN(raw, ":", 2)[0]}
	c := NewChannel(ChannelConfig{Name: name, Poster: NewShoutrrrPoster(u), Timeout: timeout, MinGap: time.Millisecond,
		BackoffBase: 20 * time.Millisecond, BackoffMax: 50 * time.Millisecond, GiveUpAfter: time.Minute, Log: log})
	go c.Serve(t.Context())
	return c
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A generic JSON webhook gets each message as Shoutrrr's JSON, in order.
func TestAShoutrrrChannelDeliversInOrderToARealService(t *testing.T) {
	srv := newReceived(t, 0, nil)
	c := shoutrrrChannel(t, "generic", "generic://"+srv.host()+"/in?template=json&disabletls=yes", zerolog.Nop())
	texts := []string{"🔴 `dec` is unreachable", "🟠 `dec` is still unreachable (down for 15m 0s)", "🟢 `dec` is reachable again (down for 20m 0s)"}
	for i, text := range texts {
		c.Enqueue(domain.Message{Kind: []domain.MessageKind{domain.MessageDown, domain.MessageReminder, domain.MessageRecovery}[i], Subject: domain.Peer("dec"), Text: text})
	}
	waitFor(t, "three posts", func() bool { return len(srv.all()) == 3 })
	for i, p := range srv.all() {
		var body map[string]string
		if err := json.Unmarshal([]byte(p.body), &body); err != nil || p.path != "/in" || body["message"] != texts[i] {
			t.Fatalf("post %d: %s %q (%v), want %q", i, p.path, p.body, err, texts[i])
		}
	}
}

// Each channel is its own actor: one whose service hangs or fails delays
// no other, which gets every message at once.
func TestAFailingChannelDelaysNoOther(t *testing.T) {
	hang := make(chan struct{})
	defer close(hang)
	hanging, failing, fine := newReceived(t, 0, hang), newReceived(t, 500, nil), newReceived(t, 0, nil)
	channels := Channels{
		shoutrrrChannelTimingOut(t, "generic", "generic://"+hanging.host()+"/a?disabletls=yes", time.Hour, zerolog.Nop()),
		shoutrrrChannel(t, "generic-2", "generic://"+failing.host()+"/b?disabletls=yes", zerolog.Nop()),
		shoutrrrChannel(t, "generic-3", "generic://"+fine.host()+"/c?disabletls=yes", zerolog.Nop()),
	}
	for i := range 5 {
		channels.Enqueue(domain.Message{Kind: domain.MessageDown, Subject: domain.Peer("dec"), Text: strings.Repeat("x", i+1)})
	}
	waitFor(t, "every message through the working channel", func() bool { return len(fine.all()) == 5 })
	// The service has the fifth message a moment before the channel hears
	// its answer and lets it go.
	waitFor(t, "the working channel done with the fifth", func() bool { return len(channels.Pending()["generic-3"]) == 0 })
	waitFor(t, "the failing channel tried", func() bool { return len(failing.all()) > 0 })
	// The hanging service still holds the first message (for an hour, the
	// channel's timeout): had it been in the way, nothing would have passed.
	if n := len(hanging.all()); n != 1 {
		t.Fatalf("the hanging service got %d posts, want the one it holds", n)
	}
	pending := channels.Pending()
	if len(pending["generic"]) != 5 || len(pending["generic-2"]) != 5 || len(pending["generic-3"]) != 0 {
		t.Fatalf("pending %v: want the hanging and failing channels to keep all five, the working one none", pending)
	}
}

// Shoutrrr's Send cannot be cancelled: when an attempt runs out of time,
// its send goes on. The next attempt at the same message waits for that
// send instead of posting again, so a service that is slow but works gets
// the message once.
func TestASlowShoutrrrServiceGetsTheMessageOnce(t *testing.T) {
	slow := make(chan struct{})
	srv := newReceived(t, 0, slow)
	var logs syncWriter
	c := shoutrrrChannelTimingOut(t, "generic", "generic://"+srv.host()+"/in?disabletls=yes", 200*time.Millisecond, zerolog.New(&logs).Level(zerolog.DebugLevel))
	c.Enqueue(domain.Message{Kind: domain.MessageDown, Subject: domain.Peer("dec"), Text: "down"})
	waitFor(t, "the first attempt to time out", func() bool { return strings.Contains(logs.String(), "timed out after 200ms") })
	close(slow) // the service answers the first post, during the second attempt
	waitFor(t, "the delivery", func() bool { return strings.Contains(logs.String(), `"message delivered"`) })
	if n := len(srv.all()); n != 1 {
		t.Fatalf("the service got %d posts, want 1:\n%s", n, logs.String())
	}
}

// Shoutrrr's errors quote the URL they were posting to, which for most
// services holds a token; the channel's logs hold the service's name.
func TestAShoutrrrChannelNeverLogsItsToken(t *testing.T) {
	srv := newReceived(t, 403, nil)
	var logs syncWriter
	c := shoutrrrChannel(t, "gotify", "gotify://"+srv.host()+"/AbCdEf012345678?disabletls=yes", zerolog.New(&logs).Level(zerolog.DebugLevel))
	c.Enqueue(domain.Message{Kind: domain.MessageDown, Subject: domain.Peer("dec"), Text: "down"})
	waitFor(t, "two attempts", func() bool { return len(srv.all()) >= 2 })
	waitFor(t, "the failure logged", func() bool { return strings.Contains(logs.String(), "delivery failed; will retry") })
	out := logs.String()
	if strings.Contains(out, "AbCdEf012345678") {
		t.Fatalf("the token was logged:\n%s", out)
	}
	if !strings.Contains(out, `"channel":"gotify"`) || !strings.Contains(out, `"host":"gotify"`) {
		t.Fatalf("the logs do not name the channel:\n%s", out)
	}
	if p := srv.all()[0]; !strings.Contains(p.path, "AbCdEf012345678") || !strings.Contains(p.body, "Mesh: dec is down") {
		t.Fatalf("gotify got %s %q: want the token in the path and the message's title", p.path, p.body)
	}
}
