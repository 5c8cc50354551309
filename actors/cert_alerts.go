package actors

import (
	"time"

	"github.com/dupunkto/mesh/actors/domain"
)

// followCert tells, once per certificate and once for the cluster, that a
// target's certificate expires within CERT_WARN: its warning is an episode
// of its own, elected as an outage's is, and told of in the relays (Told)
// rather than announced, since nothing follows it. A renewed certificate
// has another fingerprint, and its own warning when its time comes. It
// returns when to look again: when the certificate enters the window.
//
// Its candidates are the nodes the cluster does not call down, this one
// among them, whether their view of the target is in or not: a node that
// does not watch the target (another TARGETS, or an older node) never
// tells, and costs those after it a slot; one whose relay is late is
// waited for rather than taken for absent.
func (n *Notifier) followCert(snap *domain.Snapshot, target *domain.Entry, h heard, now time.Time) time.Time {
	name, c := target.Name(), target.Cert()
	if c.Fingerprint == "" || n.told[name] == c.Fingerprint {
		delete(n.certs, name)
		return time.Time{}
	}
	if enters := c.NotAfter.Add(-n.cfg.CertWarn); now.Before(enters) {
		delete(n.certs, name)
		return enters
	}
	e := n.certs[name]
	if e == nil || e.fingerprint != c.Fingerprint {
		e = &episode{subject: target.Subject(), kind: certEpisode, began: now, since: now, fingerprint: c.Fingerprint}
		n.certs[name] = e
	}
	if h.toldOf(name, c.Fingerprint) {
		n.move(e, heardFirst)
		n.told[name] = c.Fingerprint
		delete(n.certs, name)
		n.logEpisode(n.cfg.Log.Debug(), e).Msg("certificate expiring; another node told of it")
		return time.Time{}
	}
	if turn := n.election.turn(e, judgement{subject: e.subject, upFrom: liveNodes(snap)}, n.quietUntil, now); now.Before(turn) {
		return turn
	}
	if snap.Isolated() {
		return time.Time{}
	}
	n.move(e, turn)
	n.told[name] = c.Fingerprint
	delete(n.certs, name)
	n.send(certMessage(e.subject, c.NotAfter, now))
	n.logEpisode(n.cfg.Log.Info(), e).Time("not_after", c.NotAfter).Msg("told that the target's certificate expires soon")
	return time.Time{}
}

// liveNodes are this node and its peers the cluster does not call down.
func liveNodes(snap *domain.Snapshot) []string {
	live := []string{snap.Node()}
	for e := range snap.Peers() {
		if v, ok := snap.Verdicts().Of(e.Name()); !ok || v.Status() != domain.ClusterDown {
			live = append(live, e.Name())
		}
	}
	return live
}
