package main

import (
	"io"
	"os"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/rs/zerolog"
	"github.com/thejerf/suture/v4"

	"github.com/dupunkto/mesh/config"
)

// stopTimeout is how long a supervisor waits for one service to stop. The
// HTTP server's own shutdown takes at most 3 s; the whole node must be gone
// within 5 s of SIGTERM.
const stopTimeout = 4 * time.Second

// TimeFormat is how a log line's "time" is written: RFC 3339 to the
// millisecond, so that two lines of one second can be put in order, within
// a node and across nodes.
const TimeFormat = "2006-01-02T15:04:05.000Z07:00"

func init() { zerolog.TimeFieldFormat = TimeFormat }

// newLogger returns the node's logger: JSON lines on out (or a console
// rendering for people at a terminal), each carrying the node's name.
func newLogger(out io.Writer, cfg config.Config) zerolog.Logger {
	if cfg.LogFormat == "console" {
		// Colour only on a terminal: escape codes in a file are noise.
		f, isFile := out.(*os.File)
		// The clock as the demo's chat prints it, 15:04:05, not 3:04PM.
		out = zerolog.ConsoleWriter{Out: out, NoColor: !isFile || !isatty.IsTerminal(f.Fd()), TimeFormat: time.TimeOnly}
	}
	return zerolog.New(out).Level(cfg.LogLevel).With().Timestamp().Str("node", cfg.Node).Logger()
}

// supervisorSpec makes every supervisor log suture's events through zerolog
// with the field names suture's own slog adapter uses.
func supervisorSpec(log zerolog.Logger) suture.Spec {
	return suture.Spec{
		EventHook: func(e suture.Event) { logEvent(log, e) },
		Timeout:   stopTimeout,
	}
}

func logEvent(log zerolog.Logger, e suture.Event) {
	switch e := e.(type) {
	case suture.EventServicePanic:
		log.Error().Str("supervisor", e.SupervisorName).Str("service_name", e.ServiceName).
			Float64("current_failures", e.CurrentFailures).Float64("failure_threshold", e.FailureThreshold).
			Bool("restarting", e.Restarting).Str("panic_msg", e.PanicMsg).Str("stacktrace", e.Stacktrace).
			Msg("service panicked")
	case suture.EventServiceTerminate:
		log.Info().Str("supervisor", e.SupervisorName).Str("service_name", e.ServiceName).
			Float64("current_failures", e.CurrentFailures).Float64("failure_threshold", e.FailureThreshold).
			Bool("restarting", e.Restarting).Interface("error", e.Err).
			Msg("service returned")
	case suture.EventStopTimeout:
		log.Error().Str("supervisor", e.SupervisorName).Str("service_name", e.ServiceName).
			Msg("service did not stop in time")
	case suture.EventBackoff:
		log.Debug().Str("supervisor", e.SupervisorName).Msg("supervisor backing off after repeated failures")
	case suture.EventResume:
		log.Debug().Str("supervisor", e.SupervisorName).Msg("supervisor resuming")
	}
}
