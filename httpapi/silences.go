package httpapi

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/dupunkto/mesh/actors/domain"
	"github.com/dupunkto/mesh/actors/wire"
)

// SilenceKeeper takes the silences made and ended through the API; the
// state owner is one.
type SilenceKeeper interface {
	AddSilence(ctx context.Context, s domain.Silence) (domain.Silence, error)
	ExpireSilence(ctx context.Context, id string, at time.Time) (domain.Silence, error)
}

// silenceRefusals are the keeper's errors that are the request's fault,
// and the status each is answered with; any other is the node's (503).
var silenceRefusals = map[error]int{
	domain.ErrTooManySilences: http.StatusTooManyRequests,
	domain.ErrSilenceExists:   http.StatusConflict,
	domain.ErrNoSuchSilence:   http.StatusNotFound,
	domain.ErrSilenceEnded:    http.StatusConflict,
	domain.ErrBadSilence:      http.StatusBadRequest,
}

// maxSilenceBody bounds a silence request: a matcher, a comment and a name.
const maxSilenceBody = 4 << 10

// silenceRequest is POST /silences' body.
type silenceRequest struct {
	Matcher string `json:"matcher"`
	For     string `json:"for"` // a duration: 2h, 90m
	By      string `json:"by"`
	Comment string `json:"comment"`
	// All: the matcher may match every subject of this node (a glob such
	// as "*"); without it, such a silence is refused as a likely mistake.
	All bool `json:"all"`
}

// silencesHandler serves /silences: GET lists, POST makes one, POST
// /silences/{id}/expire ends one. Every call needs the cluster's secret
// (RELAY_SECRET), bare or as a bearer token: a silence mutes the chat.
type silencesHandler struct {
	node   string
	secret []byte
	state  SnapshotSource
	keeper SilenceKeeper
}

func (h *silencesHandler) routes(r chi.Router) {
	r.Get("/silences", h.guard(h.list))
	r.Post("/silences", h.guard(h.add))
	r.Post("/silences/{id}/expire", h.guard(h.expire))
}

// guard answers 403 when silences are off (no RELAY_SECRET) and 401
// without the secret, before anything is read.
func (h *silencesHandler) guard(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		switch {
		case len(h.secret) == 0 || h.keeper == nil:
			writeError(w, http.StatusForbidden, "silences need RELAY_SECRET on this node")
		case !holdsSecret(r.Header.Get("Authorization"), h.secret):
			writeError(w, http.StatusUnauthorized, "missing or wrong secret: the cluster's RELAY_SECRET in Authorization")
		default:
			next(w, r)
		}
	}
}

func (h *silencesHandler) list(w http.ResponseWriter, _ *http.Request) {
	silences := h.state.Snapshot().Silences()
	docs := make([]wire.SilenceDoc, len(silences))
	for i, s := range silences {
		docs[i] = wire.SilenceDocOf(s)
	}
	b, _ := json.Marshal(struct {
		Silences []wire.SilenceDoc `json:"silences"`
	}{docs})
	writeJSON(w, http.StatusOK, b)
}

func (h *silencesHandler) add(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxSilenceBody))
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("a silence request is at most %d bytes", maxSilenceBody))
		return
	}
	var req silenceRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "body: must be {\"matcher\", \"for\", \"by\", \"comment\", \"all\"}")
		return
	}
	d, err := time.ParseDuration(req.For)
	if err != nil || d <= 0 {
		writeError(w, http.StatusBadRequest, "for: must be a duration such as 2h or 90m")
		return
	}
	now := time.Now()
	s := domain.Silence{ID: newSilenceID(), Matcher: req.Matcher, Start: now, End: now.Add(d), By: req.By, Comment: req.Comment, Node: h.node, Updated: now}
	if err := s.Check(); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if n, all := h.matches(s); n == 0 {
		writeError(w, http.StatusBadRequest, "matcher: matches no peer or target of this node")
		return
	} else if all && n > 1 && !req.All {
		writeError(w, http.StatusBadRequest, "matcher: matches every peer and target; say \"all\": true (--all) if that is meant")
		return
	}
	made, err := h.keeper.AddSilence(r.Context(), s)
	if err != nil {
		h.refuse(w, err)
		return
	}
	b, _ := json.Marshal(wire.SilenceDocOf(made))
	writeJSON(w, http.StatusCreated, b)
}

func (h *silencesHandler) expire(w http.ResponseWriter, r *http.Request) {
	s, err := h.keeper.ExpireSilence(r.Context(), chi.URLParam(r, "id"), time.Now())
	if err != nil {
		h.refuse(w, err)
		return
	}
	b, _ := json.Marshal(wire.SilenceDocOf(s))
	writeJSON(w, http.StatusOK, b)
}

// matches counts the subjects of this node the silence matches, and says
// whether it matches them all.
func (h *silencesHandler) matches(s domain.Silence) (n int, all bool) {
	total := 0
	for e := range h.state.Snapshot().Subjects() {
		total++
		if s.Matches(e.Name()) {
			n++
		}
	}
	return n, n == total
}

// refuse answers a keeper's error: the request's fault with its own
// status, else the node is busy or stopping.
func (h *silencesHandler) refuse(w http.ResponseWriter, err error) {
	for e, status := range silenceRefusals {
		if errors.Is(err, e) {
			writeError(w, status, err.Error())
			return
		}
	}
	writeError(w, http.StatusServiceUnavailable, "the node is busy or stopping; try again")
}

// newSilenceID is a silence's id: 8 random bytes in hex, unique across
// the cluster for any number of silences a cluster makes.
func newSilenceID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b) // crypto/rand does not fail
	return hex.EncodeToString(b)
}
