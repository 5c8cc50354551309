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

func TestProbeStatsMakeACounterAndAHistogramPerPeer(t *testing.T) {
	o := newTestOwner("a")
	m := NewMetrics(o)
	for _, rtt := range []time.Duration{3 * time.Millisecond, 5 * time.Millisecond, 20 * time.Millisecond} {
		m.Probe("a", true, rtt)
	}
	m.Probe("a", false, 20*time.Second) // past every bucket

	families, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	var ok, failed float64
	var h *dto.Histogram
	for _, f := range families {
		for _, s := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range s.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			switch {
			case f.GetName() == "mesh_probes_total" && labels["result"] == "ok":
				ok = s.GetCounter().GetValue()
			case f.GetName() == "mesh_probes_total" && labels["result"] == "failed":
				failed = s.GetCounter().GetValue()
			case f.GetName() == "mesh_probe_duration_seconds" && labels["peer"] == "a":
				h = s.GetHistogram()
			}
		}
	}
	if ok != 3 || failed != 1 {
		t.Errorf("mesh_probes_total ok=%v failed=%v, want 3 and 1", ok, failed)
	}
	if h == nil {
		t.Fatal("no mesh_probe_duration_seconds for a")
	}
	if h.GetSampleCount() != 4 || h.GetSampleSum() < 20.027 || h.GetSampleSum() > 20.029 {
		t.Errorf("histogram count %d sum %v, want 4 and 20.028", h.GetSampleCount(), h.GetSampleSum())
	}
	want := map[float64]uint64{0.005: 2, 0.01: 2, 0.025: 3, 10: 3} // cumulative; 5 ms falls in le=0.005
	for _, b := range h.GetBucket() {
		if w, ok := want[b.GetUpperBound()]; ok && b.GetCumulativeCount() != w {
			t.Errorf("bucket le=%v holds %d, want %d", b.GetUpperBound(), b.GetCumulativeCount(), w)
		}
	}
}
