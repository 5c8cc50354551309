package httpapi

import (
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
)

// ByteCounter counts the bytes of response bodies by route, as they went on
// the wire (gzipped, when they were); the node's metrics are one.
type ByteCounter interface {
	ResponseBytes(route string, n int)
}

// Routes are the route labels bytes are counted under: each endpoint's
// pattern, and "other" for requests no route took (404s), so that a client
// probing for paths cannot make a label per path.
func Routes() []string {
	return []string{"/", "/ping", "/state", "/history", "/metrics", "/relay", "/ui", "/ui/*", "other"}
}

// countBytes counts every response's body bytes under its route's pattern.
// A page that reads every node every few seconds is what this is for: its
// cost on a live cluster is the rate of these counters.
func countBytes(counter ByteCounter) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
			next.ServeHTTP(ww, r)
			route := "other"
			if rctx := chi.RouteContext(r.Context()); rctx != nil && rctx.RoutePattern() != "" {
				route = rctx.RoutePattern()
			}
			counter.ResponseBytes(route, ww.BytesWritten())
		})
	}
}
