package actors

import (
	"fmt"
	"net/http/httptest"
	"reflect"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/rs/zerolog"

	"github.com/dupunkto/mesh/actors/domain"
	"github.com/dupunkto/mesh/httpapi"
)

// scrape gets GET /metrics from m's handler over state and parses it, as
// Prometheus would.
func scrape(t *testing.T, m *Metrics, state interface{ Snapshot() *domain.Snapshot }) map[string]*dto.MetricFamily {
	t.Helper()
	rec := httptest.NewRecorder()
	httpapi.MetricsHandler(m.Gatherers(state), zerolog.Nop()).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(rec.Body)
	if err != nil || rec.Code != 200 {
		t.Fatalf("scrape: %d %v", rec.Code, err)
	}
	return families
}

// gather returns the samples of one family by their "peer" label.
func gather(t *testing.T, m *Metrics, state interface{ Snapshot() *domain.Snapshot }, family string) map[string]*dto.Metric {
	t.Helper()
	families := scrape(t, m, state)
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
	synctest.Test(t, testPeerGauges)
}

func testPeerGauges(t *testing.T) {
	o := newTestOwner("a", "b", "c")
	m := NewMetrics(peerSubjects("a", "b", "c"))
	go o.Serve(t.Context())
	report(t, o, "a", true)
	report(t, o, "b", false)
	report(t, o, "b", false) // threshold 2: down
	settle()                 // the owner publishes within publishGap

	up := gather(t, m, o, "mesh_peer_up")
	if len(up) != 2 || up["a"].GetGauge().GetValue() != 1 || up["b"].GetGauge().GetValue() != 0 {
		t.Errorf("mesh_peer_up = %v, want a=1, b=0 and nothing for the unknown c", up)
	}
	failures := gather(t, m, o, "mesh_peer_consecutive_failures")
	if len(failures) != 3 || failures["b"].GetGauge().GetValue() != 2 || failures["c"].GetGauge().GetValue() != 0 {
		t.Errorf("mesh_peer_consecutive_failures = %v, want every peer, b at 2", failures)
	}
	// Counters exist from the start, at zero, for every peer.
	if probes := gather(t, m, o, "mesh_probes_total"); len(probes) != 3 {
		t.Errorf("mesh_probes_total has series for %d peers, want 3 from the start", len(probes))
	}
}

// Parts built without metrics (in tests, in tools) get a nil *Metrics:
// every method takes it, counts nothing and hands out nothing.
func TestNilMetricsCountNothing(t *testing.T) {
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("a nil *Metrics panicked: %v", r)
		}
	}()
	var m *Metrics
	stats := m.ForSubject(domain.Peer("a"))
	if stats != nil {
		t.Fatalf("a nil *Metrics handed out %+v", stats)
	}
	stats.Probe(true, time.Millisecond)
	m.Transition(domain.Transition{Subject: domain.Peer("a"), To: domain.StatusUp})
	m.RelaySent(domain.RelayDelivered)
	m.RelayReceived(domain.RelayAccepted)
	m.AddChannel("ntfy")
	m.ChannelDelivery("ntfy", DeliveryDelivered)
	m.AddAlertmanager("am:9093")
	m.AlertmanagerPost("am:9093", true)
	m.SetNode("a", "mesh", "dev")
	m.MailboxDropped("webhook")
	m.MessageSent(domain.MessageDown)
	m.MessageSuppressed(domain.MessageDown, SuppressedElsewhere)
}

// Every kind of message has its sent and suppressed series from the start,
// at zero, so that a rate() or an alert on them works before the first.
func TestMessageCountersExistFromTheStart(t *testing.T) {
	m := NewMetrics(nil)
	families := scrape(t, m, newTestOwner())
	count := func(name string) int {
		if f, ok := families[name]; ok {
			return len(f.GetMetric())
		}
		return 0
	}
	if n := count("mesh_messages_sent_total"); n != len(domain.MessageKinds()) {
		t.Fatalf("%d series of mesh_messages_sent_total, want one per kind", n)
	}
	if n := count("mesh_messages_suppressed_total"); n != len(domain.MessageKinds())*len(suppressedReasons()) {
		t.Fatalf("%d series of mesh_messages_suppressed_total, want one per kind and reason", n)
	}
}

func TestSubjectStatsMakeACounterAndAHistogramPerPeer(t *testing.T) {
	o := newTestOwner("a")
	m := NewMetrics(peerSubjects("a"))
	for _, rtt := range []time.Duration{3 * time.Millisecond, 5 * time.Millisecond, 20 * time.Millisecond} {
		m.ForSubject(domain.Peer("a")).Probe(true, rtt)
	}
	m.ForSubject(domain.Peer("a")).Probe(false, 20*time.Second) // past every bucket

	families := scrape(t, m, o)
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

func TestClusterStatusIsAStateSetPerPeer(t *testing.T) {
	synctest.Test(t, testClusterStatus)
}

func testClusterStatus(t *testing.T) {
	o := newTestOwner("a", "b")
	m := NewMetrics(peerSubjects("a", "b"))
	go o.Serve(t.Context())
	report(t, o, "a", true)
	report(t, o, "b", false)
	report(t, o, "b", false) // threshold 2: down; alone, this node's view is the verdict
	settle()                 // the owner publishes within publishGap
	got := map[string]float64{}
	for _, s := range scrape(t, m, o)["mesh_cluster_peer_status"].GetMetric() {
		labels := map[string]string{}
		for _, l := range s.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		got[labels["peer"]+" "+labels["status"]] = s.GetGauge().GetValue()
	}
	want := map[string]float64{"a up": 1, "a partial": 0, "a down": 0, "a stopped": 0, "b up": 0, "b partial": 0, "b down": 1, "b stopped": 0}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("mesh_cluster_peer_status %v, want %v", got, want)
	}
}

// A scrape writes one gatherer after another (httpapi.MetricsHandler), and
// holds one gatherer's series at a time: every family with a series per
// subject comes in parts of at most partSize subjects, one after another,
// none with the node's own families; and the scrape has every series once.
func TestPerSubjectFamiliesAreGatheredInParts(t *testing.T) {
	var peers []string
	for i := range 2*partSize + 50 {
		peers = append(peers, fmt.Sprintf("peer-%03d", i))
	}
	subjects := append(peerSubjects(peers...), domain.Target("https://shop.example/"))
	m := NewMetrics(subjects)
	o := newTestOwner(peers...)
	gatherers := m.Gatherers(o)
	seen := map[string]int{} // series by family
	last := ""
	for i, g := range gatherers {
		families, err := g.Gather()
		if err != nil {
			t.Fatal(err)
		}
		if i > 0 && len(families) > 1 {
			t.Errorf("gatherer %d holds %d families, want one at most", i, len(families))
		}
		for _, f := range families {
			if _, ok := seen[f.GetName()]; ok && f.GetName() != last {
				t.Errorf("%s comes again after %s: its parts are apart", f.GetName(), last)
			}
			last = f.GetName()
			subjectsIn := map[string]bool{}
			for _, s := range f.GetMetric() {
				for _, l := range s.GetLabel() {
					if slices.Contains([]string{"peer", "target", "subject"}, l.GetName()) {
						if i == 0 {
							t.Errorf("%s has a series per subject, gathered with the node's own", f.GetName())
						}
						subjectsIn[l.GetValue()] = true
					}
				}
			}
			if len(subjectsIn) > partSize {
				t.Errorf("a part of %s holds %d subjects, more than %d", f.GetName(), len(subjectsIn), partSize)
			}
			seen[f.GetName()] += len(f.GetMetric())
		}
	}
	want := map[string]int{
		"mesh_probe_duration_seconds": len(peers), "mesh_probes_total": 2 * len(peers), "mesh_transitions_total": 2 * len(peers),
		"mesh_peer_consecutive_failures": len(peers), "mesh_target_probes_total": 2, "mesh_relay_sent_total": len(domain.RelaySentResults()),
	}
	for name, n := range want {
		if seen[name] != n {
			t.Errorf("%s has %d series, want %d", name, seen[name], n)
		}
	}
	// Through the handler, as Prometheus reads it: each family once.
	families := scrape(t, m, o)
	if n := len(families["mesh_probe_duration_seconds"].GetMetric()); n != len(peers) {
		t.Errorf("the scrape has %d histograms, want %d", n, len(peers))
	}
}

// Ranges of names cover every name once, configured or not.
func TestRangesOfNamesCoverEveryName(t *testing.T) {
	sorted := []string{"a", "b", "c", "d", "e"}
	ranges := rangesOf(sorted, 2)
	if len(ranges) != 3 {
		t.Fatalf("%d ranges of 5 names by 2, want 3: %v", len(ranges), ranges)
	}
	for _, name := range append(sorted, "0", "bb", "z") {
		in := 0
		for _, r := range ranges {
			if r.has(name) {
				in++
			}
		}
		if in != 1 {
			t.Errorf("%q is in %d ranges of %v, want 1", name, in, ranges)
		}
	}
	if r := rangesOf(nil, 2); len(r) != 1 || !r[0].has("anything") {
		t.Errorf("no names: %v, want one open range", r)
	}
	if r := rangesOf(sorted[:2], 2); len(r) != 1 {
		t.Errorf("2 names by 2: %v, want one range", r)
	}
}

// Each subject's changes of status are counted by the status changed to,
// at zero from the start for every subject, so that increase() works
// before the first.
func TestTransitionsAreCountedPerSubjectFromZero(t *testing.T) {
	m := NewMetrics(append(peerSubjects("a", "b"), domain.Target("https://shop.example/")))
	m.Transition(domain.Transition{Subject: domain.Peer("b"), From: domain.StatusUp, To: domain.StatusDown})
	m.Transition(domain.Transition{Subject: domain.Peer("b"), From: domain.StatusDown, To: domain.StatusUp})
	m.Transition(domain.Transition{Subject: domain.Peer("b"), From: domain.StatusUp, To: domain.StatusDown})
	m.Transition(domain.Transition{Subject: domain.Target("https://shop.example/"), From: domain.StatusUp, To: domain.StatusDown})
	families := scrape(t, m, newTestOwner("a", "b"))
	count := func(family, label string) map[string]float64 {
		got := map[string]float64{}
		for _, s := range families[family].GetMetric() {
			labels := map[string]string{}
			for _, l := range s.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			got[labels[label]+" "+labels["status"]] = s.GetCounter().GetValue()
		}
		return got
	}
	if got, want := count("mesh_transitions_total", "peer"), map[string]float64{"a up": 0, "a down": 0, "b up": 1, "b down": 2}; !reflect.DeepEqual(got, want) {
		t.Errorf("mesh_transitions_total %v, want %v", got, want)
	}
	if got, want := count("mesh_target_transitions_total", "target"), map[string]float64{"https://shop.example/ up": 0, "https://shop.example/ down": 1}; !reflect.DeepEqual(got, want) {
		t.Errorf("mesh_target_transitions_total %v, want %v", got, want)
	}
}
