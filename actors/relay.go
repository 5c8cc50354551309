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
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// RelayTarget is a peer a relay is posted to.
type RelayTarget struct {
	Name string // the peer's name, as in the snapshot
	URL  string // its base URL; the relay goes to URL+"/relay"
}

// RelaySenderConfig is what the relay sender is built from.
type RelaySenderConfig struct {
	Node      string
	Secret    string
	Targets   []RelayTarget
	Timeout   time.Duration // per post
	State     interface{ Snapshot() *Snapshot }
	Client    *http.Client // nil: NewRelayClient(Timeout)
	UserAgent string
	Metrics   *Metrics // nil counts nothing
	Log       zerolog.Logger
}

// RelaySender posts this node's view to its peers each time the state owner
// says a round of probes is complete. Wake-ups coalesce: if rounds complete
// while a send is under way, one more send follows it, with the newest view.
type RelaySender struct {
	cfg  RelaySenderConfig
	wake chan struct{}
}

// NewRelaySender returns a relay sender; wire its RoundComplete to the owner.
func NewRelaySender(cfg RelaySenderConfig) *RelaySender {
	if cfg.Client == nil {
		cfg.Client = NewRelayClient(cfg.Timeout)
	}
	return &RelaySender{cfg: cfg, wake: make(chan struct{}, 1)}
}

// NewRelayClient returns the client relay posts use. Unlike probes, relays
// may reuse connections: they measure nothing, and a round posts to every
// peer.
func NewRelayClient(timeout time.Duration) *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			Proxy:                  nil,
			DialContext:            (&net.Dialer{Timeout: timeout}).DialContext,
			TLSHandshakeTimeout:    timeout,
			ResponseHeaderTimeout:  timeout,
			MaxIdleConnsPerHost:    1,
			IdleConnTimeout:        90 * time.Second,
			MaxResponseHeaderBytes: 64 << 10,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       timeout,
	}
}

func (s *RelaySender) String() string { return "relay-sender" }

// RoundComplete asks for a relay. It never blocks: a request made while one
// is pending is the same request.
func (s *RelaySender) RoundComplete() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Serve sends a relay each time it is woken, until ctx ends.
func (s *RelaySender) Serve(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.wake:
			s.send(ctx)
		}
	}
}

// relayPayload is what a relay carries, as the seed shows it.
type relayPayload struct {
	Node  string              `json:"node"`
	Peers map[string]PeerView `json:"peers"`
}

// send posts the latest view to every peer that is not down, concurrently,
// and returns when every post has ended.
func (s *RelaySender) send(ctx context.Context) {
	snap := s.cfg.State.Snapshot()
	body, err := json.Marshal(relayPayload{Node: s.cfg.Node, Peers: snap.PeerViews()})
	if err != nil {
		s.cfg.Log.Error().Err(err).Msg("encode relay") // cannot happen: plain values
		return
	}
	var wg sync.WaitGroup
	for _, t := range s.cfg.Targets {
		if v, ok := snap.Peer(t.Name); ok && v.Status == StatusDown {
			continue // it would not answer; the next round will try again
		}
		wg.Go(func() {
			if err := s.post(ctx, t, body); err != nil {
				// A lost relay costs nothing: the next round carries newer state.
				s.cfg.Log.Debug().Str("peer", t.Name).Err(err).Msg("relay not delivered")
				result := RelayFailed
				if refused := (*relayRefused)(nil); errors.As(err, &refused) {
					result = RelayRejected
				}
				s.cfg.Metrics.RelaySent(result)
				return
			}
			s.cfg.Metrics.RelaySent(RelayDelivered)
			s.cfg.Log.Trace().Str("peer", t.Name).Msg("relay delivered")
		})
	}
	wg.Wait()
}

func (s *RelaySender) post(ctx context.Context, t RelayTarget, body []byte) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.URL+"/relay", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", s.cfg.Secret)
	req.Header.Set("User-Agent", s.cfg.UserAgent)
	resp, err := s.cfg.Client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode/100 == 4 {
		return &relayRefused{status: resp.Status, msg: strings.TrimSpace(string(msg))}
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("answered %s: %s", resp.Status, strings.TrimSpace(string(msg)))
	}
	return nil
}

// relayRefused is a peer's 4xx answer: it heard the relay and said no (a
// wrong secret, relaying off, this node not among its peers), which retrying
// will not change, unlike a network failure or a 5xx.
type relayRefused struct{ status, msg string }

func (e *relayRefused) Error() string { return "answered " + e.status + ": " + e.msg }
