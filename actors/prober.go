package actors

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/dupunkto/mesh/actors/domain"
	"github.com/dupunkto/mesh/config"
)

// Reporter takes probe results; the state owner is one.
type Reporter interface {
	Report(ctx context.Context, r domain.ProbeResult) error
}

// ProberConfig is what one peer's prober is built from.
type ProberConfig struct {
	Peer      config.Peer // the probe is GET Peer.URL+"/ping"
	Timeout   time.Duration
	Client    *http.Client // newHTTPClient(forProbes, ...), shared by all probers
	UserAgent string
	Owner     Reporter
	Metrics   *Metrics // nil counts nothing
	Log       zerolog.Logger
}

// Prober probes one peer or target, one probe at a time, and reports each
// outcome to the state owner. It is not a goroutine of its own: the probe
// scheduler says when, and each probe runs in a goroutine of its own, so a
// peer that hangs delays nobody else.
type Prober struct {
	subject domain.Subject
	timeout time.Duration
	owner   Reporter
	logger  zerolog.Logger
	// check makes one probe within ctx's deadline: nil when it succeeds,
	// else why not; and the certificate it met over TLS, if any.
	check   func(ctx context.Context) (domain.Cert, error)
	metrics *SubjectStats

	// Owned by the scheduler's goroutine; kept across its restarts, so a
	// restarted scheduler keeps every peer's phase.
	next time.Time // when the next probe is due
	// busy is set by the scheduler when it starts a probe and cleared by
	// the probe when it has ended: a probe still running at its next slot
	// skips that slot.
	busy atomic.Bool
	// Owned by whichever probe of this peer runs (there is one at a time).
	lastErr string // the last failure logged at info, to log repeats at debug

	// beforeProbe lets tests make a probe panic.
	beforeProbe func()
}

// NewProber returns the prober for one peer.
func NewProber(cfg ProberConfig) *Prober {
	r, err := newProbeRequest(cfg.Peer.URL+"/ping", cfg.UserAgent)
	if err != nil {
		// config.ParsePeers only lets through URLs that parse.
		panic(fmt.Sprintf("prober %s: bad URL %q: %v", cfg.Peer.Name, cfg.Peer.URL, err))
	}
	client := cfg.Client
	return &Prober{subject: cfg.Peer.Subject(), timeout: cfg.Timeout, owner: cfg.Owner, logger: cfg.Log,
		check: func(ctx context.Context) (domain.Cert, error) {
			return domain.Cert{}, ping(ctx, client, r)
		}, metrics: cfg.Metrics.ForSubject(cfg.Peer.Subject())}
}

// ping is a peer's probe: GET /ping, and HTTP 200 is success.
func ping(ctx context.Context, client *http.Client, r probeRequest) error {
	req, err := r.new(ctx)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	// Read a little so the server is not cut off mid-answer, then drop it.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		if loc := resp.Header.Get("Location"); loc != "" {
			return fmt.Errorf("answered %s (redirect to %s, not followed)", resp.Status, loc)
		}
		return fmt.Errorf("answered %s", resp.Status)
	}
	return nil
}

// run makes one probe and hands its outcome on. A probe cut short because
// the node is stopping says nothing of the peer, and is dropped.
func (p *Prober) run(ctx context.Context) {
	if p.beforeProbe != nil {
		p.beforeProbe()
	}
	r := p.probe(ctx)
	if ctx.Err() != nil {
		return
	}
	p.logOutcome(r)
	p.metrics.Probe(r.OK, r.RTT)
	_ = p.owner.Report(ctx, r) // fails only when ctx ends
}

// probe makes one check within the timeout.
func (p *Prober) probe(ctx context.Context) domain.ProbeResult {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	start := time.Now()
	cert, err := p.check(ctx)
	end := time.Now()
	return domain.ProbeResult{Subject: p.subject, At: end, OK: err == nil, Err: p.describe(err), RTT: end.Sub(start), Cert: cert}
}

// describe turns a client error into what an operator needs to read: the
// cause without the repeated "Get <url>:" prefix.
func (p *Prober) describe(err error) error {
	if err == nil {
		return nil
	}
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return fmt.Errorf("timed out after %s", p.timeout)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// logOutcome logs a failure once at info and identical repeats at debug, so
// a peer that is down for a day does not flood the log.
func (p *Prober) logOutcome(r domain.ProbeResult) {
	if r.OK {
		if p.lastErr != "" {
			p.log(zerolog.DebugLevel, r).Msg("probe succeeds again")
			p.lastErr = ""
		}
		p.log(zerolog.TraceLevel, r).Msg("probe ok")
		return
	}
	level := zerolog.InfoLevel
	if r.Err.Error() == p.lastErr {
		level = zerolog.DebugLevel
	}
	p.lastErr = r.Err.Error()
	p.log(level, r).Err(r.Err).Msg("probe failed")
}

func (p *Prober) log(level zerolog.Level, r domain.ProbeResult) *zerolog.Event {
	return p.logger.WithLevel(level).Str(p.subject.Kind.String(), p.subject.Name).Float64("rtt_ms", float64(r.RTT.Microseconds())/1000)
}
