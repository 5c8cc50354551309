package httpapi

import (
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/rs/zerolog"
)

// debugWriteTimeout lets a CPU profile (30 s by default) finish.
const debugWriteTimeout = 2 * time.Minute

// NewDebugServer returns the server of DEBUG_ADDR: Go's pprof profiles
// (net/http/pprof, mounted by chi's Profiler) at /debug/pprof/. It is a
// listener of its own, off by default and on loopback only (config checks),
// because profiles reveal the node's internals and cost CPU to take.
func NewDebugServer(addr string, log zerolog.Logger) *Server {
	r := chi.NewRouter()
	r.Use(recoverer(log))
	r.Mount("/debug", middleware.Profiler())
	s := NewServer(addr, r, log)
	s.name = "debug-server"
	s.writeTimeout = debugWriteTimeout
	return s
}
