package e2e

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"net/textproto"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// inbox records what one service received: each message's text, and its
// title where the service has one.
type inbox struct {
	mu     sync.Mutex
	texts  []string
	titles []string
}

func (b *inbox) add(text, title string) {
	b.mu.Lock()
	b.texts = append(b.texts, text)
	b.titles = append(b.titles, title)
	b.mu.Unlock()
}

func (b *inbox) got() (texts, titles []string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.texts...), append([]string(nil), b.titles...)
}

// smtpServer is a loopback mail server (github.com/emersion/go-smtp) that
// takes every mail into an inbox.
type smtpServer struct {
	inbox
	addr string
}

func newSMTPServer(t *testing.T) *smtpServer {
	s := &smtpServer{}
	srv := smtp.NewServer(smtpBackend{s})
	srv.Domain = "localhost"
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = l.Addr().String()
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return s
}

type smtpBackend struct{ s *smtpServer }

func (b smtpBackend) NewSession(*smtp.Conn) (smtp.Session, error) { return &smtpSession{s: b.s}, nil }

type smtpSession struct {
	s        *smtpServer
	from, to string
}

func (m *smtpSession) Mail(from string, _ *smtp.MailOptions) error { m.from = from; return nil }
func (m *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error   { m.to = to; return nil }
func (m *smtpSession) Reset()                                      {}
func (m *smtpSession) Logout() error                               { return nil }
func (m *smtpSession) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	msg, err := readMail(string(data))
	if err != nil {
		return err
	}
	if m.from != "mesh@example.com" || m.to != "ops@example.com" {
		return fmt.Errorf("mail from %q to %q", m.from, m.to)
	}
	m.s.add(msg.text, msg.subject)
	return nil
}

// ntfyServer is an ntfy-style push server: a message is the body of a POST
// to its topic, the title a header.
func ntfyServer(t *testing.T, topic string) (*httptest.Server, *inbox) {
	b := &inbox{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.Method != http.MethodPost || r.URL.Path != "/"+topic {
			http.Error(w, `{"code":40401,"error":"no such topic"}`, http.StatusNotFound)
			return
		}
		b.add(string(body), r.Header.Get("Title"))
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"id":"m%d","event":"message","topic":%q}`, time.Now().UnixNano(), topic)
	}))
	t.Cleanup(srv.Close)
	return srv, b
}

// genericServer is a JSON webhook, as Shoutrrr's generic service posts to.
func genericServer(t *testing.T) (*httptest.Server, *inbox) {
	b := &inbox{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body map[string]string
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil || r.URL.Path != "/mesh" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		b.add(body["message"], body["title"])
	}))
	t.Cleanup(srv.Close)
	return srv, b
}

// Three nodes with a Discord-style webhook and three NOTIFY_URLS (e-mail,
// ntfy and a generic JSON webhook): a killed peer's down message and its
// recovery reach every channel, the same texts in the same order.
func TestEveryChannelGetsTheSameMessagesInOrder(t *testing.T) {
	shareMachine(t, loadOf(3, 100*time.Millisecond))
	hook := newChat(t)
	mail := newSMTPServer(t)
	ntfy, ntfyInbox := ntfyServer(t, "mesh-alerts")
	generic, genericInbox := genericServer(t)
	notify := strings.Join([]string{
		"smtp://" + mail.addr + "/?from=mesh@example.com&to=ops@example.com&auth=None&encryption=None&usestarttls=No",
		"ntfy://" + strings.TrimPrefix(ntfy.URL, "http://") + "/mesh-alerts?scheme=http",
		"generic://" + strings.TrimPrefix(generic.URL, "http://") + "/mesh?template=json&disabletls=yes",
	}, "\n")
	nodes := byName(cluster(t, 3, "RELAY_SECRET=notify", "WEBHOOK_URL="+hook.URL+"/hook", "NOTIFY_URLS="+notify, "FAILURE_THRESHOLD=5"))
	p := nodes[2]
	p.kill()
	eventually(t, 20*time.Second, "a down message", func() bool { return len(hook.about(p.name)) > 0 })
	p.restart()
	eventually(t, 20*time.Second, "a recovery", func() bool { return len(hook.about(p.name)) > 1 })
	settledAbout(hook, p.name, 0, 2*time.Second) // a duplicate would have come by now

	var want []string
	for _, m := range hook.all() {
		want = append(want, m.Content)
	}
	if len(want) != 2 || !strings.HasPrefix(want[0], "🔴 `"+p.name+"` is unreachable from 2 of 3 nodes") || !strings.HasPrefix(want[1], "🟢") {
		t.Fatalf("the webhook got %q, want a down message and a recovery", want)
	}
	titles := []string{"Mesh: " + p.name + " is down", "Mesh: " + p.name + " is up again"}
	for name, b := range map[string]*inbox{"smtp": &mail.inbox, "ntfy": ntfyInbox, "generic": genericInbox} {
		eventually(t, 20*time.Second, name+" to get both", func() bool { texts, _ := b.got(); return len(texts) >= 2 })
		time.Sleep(time.Second) // a third would be a repeat
		texts, gotTitles := b.got()
		if fmt.Sprint(texts) != fmt.Sprint(want) {
			t.Errorf("%s got %q, want %q", name, texts, want)
		}
		if name != "generic" && fmt.Sprint(gotTitles) != fmt.Sprint(titles) {
			t.Errorf("%s titled them %q, want %q", name, gotTitles, titles)
		}
	}
}

type mailMessage struct{ subject, text string }

// readMail reads a mail's subject and its plain text, from a single part
// or the text/plain part of a multipart one, in whatever transfer encoding
// it came.
func readMail(raw string) (mailMessage, error) {
	msg, err := mail.ReadMessage(strings.NewReader(raw))
	if err != nil {
		return mailMessage{}, err
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		return mailMessage{}, err
	}
	text, err := plainPart(textproto.MIMEHeader(msg.Header), msg.Body)
	return mailMessage{subject: subject, text: strings.TrimSpace(text)}, err
}

func plainPart(h textproto.MIMEHeader, body io.Reader) (string, error) {
	mediaType, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil {
		mediaType = "text/plain"
	}
	if strings.HasPrefix(mediaType, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			part, err := mr.NextRawPart()
			if err != nil {
				return "", fmt.Errorf("no text/plain part: %v", err)
			}
			if t, _, _ := mime.ParseMediaType(part.Header.Get("Content-Type")); t == "text/plain" {
				return plainPart(part.Header, part)
			}
		}
	}
	switch strings.ToLower(h.Get("Content-Transfer-Encoding")) {
	case "quoted-printable":
		body = quotedprintable.NewReader(body)
	case "base64":
		body = base64.NewDecoder(base64.StdEncoding, body)
	}
	data, err := io.ReadAll(body)
	return string(data), err
}
