package httpapi

import (
	"context"
	"crypto/subtle"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/dupunkto/mesh/actors"
)

// RelayStore keeps accepted relays; the state owner is one.
type RelayStore interface {
	StoreRelay(ctx context.Context, node string, peers map[string]actors.PeerView, at time.Time) error
}

// relayHandler serves POST /relay. The checks run cheapest and least
// revealing first: is relaying on, is the caller authorised (before a byte
// of the body is read), is the body small, well-formed and valid, and is
// the sender one of this node's peers. A refused request stores nothing.
type relayHandler struct {
	secret  []byte // empty: relaying is off on this node
	peers   map[string]bool
	store   RelayStore
	metrics *actors.Metrics
	log     zerolog.Logger
}

func (h *relayHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	refuse := func(status int, result, msg string) {
		h.metrics.RelayReceived(result)
		writeError(w, status, msg)
	}
	if len(h.secret) == 0 {
		refuse(http.StatusForbidden, actors.RelayDisabled, "relaying is disabled on this node")
		return
	}
	if !h.authorised(r.Header.Get("Authorization")) {
		refuse(http.StatusUnauthorized, actors.RelayUnauthorized, "missing or wrong relay secret")
		return
	}
	if r.ContentLength > MaxRelayBody {
		refuse(http.StatusRequestEntityTooLarge, actors.RelayTooLarge, "relay body is over 1 MiB")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxRelayBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			refuse(http.StatusRequestEntityTooLarge, actors.RelayTooLarge, "relay body is over 1 MiB")
			return
		}
		refuse(http.StatusBadRequest, actors.RelayInvalid, "could not read the body")
		return
	}
	node, peers, err := DecodeRelay(body)
	if err != nil {
		refuse(http.StatusBadRequest, actors.RelayInvalid, err.Error())
		return
	}
	if !h.peers[node] {
		refuse(http.StatusForbidden, actors.RelayUnknownSender, "node "+quoteShort(node)+" is not one of this node's peers")
		return
	}
	if err := h.store.StoreRelay(r.Context(), node, peers, time.Now()); err != nil {
		writeError(w, http.StatusServiceUnavailable, "node is shutting down")
		return
	}
	h.metrics.RelayReceived(actors.RelayAccepted)
	h.log.Trace().Str("peer", node).Int("peers", len(peers)).Msg("relay received")
	writeJSON(w, http.StatusOK, []byte(`{"ok":true}`))
}

// authorised compares the header with the secret in constant time. Both the
// bare secret (the seed's form) and "Bearer <secret>" are accepted.
func (h *relayHandler) authorised(header string) bool {
	if header == "" {
		return false
	}
	bare := subtle.ConstantTimeCompare([]byte(header), h.secret)
	token, _ := strings.CutPrefix(header, "Bearer ")
	bearer := subtle.ConstantTimeCompare([]byte(token), h.secret)
	return bare|bearer == 1
}
