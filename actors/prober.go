package actors

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/rs/zerolog"

	"github.com/dupunkto/mesh/actors/domain"
	"github.com/dupunkto/mesh/config"
)

// Reporter takes probe results; the state owner is one.
type Reporter interface {
	Report(ctx context.Context, r domain.ProbeResult) error
}

// ProbersConfig is what a node's probers are built from.
type ProbersConfig struct {
	Peers     []config.Peer
	Interval  time.Duration
	Timeout   time.Duration
	UserAgent string
	Owner     Reporter
	Metrics   *Metrics // nil counts nothing
	Log       zerolog.Logger
}

// NewProbers returns one prober per peer, their phases spread evenly over
// the interval, sharing one probe client.
func NewProbers(cfg ProbersConfig) []*Prober {
	client := newHTTPClient(forProbes, cfg.Timeout)
	probers := make([]*Prober, len(cfg.Peers))
	for i, peer := range cfg.Peers {
		probers[i] = NewProber(ProberConfig{
			Peer:      peer,
			Interval:  cfg.Interval,
			Timeout:   cfg.Timeout,
			Offset:    PhaseOffset(i, len(cfg.Peers), cfg.Interval),
			Client:    client,
			UserAgent: cfg.UserAgent,
			Owner:     cfg.Owner,
			Metrics:   cfg.Metrics,
			Log:       cfg.Log,
		})
	}
	return probers
}

// ProberConfig is what one prober is built from.
type ProberConfig struct {
	Peer     config.Peer // the probe is GET Peer.URL+"/ping"
	Interval time.Duration
	Timeout  time.Duration
	// Offset is this peer's phase within the interval, so that many peers'
	// probes are spread out rather than fired in the same millisecond.
	Offset    time.Duration
	Client    *http.Client // newHTTPClient(forProbes, ...), shared by all probers
	UserAgent string
	Owner     Reporter
	Metrics   *Metrics // nil counts nothing
	Log       zerolog.Logger
}

// Prober probes one peer on a fixed schedule and reports each outcome to the
// state owner. Each peer has its own prober goroutine, so a peer that hangs
// delays nobody else.
type Prober struct {
	cfg     ProberConfig
	req     *http.Request // template; cloned with a context per probe
	metrics *ProbeStats

	// Kept across restarts by suture, so a restarted prober keeps its phase.
	next    time.Time // when the next probe is due
	lastErr string    // the last failure logged at info, to log repeats at debug

	// beforeProbe lets tests make the prober panic.
	beforeProbe func()
}

// NewProber returns the prober for one peer.
func NewProber(cfg ProberConfig) *Prober {
	req, err := http.NewRequest(http.MethodGet, cfg.Peer.URL+"/ping", nil)
	if err != nil {
		// config.ParsePeers only lets through URLs that parse.
		panic(fmt.Sprintf("prober %s: bad URL %q: %v", cfg.Peer.Name, cfg.Peer.URL, err))
	}
	req.Header.Set("User-Agent", cfg.UserAgent)
	return &Prober{cfg: cfg, req: req, metrics: cfg.Metrics.ForPeer(cfg.Peer.Name)}
}

// PhaseOffset spreads n peers evenly over one interval: peer i of n starts
// i/n of the way in.
func PhaseOffset(i, n int, interval time.Duration) time.Duration {
	if n <= 0 {
		return 0
	}
	return time.Duration(int64(interval) * int64(i) / int64(n))
}

func (p *Prober) String() string { return "prober(" + p.cfg.Peer.Name + ")" }

// Serve probes the peer at next, next+interval, ... until ctx ends. The
// schedule is fixed to the clock, not to when the last probe ended, so it
// does not drift; a probe that overruns skips the slots it missed.
func (p *Prober) Serve(ctx context.Context) error {
	if p.next.IsZero() {
		p.next = time.Now().Add(p.cfg.Offset)
	}
	timer := time.NewTimer(time.Until(p.next))
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-timer.C:
		}
		if p.beforeProbe != nil {
			p.beforeProbe()
		}
		r := p.probe(ctx)
		if ctx.Err() != nil {
			return ctx.Err() // shutting down: a probe cut short says nothing of the peer
		}
		p.logOutcome(r)
		p.metrics.Probe(r.OK, r.RTT)
		if err := p.cfg.Owner.Report(ctx, r); err != nil {
			return err
		}
		p.next = nextSlot(p.next, time.Now(), p.cfg.Interval)
		timer.Reset(time.Until(p.next))
	}
}

// nextSlot returns the first slot after now on the grid last + k*interval.
func nextSlot(last, now time.Time, interval time.Duration) time.Time {
	next := last.Add(interval)
	if !next.After(now) {
		missed := now.Sub(next)/interval + 1
		next = next.Add(missed * interval)
	}
	return next
}

// probe makes one GET /ping within the timeout; HTTP 200 is success.
func (p *Prober) probe(ctx context.Context) domain.ProbeResult {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	defer cancel()
	start := time.Now()
	resp, err := p.cfg.Client.Do(p.req.Clone(ctx))
	if err == nil {
		// Read a little so the server is not cut off mid-answer, then drop it.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("answered %s", resp.Status)
			if loc := resp.Header.Get("Location"); loc != "" {
				err = fmt.Errorf("answered %s (redirect to %s, not followed)", resp.Status, loc)
			}
		}
	}
	end := time.Now()
	return domain.ProbeResult{Peer: p.cfg.Peer.Name, At: end, OK: err == nil, Err: p.describe(err), RTT: end.Sub(start)}
}

// describe turns a client error into what an operator needs to read: the
// cause without the repeated "Get <url>:" prefix.
func (p *Prober) describe(err error) error {
	if err == nil {
		return nil
	}
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return fmt.Errorf("timed out after %s", p.cfg.Timeout)
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
	return p.cfg.Log.WithLevel(level).Str("peer", r.Peer).Float64("rtt_ms", float64(r.RTT.Microseconds())/1000)
}
