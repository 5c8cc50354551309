package actors

import (
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
)

// gather returns the samples of one family by their "peer" label.
func gather(t *testing.T, m *Metrics, family string) map[string]*dto.Metric {
	t.Helper()
	families, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*dto.Metric{}
	for _, f := range families {
		if f.GetName() != family {
			continue
		}
		for _, s := range f.GetMetric() {
			for _, l := range s.GetLabel() {
				if l.GetName() == "peer" {
					out[l.GetValue()] = s
				}
			}
		}
	}
	return out
}

func TestPeerGaugesFollowTheSnapshotAndSkipUnknownPeers(t *testing.T) {
	o := newTestOwner("a", "b", "c")
	m := NewMetrics(o)
	ctx := t.Context()
	go o.Serve(ctx)
	report(t, o, "a", true)
	report(t, o, "b", false)
	report(t, o, "b", false) // threshold 2: down
	for {
		s := o.Snapshot()
		if a, _ := s.Peer("a"); a.Status == StatusUp {
			if b, _ := s.Peer("b"); b.Status == StatusDown {
				break
			}
		}
		time.Sleep(time.Millisecond) // the owner publishes in its own time
	}

	up := gather(t, m, "mesh_peer_up")
	if len(up) != 2 || up["a"].GetGauge().GetValue() != 1 || up["b"].GetGauge().GetValue() != 0 {
		t.Errorf("mesh_peer_up = %v, want a=1, b=0 and nothing for the unknown c", up)
	}
	failures := gather(t, m, "mesh_peer_consecutive_failures")
	if len(failures) != 3 || failures["b"].GetGauge().GetValue() != 2 || failures["c"].GetGauge().GetValue() != 0 {
		t.Errorf("mesh_peer_consecutive_failures = %v, want every peer, b at 2", failures)
	}
	// Counters exist from the start, at zero, for every peer.
	if probes := gather(t, m, "mesh_probes_total"); len(probes) != 3 {
		t.Errorf("mesh_probes_total has series for %d peers, want 3 from the start", len(probes))
	}
}

func TestNilMetricsCountNothing(t *testing.T) {
	var m *Metrics
	m.Probe("a", true, time.Millisecond)
	m.Transition(Transition{Peer: "a", To: StatusUp})
	m.RelaySent(RelayDelivered)
	m.RelayReceived(RelayAccepted)
	m.WebhookDelivery(WebhookDelivered)
}
