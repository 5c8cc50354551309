package actors

import (
	"context"
	"net/http"
	"time"

	"github.com/rs/zerolog"

	"github.com/dupunkto/mesh/actors/domain"
)

// GuardConfig is what the isolation guard is built from.
type GuardConfig struct {
	// Every is how often the guard looks: once a round.
	Every time.Duration
	// Rule is the cluster rule, whose Fresh says which relays count.
	Rule  domain.ClusterRule
	State interface{ Snapshot() *domain.Snapshot }
	Owner interface {
		SetIsolated(ctx context.Context, isolated bool, at time.Time) error
	}
	// Outside are URLs whose answer, any HTTP answer, shows this node can
	// still reach beyond its peers: CONNECTIVITY_URL, the chat service.
	Outside []string
	Timeout time.Duration // per outside check
	Client  *http.Client  // nil: newHTTPClient(forOutside, Timeout, Cut)
	Cut     Cut           // nil: the network as it is
	// Boot is when the node started: until a peer has answered since, or
	// relayed, nothing is known of them, and nothing is claimed.
	Boot    time.Time
	Metrics *Metrics
	Log     zerolog.Logger
}

// Guard decides whether this node has lost its own network, and tells the
// state owner: see domain.LooksIsolated for what the peers say, and a node
// that still reaches the outside is not isolated, whatever they say: when
// most of the cluster really is gone, the survivor must still tell.
type Guard struct {
	cfg GuardConfig

	// Owned by Serve.
	since time.Time // when the isolation began; zero when not isolated
	lost  int       // the most peers failing at once while it lasted
	// answered is when the outside last answered: for outsideFresh after
	// it, the guard does not ask again.
	answered time.Time
	// heard: a peer has answered a probe, or relayed, since the node
	// started, first at heardAt; told: the guard said, once, that none
	// had yet.
	heard, told bool
	heardAt     time.Time
}

// outsideFresh is how long an answer from the outside stands, within one
// spell of the peers saying "isolated". While most of the cluster is
// down, they say it at every look; asking the chat service each time
// would be a request every POLL_INTERVAL for as long as the outage lasts.
// A node that loses its network within the minute after an answer, with
// most of the cluster still down, is found isolated up to a minute late:
// with every peer already down, nothing is left for it to announce by
// mistake.
const outsideFresh = time.Minute

// NewGuard returns an isolation guard.
func NewGuard(cfg GuardConfig) *Guard {
	if cfg.Client == nil {
		cfg.Client = newHTTPClient(forOutside, cfg.Timeout, cfg.Cut)
	}
	return &Guard{cfg: cfg}
}

func (g *Guard) String() string { return "isolation-guard" }

// Serve looks once every cfg.Every until ctx ends.
func (g *Guard) Serve(ctx context.Context) error {
	tick := time.NewTicker(g.cfg.Every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
		if err := g.look(ctx, time.Now()); err != nil {
			return err
		}
	}
}

// look decides once, and tells the owner of a change.
func (g *Guard) look(ctx context.Context, now time.Time) error {
	snap := g.cfg.State.Snapshot()
	if !g.heard {
		g.heard, g.heardAt = heardSince(snap, g.cfg.Boot), now
	}
	if !g.heard {
		// The first node of a new cluster, deployed before the others:
		// its peers all fail, and it holds no relay, which is what a node
		// cut off sees too. But nothing is known of them yet.
		if !g.told {
			g.told = true
			g.cfg.Log.Info().Int("peers", snap.Len()).Msg("no peer has answered yet; nothing is known of them, so nothing is claimed")
		}
		return nil
	}
	if !answeredSince(snap, g.cfg.Boot) && now.Sub(g.heardAt) < g.cfg.Rule.Fresh/3 {
		// Heard only from relays: the peers that start after this node
		// relay to it before its next probe of them has had an answer.
		// Their relays see each other up, its own view still has them
		// failing, which is what a node cut off sees. A round later its
		// probes have spoken.
		return nil
	}
	isolated := domain.LooksIsolated(snap, g.cfg.Rule, now)
	if !isolated {
		// An answer from the outside stood for the spell in which the
		// peers said "isolated" (most of the cluster down); once they no
		// longer do, it is forgotten, and the next spell asks again.
		g.answered = time.Time{}
	}
	if isolated && !g.answered.IsZero() && now.Sub(g.answered) < outsideFresh {
		isolated = false
	} else if isolated && g.reachesOutside(ctx) {
		isolated, g.answered = false, now
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	failing := 0
	lastHeard := time.Time{} // the latest answer of a peer that fails now
	for e := range snap.Peers() {
		if v := e.View(); v.ConsecutiveFailures > 0 {
			failing++
			lastHeard = later(lastHeard, v.LastSeen)
		}
	}
	was := !g.since.IsZero()
	at := now
	switch {
	case isolated && !was:
		// The spell began when the peers that fail now last answered:
		// their failures, and the down transitions they brought before
		// the guard could tell, are the spell's. A peer down long before
		// answered long before, and the latest answer is the one that
		// tells.
		if !lastHeard.IsZero() && lastHeard.Before(now) {
			at = lastHeard
		}
		g.since, g.lost = now, failing
		g.cfg.Log.Warn().Int("failing", failing).Int("peers", snap.Len()).
			Msg("this node looks cut off: its peers fail from here but not from elsewhere, and nothing outside answers; no down messages until it is back")
	case isolated:
		g.lost = max(g.lost, failing)
		return nil
	case was:
		g.cfg.Log.Info().Int64("duration_ms", now.Sub(g.since).Milliseconds()).Int("peers_lost", g.lost).
			Msg("this node is back on the network")
		g.since, g.lost = time.Time{}, 0
	default:
		return nil
	}
	g.cfg.Metrics.SetIsolated(isolated)
	return g.cfg.Owner.SetIsolated(ctx, isolated, at)
}

// heardSince reports whether a peer answered a probe after boot, or any
// node relayed (relays are not kept across a restart).
func heardSince(snap *domain.Snapshot, boot time.Time) bool {
	return snap.RelayCount() > 0 || answeredSince(snap, boot)
}

// answeredSince reports whether a peer answered a probe of this node's
// after boot.
func answeredSince(snap *domain.Snapshot, boot time.Time) bool {
	for e := range snap.Peers() {
		if e.View().LastSeen.After(boot) {
			return true
		}
	}
	return false
}

// reachesOutside reports whether any outside URL answers at all: a status
// of any kind is an answer, only a network error is not.
func (g *Guard) reachesOutside(ctx context.Context) bool {
	for _, u := range g.cfg.Outside {
		ctx, cancel := context.WithTimeout(ctx, g.cfg.Timeout)
		req, err := http.NewRequestWithContext(ctx, http.MethodHead, u, nil)
		if err == nil {
			var resp *http.Response
			if resp, err = g.cfg.Client.Do(req); err == nil {
				resp.Body.Close()
			}
		}
		cancel()
		if err == nil {
			return true
		}
		g.cfg.Log.Debug().Err(err).Msg("outside check failed")
	}
	return false
}
