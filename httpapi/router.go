// Package httpapi is a node's HTTP interface: the chi router with the seed's
// endpoints and the server actor that runs it. Handlers read published
// snapshots and hand relays on through the small interfaces below; they
// never touch state themselves, and know nothing of the actors behind them.
package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/go-chi/cors"
	"github.com/rs/zerolog"

	"github.com/dupunkto/mesh/actors/domain"
	"github.com/dupunkto/mesh/config"
)

// SnapshotSource is where handlers read the node's view; the state owner
// is one.
type SnapshotSource interface {
	Snapshot() *domain.Snapshot
}

// RelaySink keeps accepted relays; the state owner is one.
type RelaySink interface {
	StoreRelay(ctx context.Context, node string, copy *domain.RelayCopy) error
}

// RelayCounter counts relays received by result (domain.RelayAccepted,
// ...); the node's metrics are one.
type RelayCounter interface {
	RelayReceived(result string)
	// RelayBytes counts the bytes of relay bodies as they came on the wire.
	RelayBytes(direction string, n int)
}

// Options is what the router is built from.
type Options struct {
	State         SnapshotSource
	AggregatorURL string
	// RelaySecret turns POST /relay on; empty answers every relay with 403.
	RelaySecret string
	// RelayFresh is how long a relayed view counts (the cluster rule's
	// Fresh): a sender's measured clock offset is trusted while the copy
	// held from it is that fresh (see aheadBy). Zero: defaultRelayFresh.
	RelayFresh time.Duration
	// Peers are this node's peers: the only senders a relay is taken from.
	Peers  []config.Peer
	Relays RelaySink
	// Node is this node's name: the one a silence made here is taken by.
	Node string
	// NodeKey is this node's public key (domain.EncodeKey), which /state
	// shows; "" for a node that signs nothing.
	NodeKey string
	// Silences takes the silences made and ended through /silences; nil
	// answers /silences with 403.
	Silences SilenceKeeper
	// RelayCounter counts relays received; nil counts nothing.
	RelayCounter RelayCounter
	// ByteCounter counts response bytes by route; nil counts nothing.
	ByteCounter ByteCounter
	// UI serves the aggregator page's files at /ui/; nil serves none.
	UI http.Handler
	// Metrics serves GET /metrics; nil serves no /metrics.
	Metrics http.Handler
	Log     zerolog.Logger
}

// NewRouter returns the node's HTTP handler.
func NewRouter(o Options) http.Handler {
	r := chi.NewRouter()
	r.Use(recoverer(o.Log), accessLog(o.Log))
	if o.ByteCounter != nil {
		r.Use(countBytes(o.ByteCounter))
	}
	r.NotFound(func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, http.StatusNotFound, "no such endpoint")
	})
	r.MethodNotAllowed(methodNotAllowed)

	toAggregator := func(w http.ResponseWriter, req *http.Request) {
		http.Redirect(w, req, o.AggregatorURL, http.StatusFound)
	}
	r.Get("/", toAggregator)
	r.Head("/", toAggregator)

	// Endpoints the aggregator page reads from another origin.
	public := cors.Handler(cors.Options{
		AllowedOrigins: []string{"*"},
		AllowedMethods: []string{http.MethodGet, http.MethodHead},
		MaxAge:         int((24 * time.Hour).Seconds()),
	})
	readable := func(pattern string, h http.HandlerFunc) {
		r.With(public).Get(pattern, h)
		r.With(public).Head(pattern, h)
		r.With(public).Options(pattern, func(http.ResponseWriter, *http.Request) {})
	}
	readable("/ping", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, []byte(`{"pong":true}`))
	})
	// /state and /history keep their own encodings, gzipped and not, for
	// every reader until they are stale (see docCache).
	// ?relays=none leaves the relayed views out: what the page reads from
	// every node each refresh, which would otherwise grow with the square
	// of the cluster. Without it, /state is the seed's, relays and all.
	full, own := newStateCache(o.State, o.NodeKey), newOwnStateCache(o.State, o.NodeKey)
	readable("/state", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("relays") == "none" {
			own.ServeHTTP(w, r)
			return
		}
		full.ServeHTTP(w, r)
	})
	readable("/history", newHistoryCache(o.State).ServeHTTP)

	if o.Metrics != nil {
		r.Method(http.MethodGet, "/metrics", o.Metrics)
		r.Method(http.MethodHead, "/metrics", o.Metrics)
	}

	if o.UI != nil {
		toPage := func(w http.ResponseWriter, req *http.Request) {
			http.Redirect(w, req, "/ui/", http.StatusMovedPermanently)
		}
		r.Get("/ui", toPage)
		r.Head("/ui", toPage)
		page := http.StripPrefix("/ui", o.UI) // "/ui/app.mjs" -> "/app.mjs"
		servePage := func(w http.ResponseWriter, req *http.Request) {
			// The page talks to the nodes and runs nothing inline; the
			// policy is also in its <meta>, for static hosts.
			h := w.Header()
			h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src *; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
			h.Set("X-Content-Type-Options", "nosniff")
			h.Set("Referrer-Policy", "no-referrer")
			page.ServeHTTP(&notFoundAsJSON{ResponseWriter: w}, req)
		}
		r.Get("/ui/*", servePage)
		r.Head("/ui/*", servePage)
	}

	// /relay is for peers, not for pages: it sends no CORS headers.
	peers := make(map[string]bool, len(o.Peers))
	for _, p := range o.Peers {
		peers[p.Name] = true
	}
	r.Method(http.MethodPost, "/relay", newRelayHandler(o.RelaySecret, o.RelayFresh, peers, o.State, o.Relays, o.RelayCounter, o.Log))
	// /silences is for operators (mesh silence), with the cluster's secret.
	(&silencesHandler{node: o.Node, secret: []byte(o.RelaySecret), state: o.State, keeper: o.Silences}).routes(r)
	return r
}

// notFoundAsJSON passes a file server's answer through, but its 404 goes
// out as the JSON error every other endpoint gives, not as plain text.
type notFoundAsJSON struct {
	http.ResponseWriter
	notFound bool
}

func (w *notFoundAsJSON) WriteHeader(code int) {
	if code != http.StatusNotFound {
		w.ResponseWriter.WriteHeader(code)
		return
	}
	w.notFound = true
	writeError(w.ResponseWriter, http.StatusNotFound, "no such file of the page")
}

func (w *notFoundAsJSON) Write(b []byte) (int, error) {
	if w.notFound {
		return len(b), nil // the file server's text, replaced
	}
	return w.ResponseWriter.Write(b)
}

// methodNotAllowed answers 405 with the Allow header, as chi's default does,
// but with a JSON body like every other error.
func methodNotAllowed(w http.ResponseWriter, r *http.Request) {
	rctx := chi.RouteContext(r.Context())
	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodOptions} {
		if rctx != nil && rctx.Routes != nil && rctx.Routes.Match(chi.NewRouteContext(), m, r.URL.Path) {
			w.Header().Add("Allow", m)
		}
	}
	writeError(w, http.StatusMethodNotAllowed, r.Method+" is not allowed here")
}

// accessLog logs each request at debug: handy when chasing a problem, silent
// otherwise.
func accessLog(log zerolog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if log.GetLevel() > zerolog.DebugLevel {
				next.ServeHTTP(w, r)
				return
			}
			start := time.Now()
			ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
			next.ServeHTTP(ww, r)
			log.Debug().Str("method", r.Method).Str("path", r.URL.Path).Int("status", ww.Status()).
				Str("remote", r.RemoteAddr).Float64("duration_ms", float64(time.Since(start).Microseconds())/1000).Msg("request")
		})
	}
}

// recoverer turns a handler panic into a JSON 500 and an error log line.
// chi's middleware.Recoverer does the same but prints to stderr in its own
// format; Mesh's logs are JSON on stdout.
func recoverer(log zerolog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			defer func() {
				v := recover()
				if v == nil {
					return
				}
				if v == http.ErrAbortHandler {
					panic(v) // the server's own signal to drop the connection
				}
				log.Error().Str("path", r.URL.Path).Interface("panic_msg", v).Msg("handler panicked")
				writeError(w, http.StatusInternalServerError, "internal error")
			}()
			next.ServeHTTP(w, r)
		})
	}
}
