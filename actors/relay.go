package actors

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/dupunkto/mesh/actors/domain"
	"github.com/dupunkto/mesh/actors/wire"
	"github.com/dupunkto/mesh/config"
)

// RelaySenderConfig is what the relay sender is built from.
type RelaySenderConfig struct {
	Secret  string
	Peers   []config.Peer // each gets the relay at URL+"/relay"
	Timeout time.Duration // per post
	// Rounds wakes the sender when a round of probes is complete.
	Rounds *Signal
	State  interface{ Snapshot() *domain.Snapshot }
	// Announcements gives the outages this node announced, to pass on in
	// each relay (the cluster notifier); nil announces nothing.
	Announcements interface {
		Announced() map[string]domain.Announcement
	}
	Client    *http.Client // nil: newHTTPClient(forRelays, Timeout)
	UserAgent string
	Metrics   *Metrics // nil counts nothing
	Log       zerolog.Logger
}

// RelaySender posts this node's view to its peers each time the state owner
// says a round of probes is complete. Wake-ups coalesce: if rounds complete
// while a send is under way, one more send follows it, with the newest view.
type RelaySender struct {
	cfg RelaySenderConfig

	// trouble is owned by Serve: the peers whose relays keep failing.
	trouble map[string]*relayTrouble
	// gzip says, by peer (in cfg.Peers' order), whether its last answer
	// said it takes gzipped relays (wire.AcceptRelayHeader). Each entry is
	// written by that peer's post alone, and read after every post of the
	// round has ended.
	gzip []bool
}

// relayTrouble is one peer's run of failed relays.
type relayTrouble struct {
	rounds     int       // failed in a row
	warnedAt   time.Time // zero until warned
	lastReason string
}

// Warnings about a peer whose relays keep failing: after warnAfterRounds
// failed rounds in a row (one lost relay is nothing, the next round makes
// up for it), then again every warnEvery while it lasts, so that a wrong
// secret on one node shows above debug without flooding the log.
const (
	warnAfterRounds = 3
	warnEvery       = 10 * time.Minute
)

// NewRelaySender returns a relay sender woken by cfg.Rounds.
func NewRelaySender(cfg RelaySenderConfig) *RelaySender {
	if cfg.Client == nil {
		cfg.Client = newHTTPClient(forRelays, cfg.Timeout)
	}
	return &RelaySender{cfg: cfg, trouble: map[string]*relayTrouble{}, gzip: make([]bool, len(cfg.Peers))}
}

func (s *RelaySender) String() string { return "relay-sender" }

// Serve sends a relay each time it is woken, until ctx ends.
func (s *RelaySender) Serve(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.cfg.Rounds.C():
			s.send(ctx)
		}
	}
}

// send posts the latest view to every peer that is not down, concurrently,
// and returns when every post has ended.
func (s *RelaySender) send(ctx context.Context) {
	snap := s.cfg.State.Snapshot()
	var announced map[string]domain.Announcement
	if s.cfg.Announcements != nil {
		announced = s.cfg.Announcements.Announced()
	}
	body := wire.EncodeRelay(snap, announced)
	var gzipped []byte
	if slices.Contains(s.gzip, true) {
		gzipped = gzipBytes(body)
	}
	errs := make([]error, len(s.cfg.Peers))
	sent := make([]bool, len(s.cfg.Peers))
	var wg sync.WaitGroup
	for i, t := range s.cfg.Peers {
		if v, ok := snap.Peer(t.Name); ok && v.Status == domain.StatusDown {
			continue // it would not answer; the next round will try again
		}
		sent[i] = true
		wg.Go(func() {
			payload := outgoingRelay{body: body}
			if s.gzip[i] {
				payload = outgoingRelay{body: gzipped, encoding: "gzip"}
			}
			takesGzip, err := s.post(ctx, t, payload)
			s.gzip[i] = takesGzip
			if err != nil {
				// A lost relay costs nothing: the next round carries newer state.
				s.cfg.Log.Debug().Str("peer", t.Name).Err(err).Msg("relay not delivered")
				result := domain.RelayFailed
				if refused := (*relayRefused)(nil); errors.As(err, &refused) {
					result = domain.RelayRejected
				}
				s.cfg.Metrics.RelaySent(result)
				errs[i] = err
				return
			}
			s.cfg.Metrics.RelaySent(domain.RelayDelivered)
			s.cfg.Log.Trace().Str("peer", t.Name).Msg("relay delivered")
		})
	}
	wg.Wait()
	if ctx.Err() != nil {
		return // shutting down: what was cut short says nothing of the peers
	}
	for i, t := range s.cfg.Peers {
		if sent[i] {
			s.tally(t.Name, errs[i], time.Now())
		}
	}
}

// tally notes how one peer's relay went, and says so when its relays have
// kept failing, and when they work again after that.
func (s *RelaySender) tally(peer string, err error, now time.Time) {
	tr := s.trouble[peer]
	if err == nil {
		if tr != nil && !tr.warnedAt.IsZero() {
			s.cfg.Log.Info().Str("peer", peer).Int("failures", tr.rounds).Msg("relays delivered again")
		}
		delete(s.trouble, peer)
		return
	}
	if tr == nil {
		tr = &relayTrouble{}
		s.trouble[peer] = tr
	}
	tr.rounds++
	tr.lastReason = err.Error()
	if tr.rounds < warnAfterRounds || (!tr.warnedAt.IsZero() && now.Sub(tr.warnedAt) < warnEvery) {
		return
	}
	tr.warnedAt = now
	ev := s.cfg.Log.Warn().Str("peer", peer).Int("failures", tr.rounds).Str("error", tr.lastReason)
	var refused *relayRefused
	if errors.As(err, &refused) && refused.code == http.StatusUnauthorized {
		ev.Msg("relays keep being refused: the peer's RELAY_SECRET differs from this node's")
		return
	}
	ev.Msg("relays to the peer keep failing")
}

// outgoingRelay is a relay body as it is posted: plain JSON, or gzipped.
type outgoingRelay struct {
	body     []byte
	encoding string // "" or "gzip"
}

// post sends one relay and reports whether the peer's answer says it takes
// gzipped ones; a peer that says nothing (the seed's, or one that could not
// be reached) gets plain JSON next time.
func (s *RelaySender) post(ctx context.Context, t config.Peer, p outgoingRelay) (takesGzip bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.URL+"/relay", bytes.NewReader(p.body))
	if err != nil {
		return false, err
	}
	req.Header.Set("Content-Type", "application/json")
	if p.encoding != "" {
		req.Header.Set("Content-Encoding", p.encoding)
	}
	req.Header.Set("Authorization", s.cfg.Secret)
	req.Header.Set("User-Agent", s.cfg.UserAgent)
	resp, err := s.cfg.Client.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	s.cfg.Metrics.RelayBytes("sent", len(p.body))
	takesGzip = slices.Contains(strings.Split(resp.Header.Get(wire.AcceptRelayHeader), ","), "gzip")
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode/100 == 4 {
		return takesGzip, &relayRefused{code: resp.StatusCode, status: resp.Status, msg: strings.TrimSpace(string(msg))}
	}
	if resp.StatusCode/100 != 2 {
		return takesGzip, fmt.Errorf("answered %s: %s", resp.Status, strings.TrimSpace(string(msg)))
	}
	return takesGzip, nil
}

// gzipBytes compresses a relay body. Relays are sent once a round to every
// peer, and a view repeats the same keys: gzip takes them to a fraction.
func gzipBytes(b []byte) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed) // a valid level: no error
	_, _ = zw.Write(b)                                 // a bytes.Buffer does not fail
	_ = zw.Close()
	return buf.Bytes()
}

// relayRefused is a peer's 4xx answer: it heard the relay and said no (a
// wrong secret, relaying off, this node not among its peers), which retrying
// will not change, unlike a network failure or a 5xx.
type relayRefused struct {
	code        int
	status, msg string
}

func (e *relayRefused) Error() string { return "answered " + e.status + ": " + e.msg }
