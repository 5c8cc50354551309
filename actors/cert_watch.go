package actors

import (
	"context"
	"fmt"
	"maps"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/dupunkto/mesh/actors/domain"
)

// CertWatchConfig is what the certificate watch is built from.
type CertWatchConfig struct {
	Node string
	// Warn is CERT_WARN: a certificate that expires within it is told of.
	Warn time.Duration
	// Every is how often the watch looks: POLL_INTERVAL.
	Every time.Duration
	// Cluster: ALERTS=cluster, where one node tells the cluster's chat
	// (see look); else every node tells of what it sees.
	Cluster bool
	// Quiet is how long after its start a node in cluster mode only
	// listens, as the cluster notifier does: the rule's Fresh.
	Quiet time.Duration
	State interface{ Snapshot() *domain.Snapshot }
	Out   MessageSink
	// Saved are the fingerprints a previous run told of or saw told of,
	// by target.
	Saved   map[string]string
	Now     time.Time // when the node started
	Metrics *Metrics  // nil counts nothing
	Log     zerolog.Logger
}

// CertWatch tells, once per certificate, that an HTTPS target's
// certificate expires within CERT_WARN.
//
// Once per certificate and once for the cluster: every node marks a
// certificate told of when it enters the window, and only one sends the
// message, the first in name order of the nodes that see the target up
// (the cluster's verdict names them). So when that node is gone later, the
// next does not tell again: it marked the certificate at the same time. A
// renewed certificate has another fingerprint, and its own warning when
// its time comes.
//
// Every node must reach the same verdict for that: a node decides only
// once the verdict on the target counts every node of the cluster that is
// not down (by the verdicts on the peers), so that a node which has not
// yet heard from all the others (just started, or a relay late on a busy
// machine) does not take itself for the first.
type CertWatch struct {
	cfg CertWatchConfig

	// Owned by Serve; kept across restarts.
	warned map[string]string // fingerprint told of, by target

	// published is warned as of the last look, for the state file.
	published atomic.Pointer[map[string]string]
}

// NewCertWatch returns a certificate watch that resumes cfg.Saved.
func NewCertWatch(cfg CertWatchConfig) *CertWatch {
	w := &CertWatch{cfg: cfg, warned: maps.Clone(cfg.Saved)}
	if w.warned == nil {
		w.warned = map[string]string{}
	}
	w.publish()
	return w
}

func (w *CertWatch) String() string { return "cert-watch" }

// Warned returns the fingerprints told of, by target, for the state file.
func (w *CertWatch) Warned() map[string]string {
	if w == nil {
		return nil
	}
	return *w.published.Load()
}

// Serve looks every cfg.Every until ctx ends.
func (w *CertWatch) Serve(ctx context.Context) error {
	tick := time.NewTicker(w.cfg.Every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case now := <-tick.C:
			w.look(now)
		}
	}
}

// look tells of each certificate that has come within the window and was
// not told of yet. An isolated node looks again when it is back: it may
// miss its turn meanwhile, but then it was not among the nodes that saw
// the target up.
func (w *CertWatch) look(now time.Time) {
	snap := w.cfg.State.Snapshot()
	if snap.Isolated() || (w.cfg.Cluster && now.Before(w.cfg.Now.Add(w.cfg.Quiet))) {
		return
	}
	changed := false
	for e := range snap.Targets() {
		c := e.Cert()
		if c.Fingerprint == "" || c.NotAfter.Sub(now) > w.cfg.Warn || w.warned[e.Name()] == c.Fingerprint {
			continue
		}
		if w.cfg.Cluster {
			v, _ := snap.Verdicts().Of(e.Name())
			if len(v.UpFrom())+len(v.DownFrom()) < nodesNotDown(snap) {
				continue // not every node's view is in yet: look again
			}
			w.warned[e.Name()], changed = c.Fingerprint, true
			if up := v.UpFrom(); len(up) == 0 || up[0] != w.cfg.Node {
				w.cfg.Log.Debug().Str("target", e.Name()).Strs("up_from", up).Msg("certificate expiring; the first node that sees the target up tells")
				continue
			}
		}
		w.warned[e.Name()], changed = c.Fingerprint, true
		w.cfg.Out.Enqueue(certMessage(e.Subject(), c.NotAfter, now))
		w.cfg.Metrics.MessageSent(MessageCertExpiry)
		w.cfg.Log.Info().Str("target", e.Name()).Time("not_after", c.NotAfter).Msg("told that the target's certificate expires soon")
	}
	if changed {
		w.publish()
	}
}

// nodesNotDown counts this node and its peers the cluster does not call
// down: the nodes whose view of a target should be in its verdict.
func nodesNotDown(snap *domain.Snapshot) int {
	n := 1
	for e := range snap.Peers() {
		if v, ok := snap.Verdicts().Of(e.Name()); !ok || v.Status() != domain.ClusterDown {
			n++
		}
	}
	return n
}

func (w *CertWatch) publish() {
	m := maps.Clone(w.warned)
	w.published.Store(&m)
}

// certMessage tells when a target's certificate expires, or that it has.
func certMessage(target domain.Subject, notAfter, now time.Time) Message {
	when := notAfter.UTC().Format("2006-01-02 15:04 UTC")
	text := fmt.Sprintf("🔒 The certificate of `%s` expires in %s (%s)", target.Name, FormatDuration(notAfter.Sub(now)), when)
	if !notAfter.After(now) {
		text = fmt.Sprintf("🔒 The certificate of `%s` has expired (%s)", target.Name, when)
	}
	return Message{Kind: MessageCertExpiry, Subject: target, Text: text, At: now}
}
