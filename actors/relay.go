package actors

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"net/http"
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
	// Announcer gives what this node announced and told of, to pass on
	// in each relay (the alert engine); nil announces nothing.
	Announcer Announcer
	// Windows are this node's maintenance windows (MAINTENANCE), told in
	// every relay.
	Windows []domain.Window
	// Key signs every relay (wire.SignRelay); nil signs none: a node
	// without a key file.
	Key       ed25519.PrivateKey
	Client    *http.Client // nil: newHTTPClient(forRelays, Timeout, Cut)
	Cut       Cut          // nil: the network as it is
	UserAgent string
	Metrics   *Metrics // nil counts nothing
	Log       zerolog.Logger
}

// Announcer gives what this node says in its relays beside its views (the
// alert engine): what it announced, what it saw end, the certificates told
// of.
type Announcer interface {
	Said() domain.Said
}

// RelaySender posts this node's view to its peers each time the state owner
// says a round of probes is complete. Wake-ups coalesce: if rounds complete
// while a send is under way, one more send follows it, with the newest view.
type RelaySender struct {
	cfg    RelaySenderConfig
	macKey []byte       // the relays' MAC key, derived from cfg.Secret (wire.MACKey)
	pubKey string       // cfg.Key's public half, as wire.KeyHeader gives it; "" without a key
	zw     *gzip.Writer // owned by Serve: the one writer relays are gzipped with

	// trouble is owned by Serve: the peers whose relays keep failing.
	trouble map[string]*relayTrouble
	// links are what the sender knows of each peer's relays, in cfg.Peers'
	// order. Each entry is written by that peer's post alone, and read
	// after every post of the round has ended.
	links []peerLink
	// leaving takes Leave's request to Serve, which sends the last relay
	// and sends no other after it.
	leaving chan chan struct{}
}

// peerLink is what the sender knows of one peer's relays: what its last
// answer said it takes (wire.AcceptRelayHeader), and the views it holds
// from this node, so that the next relay can carry only what changed.
type peerLink struct {
	gzip, delta bool
	// bearer: the peer's answer did not list wire.AcceptMAC (a seed node,
	// or a Mesh node from before MACs), so it gets the secret itself in
	// Authorization, as the seed sends it. Until a peer answers, it gets
	// the MAC: the secret goes only to a peer that said it needs it.
	bearer bool
	// held is the views of the last whole relay the peer took, and
	// changed the views the deltas it took since then carried; held is nil
	// when the next relay must be whole (none yet, or one failed). held is
	// shared with the other links and never written; changed is this
	// link's own.
	held    map[string]domain.PeerView
	changed map[string]domain.PeerView
	wholeAt time.Time
	// lastDelta is the last delta the peer took, plain, and rested says
	// that the round after it sent nothing (see quiet).
	lastDelta []byte
	rested    bool
}

// mesh reports whether the peer is a Mesh node: it said what it takes.
func (l *peerLink) mesh() bool { return l.gzip || l.delta || !l.bearer }

// quiet reports whether a delta need not be sent this round: it says
// nothing the last one the peer took did not, and that one was sent last
// round. A quiet link gets a relay every other round, which keeps the
// peer's copy fresh (ClusterRule.Fresh is three rounds) at half the posts:
// in a hundred-node cluster, 990 fewer a second.
func (l *peerLink) quiet(delta []byte) bool {
	if l.rested || !bytes.Equal(delta, l.lastDelta) {
		l.rested = false
		return false
	}
	l.rested = true
	return true
}

// relayWholeEvery is how often a peer that takes deltas gets a whole relay
// all the same: a delta carries a view only when its status, since or
// failure count changed, so the last_seen and round trip the peer shows
// of this node's views lag by up to this much.
const relayWholeEvery = time.Minute

// gzipAbove is the smallest body worth gzipping: a delta with nothing in it
// is a hundred bytes, which gzip makes no smaller.
const gzipAbove = 512

// sameOpinion reports whether two views of a peer say the same for the
// cluster's verdicts and the isolation guard: status, since and failures.
func sameOpinion(a, b domain.PeerView) bool {
	return a.Status == b.Status && a.Since.Equal(b.Since) && a.ConsecutiveFailures == b.ConsecutiveFailures
}

// changes returns the peers whose views differ from what the peer holds,
// or ok false when the next relay must be whole.
func (l *peerLink) changes(views map[string]domain.PeerView, now time.Time) (changed map[string]bool, ok bool) {
	if !l.delta || l.held == nil || now.Sub(l.wholeAt) >= relayWholeEvery {
		return nil, false
	}
	changed = map[string]bool{}
	for name, v := range views {
		was, ok := l.changed[name]
		if !ok {
			was, ok = l.held[name]
		}
		if !ok || !sameOpinion(was, v) {
			changed[name] = true
		}
	}
	return changed, true
}

// took notes what the peer now holds after it took a relay: all of views
// (whole), or views' changed ones laid over what it held (a delta).
func (l *peerLink) took(views map[string]domain.PeerView, changed map[string]bool, now time.Time) {
	if changed == nil {
		l.held, l.changed, l.wholeAt, l.lastDelta = views, map[string]domain.PeerView{}, now, nil
		return
	}
	for name := range changed {
		l.changed[name] = views[name]
	}
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
		cfg.Client = newHTTPClient(forRelays, cfg.Timeout, cfg.Cut)
	}
	var pub string
	if cfg.Key != nil {
		pub = domain.EncodeKey(cfg.Key.Public().(ed25519.PublicKey))
	}
	return &RelaySender{cfg: cfg, macKey: wire.MACKey(cfg.Secret), pubKey: pub, trouble: map[string]*relayTrouble{}, links: make([]peerLink, len(cfg.Peers)), leaving: make(chan chan struct{})}
}

func (s *RelaySender) String() string { return "relay-sender" }

// Serve sends a relay each time it is woken, until ctx ends; after Leave,
// none.
func (s *RelaySender) Serve(ctx context.Context) error {
	rounds := s.cfg.Rounds.C()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-rounds:
			s.send(ctx, false)
		case done := <-s.leaving:
			s.send(ctx, true)
			close(done)
			rounds = nil // a relay after the last would say it is back
		}
	}
}

// Leave tells every peer, in a last relay, that this node is stopping on
// purpose (main calls it on SIGTERM, before the node stops serving), so
// that they show it stopped rather than down. It returns when every post
// of that relay has ended, or when ctx ends first.
func (s *RelaySender) Leave(ctx context.Context) {
	done := make(chan struct{})
	select {
	case s.leaving <- done:
	case <-ctx.Done():
		return
	}
	select {
	case <-done:
		s.cfg.Log.Info().Msg("told the peers this node is stopping on purpose")
	case <-ctx.Done():
	}
}

// send posts the latest view to every peer that is not down, concurrently,
// and returns when every post has ended. The last relay (leaving) goes to
// every peer, whole.
func (s *RelaySender) send(ctx context.Context, leaving bool) {
	snap := s.cfg.State.Snapshot()
	var said domain.Said
	if s.cfg.Announcer != nil {
		said = s.cfg.Announcer.Said()
	}
	said.Leaving = leaving
	said.Silences = snap.Silences() // every node passes them all on: one taken anywhere reaches every node
	said.Windows = s.cfg.Windows
	said.Left = snap.Away()
	now := time.Now()
	// Peers and targets alike: a delta carries the changed views of
	// either. Their names never meet: config takes a peer's as host[:port],
	// a target's as a URL.
	views := make(map[string]domain.PeerView, snap.Len()+snap.TargetCount())
	for e := range snap.Subjects() {
		views[e.Name()] = e.View()
	}
	// The whole relay, made once for all the peers that get it, and only if
	// one does: for a seed node the seed's body; for a Mesh node (it said
	// what it takes) stamped with when it is sent, which lets it read this
	// node's times against its own clock, and gzipped if it takes that.
	var whole, stamped, gzipped outgoingRelay
	wholeFor := func(l *peerLink) outgoingRelay {
		if whole.body == nil {
			whole = s.outgoing(wire.EncodeRelay(snap, said), "")
		}
		if !l.mesh() {
			return whole
		}
		if stamped.body == nil {
			stamped = s.outgoing(wire.Stamped(whole.body, now), "")
		}
		if !l.gzip || len(stamped.body) <= gzipAbove {
			return stamped
		}
		if gzipped.body == nil {
			gzipped = s.outgoing(s.gzip(stamped.body), "gzip")
		}
		return gzipped
	}
	errs := make([]error, len(s.cfg.Peers))
	sent := make([]bool, len(s.cfg.Peers))
	var wg sync.WaitGroup
	for i, t := range s.cfg.Peers {
		if v, ok := snap.Peer(t.Name); ok && v.Status == domain.StatusDown && !leaving {
			continue // it would not answer; the next round will try again
		}
		link := &s.links[i]
		changed, isDelta := link.changes(views, now)
		isDelta = isDelta && !leaving
		var payload outgoingRelay
		var delta []byte
		if isDelta {
			delta = wire.EncodeRelayDelta(snap, said, changed)
			if link.quiet(delta) {
				continue
			}
			body, encoding := wire.Stamped(delta, now), ""
			if link.gzip && len(body) > gzipAbove {
				body, encoding = s.gzip(body), "gzip"
			}
			payload = s.outgoing(body, encoding)
		} else {
			payload = wholeFor(link)
		}
		sent[i] = true
		wg.Go(func() {
			caps, answered, err := s.post(ctx, t, payload, s.authorization(link, payload.body))
			if answered {
				// Only an answer says what the peer takes. One that did
				// not answer (frozen, cut off, restarting) is what it was:
				// were a Mesh peer taken for a seed node meanwhile, the
				// relays it got next, the leave among them, would carry
				// no sent_at, and it would date one it took late by when
				// it took it.
				link.gzip, link.delta = wire.Accepts(caps, wire.AcceptGzip), wire.Accepts(caps, wire.AcceptDelta)
				link.bearer = !wire.Accepts(caps, wire.AcceptMAC)
			}
			if err != nil {
				link.held = nil // whatever it holds, the next relay is whole
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
			link.took(views, changed, now)
			if delta != nil {
				link.lastDelta = delta
			}
			s.cfg.Metrics.RelaySent(domain.RelayDelivered)
			s.cfg.Log.Trace().Str("peer", t.Name).Msg("relay delivered")
		})
	}
	wg.Wait()
	if ctx.Err() != nil {
		return // shutting down: what was cut short says nothing of the peers
	}
	latest := s.cfg.State.Snapshot() // with the probes made while the relays were out
	for i, t := range s.cfg.Peers {
		if sent[i] {
			v, _ := latest.Peer(t.Name)
			s.tally(t.Name, errs[i], v.ConsecutiveFailures > 0, time.Now())
		}
	}
}

// tally notes how one peer's relay went, and says so when its relays have
// kept failing, and when they work again after that. A relay that got no
// answer from a peer whose probes fail too (probesFail) is not warned
// about: the peer itself is unreachable, which its "peer is down" line
// says once the probes have failed FAILURE_THRESHOLD times; a warning about
// its relays a round or two before would be the same news, twice.
func (s *RelaySender) tally(peer string, err error, probesFail bool, now time.Time) {
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
	var refused *relayRefused
	answered := errors.As(err, &refused)
	if tr.rounds < warnAfterRounds || (!tr.warnedAt.IsZero() && now.Sub(tr.warnedAt) < warnEvery) || (!answered && probesFail) {
		return
	}
	tr.warnedAt = now
	ev := s.cfg.Log.Warn().Str("peer", peer).Int("failures", tr.rounds).Str("error", tr.lastReason)
	if answered && refused.code == http.StatusUnauthorized {
		ev.Msg("relays keep being refused: the peer's RELAY_SECRET differs from this node's")
		return
	}
	if answered && refused.code == http.StatusForbidden && strings.Contains(refused.msg, "pinned") {
		ev.Str("key", s.pubKey).Msg("relays keep being refused: the peer pinned another key for this node's name (this node rebuilt, or its key file lost); give the peer this node's key, PEER_KEYS=name=key")
		return
	}
	ev.Msg("relays to the peer keep failing")
}

// outgoingRelay is a relay body as it is posted: plain JSON, or gzipped,
// and its signature.
type outgoingRelay struct {
	body      []byte
	encoding  string // "" or "gzip"
	signature string // wire.SignRelay of body; "" from a node without a key
}

// outgoing returns body ready to post, signed once for every peer it goes
// to.
func (s *RelaySender) outgoing(body []byte, encoding string) outgoingRelay {
	o := outgoingRelay{body: body, encoding: encoding}
	if s.cfg.Key != nil {
		o.signature = wire.SignRelay(s.cfg.Key, body)
	}
	return o
}

// authorization is what a relay's body, as sent, carries to the peer of
// link: its MAC, or the secret for a peer that takes nothing else.
func (s *RelaySender) authorization(link *peerLink, body []byte) string {
	if link.bearer {
		return s.cfg.Secret
	}
	return wire.RelayMAC(s.macKey, body)
}

// post sends one relay and returns what the peer's answer says it takes
// (wire.AcceptRelayHeader), and whether the peer itself answered (a 2xx or
// 4xx, or anything with the header); a peer that answers and says nothing
// (the seed's) gets whole plain JSON next time.
func (s *RelaySender) post(ctx context.Context, t config.Peer, p outgoingRelay, authorization string) (caps string, answered bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.URL+"/relay", bytes.NewReader(p.body))
	if err != nil {
		return "", false, err
	}
	req.Header.Set("Content-Type", "application/json")
	if p.encoding != "" {
		req.Header.Set("Content-Encoding", p.encoding)
	}
	req.Header.Set("Authorization", authorization)
	if p.signature != "" {
		req.Header.Set(wire.KeyHeader, s.pubKey)
		req.Header.Set(wire.SignatureHeader, p.signature)
	}
	req.Header.Set("User-Agent", s.cfg.UserAgent)
	resp, err := s.cfg.Client.Do(req)
	if err != nil {
		return "", false, err
	}
	defer resp.Body.Close()
	s.cfg.Metrics.RelayBytes("sent", len(p.body))
	caps = resp.Header.Get(wire.AcceptRelayHeader)
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode/100 == 4 {
		return caps, true, &relayRefused{code: resp.StatusCode, status: resp.Status, msg: strings.TrimSpace(string(msg))}
	}
	if resp.StatusCode/100 != 2 {
		// A 5xx without the header is most often not the peer's word but
		// a proxy's in front of it (502 while the node restarts): it says
		// nothing of what the peer takes.
		return caps, caps != "", fmt.Errorf("answered %s: %s", resp.Status, strings.TrimSpace(string(msg)))
	}
	return caps, true, nil
}

// gzip compresses a relay body. Relays are sent once a round to every
// peer, and a view repeats the same keys: gzip takes them to a fraction.
// One writer serves every body, kept between rounds: each holds about a
// megabyte of tables, and after an outage every peer's delta may be large
// enough to compress. Only send, in Serve's goroutine, calls it.
func (s *RelaySender) gzip(b []byte) []byte {
	var buf bytes.Buffer
	if s.zw == nil {
		s.zw, _ = gzip.NewWriterLevel(&buf, gzip.BestSpeed) // a valid level: no error
	} else {
		s.zw.Reset(&buf)
	}
	_, _ = s.zw.Write(b) // a bytes.Buffer does not fail
	_ = s.zw.Close()
	s.zw.Reset(nil) // holds no body between rounds
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
