package main

import (
	"bytes"
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rs/zerolog"
	"github.com/thejerf/suture/v4"

	"github.com/dupunkto/mesh/config"
)

// panicsOnce is a service that panics on its first run and then serves quietly.
type panicsOnce struct{ ran bool }

func (p *panicsOnce) Serve(ctx context.Context) error {
	if !p.ran {
		p.ran = true
		panic("first run fails")
	}
	<-ctx.Done()
	return ctx.Err()
}

func (p *panicsOnce) String() string { return "flaky" }

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) lines(t *testing.T) []map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(l.b.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line is not JSON: %q", line)
		}
		out = append(out, m)
	}
	return out
}

func TestSutureEventsAreLoggedAsJSONWithSutureFieldNames(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var out lockedBuffer
		log := newLogger(&out, config.Config{Node: "nov", LogLevel: zerolog.InfoLevel, LogFormat: "json"})
		sup := suture.New("mesh", supervisorSpec(log))
		sup.Add(&panicsOnce{})
		ctx, cancel := context.WithCancel(t.Context())
		done := sup.ServeBackground(ctx)
		time.Sleep(time.Second)
		cancel()
		<-done

		lines := out.lines(t)
		if len(lines) != 1 {
			t.Fatalf("want one line for the panic, got %v", lines)
		}
		l := lines[0]
		for k, want := range map[string]any{"level": "error", "node": "nov", "supervisor": "mesh", "service_name": "flaky", "panic_msg": "first run fails", "restarting": true} {
			if l[k] != want {
				t.Errorf("%s = %v, want %v (line %v)", k, l[k], want, l)
			}
		}
		for _, k := range []string{"current_failures", "failure_threshold", "stacktrace", "time"} {
			if _, ok := l[k]; !ok {
				t.Errorf("line lacks %s: %v", k, l)
			}
		}
	})
}

func TestLoggerHonoursLevelAndFormat(t *testing.T) {
	var js bytes.Buffer
	log := newLogger(&js, config.Config{Node: "nov", LogLevel: zerolog.WarnLevel, LogFormat: "json"})
	log.Info().Msg("hidden at warn")
	log.Warn().Str("peer", "dec").Msg("shown")
	if strings.Contains(js.String(), "hidden") || !strings.Contains(js.String(), `"peer":"dec"`) {
		t.Fatalf("LOG_LEVEL=warn logged %q", js.String())
	}
	// Two lines of one second can be put in order: the time has its
	// milliseconds.
	var line struct{ Time string }
	if err := json.Unmarshal(js.Bytes(), &line); err != nil {
		t.Fatal(err)
	}
	if at, err := time.Parse(time.RFC3339Nano, line.Time); err != nil || !regexp.MustCompile(`T\d\d:\d\d:\d\d\.\d{3}`).MatchString(line.Time) || time.Since(at) > time.Minute {
		t.Fatalf("the time %q (%v), want RFC 3339 to the millisecond", line.Time, err)
	}

	var console bytes.Buffer
	log = newLogger(&console, config.Config{Node: "nov", LogLevel: zerolog.InfoLevel, LogFormat: "console"})
	log.Info().Str("peer", "dec").Msg("peer is up")
	out := console.String()
	if strings.HasPrefix(out, "{") || !strings.Contains(out, "peer is up") || !strings.Contains(out, "peer=dec") {
		t.Fatalf("LOG_FORMAT=console wrote %q, want a human-readable line", out)
	}
	// The clock as the demo's chat prints it beside the log: 15:04:05.
	if !regexp.MustCompile(`^\d\d:\d\d:\d\d `).MatchString(out) {
		t.Fatalf("LOG_FORMAT=console wrote %q, want it to begin with the time as 15:04:05", out)
	}
}
