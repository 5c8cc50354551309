package httpapi

import (
	"compress/gzip"
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/subtle"
	"errors"
	"hash"
	"io"
	"iter"
	"maps"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/dupunkto/mesh/actors/domain"
	"github.com/dupunkto/mesh/actors/wire"
)

// MaxRelayBody bounds a relay's body; larger ones are refused with 413.
const MaxRelayBody = 1 << 20

// Relay admission. A body up to 1 MiB takes a few times that to decode, so
// reading bodies without a bound let 2000 parallel posts with the right
// secret take a node from 14 MB to 1.4 GB and /ping to seconds. At most
// maxRelaysRead bodies are read and decoded at once: on two cores more
// would only share the CPU, and four cost at most ~16 MB. A post that waits
// longer than relayAdmitWait for its turn, or for the state owner to take
// the relay, gets 503: a relay is sent every round, so the next one makes
// up for it.
const (
	maxRelaysRead  = 4
	relayAdmitWait = 2 * time.Second
)

// relayHandler serves POST /relay. The checks run cheapest and least
// revealing first: is relaying on, is the caller authorised (a bare secret
// before a byte of the body is read; a MAC as the body is read, checked
// before it is decoded), does its signature match its body, is the body
// small, well-formed and valid, is the sender one of this node's peers,
// signed with the key pinned for it, is it dated ahead, stale, or (last,
// so that a refused relay moves nothing) taken before. A refused request
// stores nothing.
type relayHandler struct {
	secret  []byte // empty: relaying is off on this node
	macKey  []byte // wire.MACKey of secret
	fresh   time.Duration
	replays *replayGuard
	peers   map[string]bool
	state   SnapshotSource // the relays held, to refuse older ones
	store   RelaySink
	counter RelayCounter
	reading chan struct{} // a semaphore of maxRelaysRead slots
	log     zerolog.Logger

	// warned are the refusals already warned about, each once: a sender
	// outside PEERS (a node added to the cluster before this node's PEERS
	// lists it, whose every relay is refused), a peer's name with a key
	// not pinned for it. At most maxWarned, so that made-up names cannot
	// grow it.
	warnedMu sync.Mutex
	warned   map[string]bool
}

// maxWarned bounds the refusals warned about by name.
const maxWarned = 100

func newRelayHandler(secret string, fresh time.Duration, peers map[string]bool, state SnapshotSource, store RelaySink, counter RelayCounter, log zerolog.Logger) *relayHandler {
	if counter == nil {
		counter = uncounted{}
	}
	if fresh <= 0 {
		fresh = defaultRelayFresh
	}
	return &relayHandler{secret: []byte(secret), macKey: wire.MACKey(secret), fresh: fresh, replays: newReplayGuard(), peers: peers, state: state, store: store, counter: counter,
		reading: make(chan struct{}, maxRelaysRead), log: log, warned: map[string]bool{}}
}

// firstWarning reports whether a refusal, named by what, is to be warned
// about: the first time, and while fewer than maxWarned were.
func (h *relayHandler) firstWarning(what string) bool {
	h.warnedMu.Lock()
	defer h.warnedMu.Unlock()
	if h.warned[what] || len(h.warned) >= maxWarned {
		return false
	}
	h.warned[what] = true
	return true
}

// warnStranger says once, at warn, that a node outside PEERS relays here:
// it holds the secret, so it is most likely a node just added to the
// cluster, and until every node lists it, its relays count for nothing.
func (h *relayHandler) warnStranger(node string) {
	if h.firstWarning("stranger " + node) {
		h.log.Warn().Str("peer", node).Msg("a node that is not in PEERS relays to this one, and is refused (403): add it to PEERS here, as on every node, or remove it from the cluster")
	}
}

// warnKey says once for each key, at warn, that a relay in a peer's name
// came signed with another key than the one pinned for it, or not signed
// at all: the peer was rebuilt and made a new key, or someone holding
// RELAY_SECRET is posing as it. Only the operator can tell which.
func (h *relayHandler) warnKey(node, key, pinned string) {
	if !h.firstWarning("key " + node + " " + key) {
		return
	}
	ev := h.log.Warn().Str("peer", node).Str("key", key).Str("pinned", pinned)
	if key == "" {
		ev.Msg("a relay in this peer's name came unsigned, and its key is pinned: refused (403). A node of the peer's name without its key file, or someone holding RELAY_SECRET posing as it")
		return
	}
	ev.Msg("a relay in this peer's name is signed with another key than the one pinned for it: refused (403). If the peer was rebuilt, give this node its new key, PEER_KEYS=peer=key, and restart it; if not, someone holding RELAY_SECRET is posing as it")
}

// uncounted counts nothing, for a router built without a RelayCounter.
type uncounted struct{}

func (uncounted) RelayReceived(string) {}

func (uncounted) RelayBytes(string, int) {}

func (h *relayHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// When it came, not when its turn to be read came: the sender's clock
	// offset is measured from it, and a wait here is no delay of the sender's.
	arrived := time.Now()
	w.Header().Set(wire.AcceptRelayHeader, wire.AcceptGzip+", "+wire.AcceptDelta+", "+wire.AcceptMAC)
	refuse := func(status int, result, msg string) {
		h.counter.RelayReceived(result)
		writeError(w, status, msg)
	}
	if len(h.secret) == 0 {
		refuse(http.StatusForbidden, domain.RelayDisabled, "relaying is disabled on this node")
		return
	}
	// A Mesh node's relay carries a MAC of its body, checked once the body
	// is read; a seed node's carries the secret itself, checked now.
	auth := r.Header.Get("Authorization")
	mac, macd := wire.MACOf(auth)
	if !macd && !h.authorised(auth) {
		refuse(http.StatusUnauthorized, domain.RelayUnauthorized, "missing or wrong relay secret")
		return
	}
	if r.ContentLength > MaxRelayBody {
		refuse(http.StatusRequestEntityTooLarge, domain.RelayTooLarge, "relay body is over 1 MiB")
		return
	}
	admitted := time.NewTimer(relayAdmitWait)
	defer admitted.Stop()
	select {
	case h.reading <- struct{}{}:
		defer func() { <-h.reading }()
	case <-admitted.C:
		// The body is left unread, so the connection is closed rather than
		// kept for another request: that frees it at once.
		w.Header().Set("Connection", "close")
		refuse(http.StatusServiceUnavailable, domain.RelayBusy, "too many relays at once; the next round will do")
		return
	case <-r.Context().Done():
		return
	}
	var sum, digest hash.Hash
	if macd {
		sum = wire.NewMAC(h.macKey)
	}
	key, signature := r.Header.Get(wire.KeyHeader), r.Header.Get(wire.SignatureHeader)
	var pub ed25519.PublicKey
	if key != "" || signature != "" {
		var err error
		if pub, err = domain.DecodeKey(key); err != nil {
			refuse(http.StatusBadRequest, domain.RelayBadSignature, wire.KeyHeader+" is "+err.Error())
			return
		}
		key = domain.EncodeKey(pub) // as pinned: one spelling of each key
		digest = wire.NewSignatureHash()
	}
	body, err := h.readBody(w, r, sum, digest)
	if err != nil {
		var tooBig *http.MaxBytesError
		switch {
		case errors.As(err, &tooBig) || errors.Is(err, errInflatedTooFar):
			refuse(http.StatusRequestEntityTooLarge, domain.RelayTooLarge, "relay body is over 1 MiB")
		case errors.Is(err, errUnknownEncoding):
			refuse(http.StatusUnsupportedMediaType, domain.RelayInvalid, "relay bodies are plain JSON or gzip")
		default:
			refuse(http.StatusBadRequest, domain.RelayInvalid, "could not read the body")
		}
		return
	}
	if macd && !hmac.Equal(sum.Sum(nil), mac) {
		refuse(http.StatusUnauthorized, domain.RelayBadSignature, "the relay's MAC does not match its body: another RELAY_SECRET, or a body changed on the way")
		return
	}
	if pub != nil && !wire.VerifyRelay(pub, digest.Sum(nil), signature) {
		refuse(http.StatusUnauthorized, domain.RelayBadSignature, "the relay's signature does not match its body and "+wire.KeyHeader)
		return
	}
	relay, err := wire.DecodeRelay(body)
	if err != nil {
		refuse(http.StatusBadRequest, domain.RelayInvalid, err.Error())
		return
	}
	node, peers, targets := relay.Node, relay.Peers, relay.Targets
	if !h.peers[node] {
		h.warnStranger(node)
		refuse(http.StatusForbidden, domain.RelayUnknownSender, "node "+quoteName(node)+" is not one of this node's peers")
		return
	}
	if macd && relay.SentAt.IsZero() {
		refuse(http.StatusBadRequest, domain.RelayInvalid, "a relay with a MAC says when it was sent (sent_at)")
		return
	}
	snap := h.state.Snapshot()
	if pinned, ok := snap.PinnedKey(node); ok && pinned != key {
		h.warnKey(node, key, pinned)
		refuse(http.StatusForbidden, domain.RelayUnknownKey, "relays in the name of "+quoteName(node)+" are signed with the key this node pinned for it; this one is not")
		return
	}
	held, holds := snap.Relay(node)
	if ahead := aheadBy(held, holds, h.fresh, relay.SentAt, newest(peers, targets), time.Now()); ahead > maxAhead {
		refuse(http.StatusConflict, domain.RelayAhead, "dated "+ahead.Round(time.Millisecond).String()+" ahead of this node's clock, the sender's offset allowed for")
		return
	}
	switch {
	case relay.Delta && !holds:
		refuse(http.StatusConflict, domain.RelayNeedsWhole, "a delta relay, and no whole one held from "+quoteName(node)+": send a whole one")
		return
	case relay.Delta:
		// Each changed view must be no older than the one held; the rest
		// stay as held. A delayed or replayed delta changes nothing.
		if olderThan(peers, held.Peer) || olderThan(targets, held.Target) {
			refuse(http.StatusConflict, domain.RelayStale, "older, by its own times, than the view held from "+quoteName(node))
			return
		}
		peers, targets = laidOver(held.Peers(), peers), laidOver(held.Targets(), targets)
	case holds && !held.Supersedes(newest(peers, targets), time.Now()):
		refuse(http.StatusConflict, domain.RelayStale, "older, by its own times, than the view held from "+quoteName(node))
		return
	}
	// Last of the checks: a relay refused for anything else must not move
	// the replay guard's floor (one dated ahead would lock the real ones
	// out as too old).
	if macd && !h.replays.admit(node, relay.SentAt, mac) {
		refuse(http.StatusConflict, domain.RelayReplayed, "this relay was taken before, or is older than those taken since")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), relayAdmitWait)
	defer cancel()
	if err := h.store.StoreRelay(ctx, node, domain.NewRelayCopy(arrived, peers).WithTargets(targets).Saying(relay.Said, relay.SentAt).Isolating(relay.Isolated).SignedWith(key)); err != nil {
		refuse(http.StatusServiceUnavailable, domain.RelayBusy, "the node is busy or stopping; the next round will do")
		return
	}
	h.counter.RelayReceived(domain.RelayAccepted)
	h.log.Trace().Str("peer", node).Int("peers", len(peers)).Msg("relay received")
	writeJSON(w, http.StatusOK, []byte(`{"ok":true}`))
}

// defaultRelayFresh is RelayFresh when a router is built without it:
// three rounds at the default POLL_INTERVAL.
const defaultRelayFresh = 15 * time.Second

// maxAhead is how far a relay's times may run ahead of this node's clock,
// once the sender's clock offset is allowed for. An honest relay is never
// ahead (its views are from before it was sent, and it was sent before it
// came); the bound covers the offset's jitter and a clock stepped a little.
// A relay dated further ahead would make the sender's real relays look
// stale (older by their own times than the copy held) and lock them out.
const maxAhead = 2 * time.Second

// aheadBy is how far a relay sent at sentAt (zero: it did not say), whose
// newest view is dated newest, runs ahead of now. While the copy held from
// its sender is fresh (taken within fresh) and the sender's clock offset
// was measured, both times are read on this node's clock; else (its first
// relay, or none taken lately) its views are read against its own stamp,
// and a seed node's, which says no time, are let be.
//
// Only a fresh copy's offset counts because the offset can be wrong high:
// it is the least delay of the relays taken, and if every one of those was
// slow (the first after a start, stamped before its sender was held up and
// posted after), the sender's next relays would all look ahead. Refused,
// they would never correct it; once the copy is no longer fresh, the next
// relay is taken on its own stamp and the offset comes down to its delay
// (SteadiedBy keeps the least).
func aheadBy(held *domain.RelayCopy, holds bool, fresh time.Duration, sentAt, newest, now time.Time) time.Duration {
	if holds && now.Sub(held.ReceivedAt()) <= fresh {
		if offset, ok := held.MeasuredOffset(); ok {
			return later(sentAt, newest).Add(offset).Sub(now)
		}
	}
	if sentAt.IsZero() {
		return 0
	}
	return newest.Sub(sentAt)
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// newest is domain.Newest of a relay's peers and targets together.
func newest(peers, targets map[string]domain.PeerView) time.Time {
	n := domain.Newest(peers)
	if t := domain.Newest(targets); t.After(n) {
		n = t
	}
	return n
}

// olderThan reports whether any view of a delta is older than the one held
// of the same name.
func olderThan(views map[string]domain.PeerView, held func(string) (domain.PeerView, bool)) bool {
	for name, v := range views {
		if was, ok := held(name); ok && v.Since.Before(was.Since) {
			return true
		}
	}
	return false
}

// laidOver returns the views held with a delta's views laid over them.
func laidOver(held iter.Seq2[string, domain.PeerView], delta map[string]domain.PeerView) map[string]domain.PeerView {
	merged := maps.Collect(held)
	maps.Copy(merged, delta)
	return merged
}

var (
	errInflatedTooFar  = errors.New("relay body inflates past the limit")
	errUnknownEncoding = errors.New("unknown content encoding")
)

// readBody reads a relay's body, at most MaxRelayBody on the wire and, if
// gzipped, at most MaxRelayBody once inflated too: a small bomb must not
// become a large body. It counts the bytes that came on the wire, and
// writes them through the hashes that are not nil (the MAC, the
// signature's digest): both are of the body as sent.
func (h *relayHandler) readBody(w http.ResponseWriter, r *http.Request, hashes ...hash.Hash) ([]byte, error) {
	onWire := &countingReader{r: http.MaxBytesReader(w, r.Body, MaxRelayBody)}
	defer func() { h.counter.RelayBytes("received", onWire.n) }()
	var in io.Reader = onWire
	for _, sum := range hashes {
		if sum != nil {
			in = io.TeeReader(in, sum)
		}
	}
	switch strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))) {
	case "", "identity":
		return io.ReadAll(in)
	case "gzip":
		zr, err := gzip.NewReader(in)
		if err != nil {
			return nil, err
		}
		body, err := io.ReadAll(io.LimitReader(zr, MaxRelayBody+1))
		if err != nil {
			return nil, err
		}
		if len(body) > MaxRelayBody {
			return nil, errInflatedTooFar
		}
		if _, err := io.Copy(io.Discard, in); err != nil { // what follows the gzip stream counts in the MAC too
			return nil, err
		}
		return body, nil
	default:
		return nil, errUnknownEncoding
	}
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// authorised compares the header with the secret in constant time. Both the
// bare secret (the seed's form) and "Bearer <secret>" are accepted.
func (h *relayHandler) authorised(header string) bool { return holdsSecret(header, h.secret) }

// holdsSecret reports whether an Authorization header holds secret, bare
// or as a bearer token, compared in constant time; never for an empty
// secret.
func holdsSecret(header string, secret []byte) bool {
	if header == "" || len(secret) == 0 {
		return false
	}
	bare := subtle.ConstantTimeCompare([]byte(header), secret)
	token, _ := strings.CutPrefix(header, "Bearer ")
	bearer := subtle.ConstantTimeCompare([]byte(token), secret)
	return bare|bearer == 1
}

// quoteName quotes a sender's name for an error message, cut short as the
// decoder's errors cut names.
func quoteName(s string) string {
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	return strconv.Quote(s)
}
