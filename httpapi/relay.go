package httpapi

import (
	"crypto/subtle"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/dupunkto/mesh/actors/domain"
	"github.com/dupunkto/mesh/actors/wire"
)

// MaxRelayBody bounds a relay's body; larger ones are refused with 413.
const MaxRelayBody = 1 << 20

// relayHandler serves POST /relay. The checks run cheapest and least
// revealing first: is relaying on, is the caller authorised (before a byte
// of the body is read), is the body small, well-formed and valid, and is
// the sender one of this node's peers. A refused request stores nothing.
type relayHandler struct {
	secret  []byte // empty: relaying is off on this node
	peers   map[string]bool
	store   RelaySink
	counter RelayCounter
	log     zerolog.Logger
}

// uncounted counts nothing, for a router built without a RelayCounter.
type uncounted struct{}

func (uncounted) RelayReceived(string) {}

func (h *relayHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	refuse := func(status int, result, msg string) {
		h.counter.RelayReceived(result)
		writeError(w, status, msg)
	}
	if len(h.secret) == 0 {
		refuse(http.StatusForbidden, domain.RelayDisabled, "relaying is disabled on this node")
		return
	}
	if !h.authorised(r.Header.Get("Authorization")) {
		refuse(http.StatusUnauthorized, domain.RelayUnauthorized, "missing or wrong relay secret")
		return
	}
	if r.ContentLength > MaxRelayBody {
		refuse(http.StatusRequestEntityTooLarge, domain.RelayTooLarge, "relay body is over 1 MiB")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxRelayBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			refuse(http.StatusRequestEntityTooLarge, domain.RelayTooLarge, "relay body is over 1 MiB")
			return
		}
		refuse(http.StatusBadRequest, domain.RelayInvalid, "could not read the body")
		return
	}
	node, peers, err := wire.DecodeRelay(body)
	if err != nil {
		refuse(http.StatusBadRequest, domain.RelayInvalid, err.Error())
		return
	}
	if !h.peers[node] {
		refuse(http.StatusForbidden, domain.RelayUnknownSender, "node "+quoteName(node)+" is not one of this node's peers")
		return
	}
	if err := h.store.StoreRelay(r.Context(), node, peers, time.Now()); err != nil {
		writeError(w, http.StatusServiceUnavailable, "node is shutting down")
		return
	}
	h.counter.RelayReceived(domain.RelayAccepted)
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

// quoteName quotes a sender's name for an error message, cut short as the
// decoder's errors cut names.
func quoteName(s string) string {
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	return strconv.Quote(s)
}
