package httpapi

import (
	"context"
	"errors"
	"fmt"
	stdlog "log"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/dupunkto/mesh/actors/fatal"
)

// Server limits. A node is on the open internet: every connection gets a
// deadline, so that slow or idle clients cannot hold it open.
const (
	ReadHeaderTimeout = 5 * time.Second
	ReadTimeout       = 10 * time.Second
	WriteTimeout      = 10 * time.Second
	IdleTimeout       = 60 * time.Second
	MaxHeaderBytes    = 64 << 10
	shutdownTimeout   = 3 * time.Second
)

// ExitListen is the exit code when the HTTP listener cannot bind.
const ExitListen = 1

// Server runs the node's HTTP server until its context ends, then shuts it
// down gracefully.
type Server struct {
	name         string
	writeTimeout time.Duration
	addr         string
	handler      http.Handler
	log          zerolog.Logger
	bound        atomic.Pointer[string]
	ready        chan struct{} // closed once the server first listens
	once         sync.Once
}

// NewServer returns a server for handler on addr (host:port; port 0 picks one).
func NewServer(addr string, handler http.Handler, log zerolog.Logger) *Server {
	return &Server{name: "http-server", writeTimeout: WriteTimeout, addr: addr, handler: handler, log: log, ready: make(chan struct{})}
}

// Ready is closed once the server listens, so that a caller can announce
// the address only when it answers.
func (s *Server) Ready() <-chan struct{} { return s.ready }

func (s *Server) String() string { return s.name }

// Addr returns the address the server listens on, once it does; "" before.
func (s *Server) Addr() string {
	if a := s.bound.Load(); a != nil {
		return *a
	}
	return ""
}

// Serve listens and serves until ctx ends. A listener that cannot bind stops
// the node: without its HTTP server, a node is invisible to its peers.
func (s *Server) Serve(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		return fatal.New(fmt.Errorf("listen on %s: %w", s.addr, err), ExitListen)
	}
	addr := ln.Addr().String()
	s.bound.Store(&addr)
	s.once.Do(func() { close(s.ready) })
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: ReadHeaderTimeout,
		ReadTimeout:       ReadTimeout,
		WriteTimeout:      s.writeTimeout,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    MaxHeaderBytes,
		ErrorLog:          stdlog.New(debugWriter{s.log}, "", 0),
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	s.log.Debug().Str("addr", addr).Msg("http server listening")

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		_ = srv.Close()
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return ctx.Err()
}

// debugWriter sends net/http's own complaints (TLS handshakes, bad requests)
// to the JSON log at debug: they are about clients, not about this node.
type debugWriter struct{ log zerolog.Logger }

func (w debugWriter) Write(p []byte) (int, error) {
	w.log.Debug().Msg(strings.TrimSpace(string(p)))
	return len(p), nil
}
