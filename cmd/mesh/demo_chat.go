package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"
)

// chatKept is how many messages the demo's chat keeps for the page.
const chatKept = 20

// chatMessage is one message the demo's chat received.
type chatMessage struct {
	At   time.Time `json:"at"`
	From string    `json:"from"`
	Text string    `json:"text"`
}

// demoChat is the demo's chat channel: the nodes' WEBHOOK_URL points at
// it, it prints each message in the terminal as it comes, and it serves
// the latest ones (GET /messages) to the page, so that a newcomer sees
// what Mesh would say at 3 a.m. It is a suture service of the demo, and
// `mesh chat` runs it alone (chat.go).
type demoChat struct {
	ln  net.Listener
	out io.Writer

	mu     sync.Mutex
	latest []chatMessage // oldest first, at most chatKept
}

// newDemoChat listens on addr for the nodes' webhook posts.
func newDemoChat(addr string, out io.Writer) (*demoChat, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	return &demoChat{ln: ln, out: out}, nil
}

// port is the port it listens on.
func (c *demoChat) port() int { return c.ln.Addr().(*net.TCPAddr).Port }

// hookURL is what the nodes' WEBHOOK_URL is set to.
func (c *demoChat) hookURL() string { return "http://" + c.ln.Addr().String() + "/hook" }

// messagesURL is where the page reads the latest messages.
func (c *demoChat) messagesURL() string { return "http://" + c.ln.Addr().String() + "/messages" }

func (c *demoChat) String() string { return "demo-chat" }

// Serve answers until ctx ends. Suture may call it again after a failure,
// on the same listener.
func (c *demoChat) Serve(ctx context.Context) error {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /hook", c.receive)
	mux.HandleFunc("GET /messages", c.messages)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	if err := srv.Serve(c.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return ctx.Err()
}

// receive takes a webhook post in Discord's shape, as the nodes send it.
func (c *demoChat) receive(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Username string `json:"username"`
		Content  string `json:"content"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&body); err != nil {
		http.Error(w, "a JSON body with username and content, please", http.StatusBadRequest)
		return
	}
	m := chatMessage{At: time.Now(), From: body.Username, Text: body.Content}
	c.mu.Lock()
	c.latest = append(c.latest, m)
	if len(c.latest) > chatKept {
		c.latest = slices.Delete(c.latest, 0, len(c.latest)-chatKept)
	}
	// Printed under the lock, so that two messages never interleave.
	fmt.Fprintf(c.out, "%s  chat  %s: %s\n", m.At.Format(time.TimeOnly), m.From, m.Text)
	c.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// messages serves the latest messages, newest first, to any page: they
// are the demo's own, and the page is served from the nodes' ports.
func (c *demoChat) messages(w http.ResponseWriter, _ *http.Request) {
	c.mu.Lock()
	list := slices.Clone(c.latest)
	c.mu.Unlock()
	slices.Reverse(list)
	w.Header().Set("Access-Control-Allow-Origin", "*")
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(list)
}
