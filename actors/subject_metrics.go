package actors

import (
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dupunkto/mesh/actors/domain"
)

// subjectDescs are the series a node keeps of each subject. Peers and
// targets are measured alike, but under names of their own (mesh_peer_up,
// mesh_target_up), labelled by their kind ("peer", "target"): dashboards
// and alerts name them apart, and a target's series cannot be mistaken
// for a node's.
type subjectDescs struct {
	up, failures, cluster, probes, duration, transitions *prometheus.Desc
}

// descsOf are the series of each kind, by domain.Kind.
var descsOf = [...]subjectDescs{
	domain.KindPeer: {
		up: prometheus.NewDesc("mesh_peer_up",
			"1 if this node sees the peer up, 0 if down; absent while unknown.", []string{"peer"}, nil),
		failures: prometheus.NewDesc("mesh_peer_consecutive_failures",
			"Failed probes of the peer since its last success.", []string{"peer"}, nil),
		cluster: prometheus.NewDesc("mesh_cluster_peer_status",
			"The cluster's verdict on the peer as this node reaches it: 1 for the status it is in, 0 for the others.", []string{"peer", "status"}, nil),
		probes: prometheus.NewDesc("mesh_probes_total",
			"Probes of a peer, by result (ok or failed).", []string{"peer", "result"}, nil),
		duration: prometheus.NewDesc("mesh_probe_duration_seconds",
			"Round-trip time of a probe, successful or not.", []string{"peer"}, nil),
		transitions: prometheus.NewDesc("mesh_transitions_total",
			"Changes of a peer's status, by the status it changed to.", []string{"peer", "status"}, nil),
	},
	domain.KindTarget: {
		up: prometheus.NewDesc("mesh_target_up",
			"1 if this node sees the target up, 0 if down; absent while unknown.", []string{"target"}, nil),
		failures: prometheus.NewDesc("mesh_target_consecutive_failures",
			"Failed probes of the target since its last success.", []string{"target"}, nil),
		cluster: prometheus.NewDesc("mesh_cluster_target_status",
			"The cluster's verdict on the target as this node reaches it: 1 for the status it is in, 0 for the others.", []string{"target", "status"}, nil),
		probes: prometheus.NewDesc("mesh_target_probes_total",
			"Probes of a target, by result (ok or failed).", []string{"target", "result"}, nil),
		duration: prometheus.NewDesc("mesh_target_probe_duration_seconds",
			"Time a target's probe took, successful or not (connect, TLS, answer and body for HTTP; connect for TCP).", []string{"target"}, nil),
		transitions: prometheus.NewDesc("mesh_target_transitions_total",
			"Changes of a target's status as this node sees it, by the status it changed to.", []string{"target", "status"}, nil),
	},
}

// certExpiryDesc is a target's alone: only an HTTPS target has a certificate.
var certExpiryDesc = prometheus.NewDesc("mesh_target_cert_expiry_seconds",
	"When the certificate an HTTPS target last showed this node expires, in Unix seconds (as blackbox_exporter's probe_ssl_earliest_cert_expiry); absent before the first handshake.", []string{"target"}, nil)

// maintenanceDesc says which subjects are in maintenance, and why.
var maintenanceDesc = prometheus.NewDesc("mesh_maintenance",
	"1 while a peer or target is in maintenance (reason: leave, a peer stopped on purpose within LEAVE_GRACE; silence, mesh silence add; window, a maintenance window): nothing is told of it; absent otherwise.", []string{"subject", "reason"}, nil)

// clusterStatuses are the values of the cluster status series' status
// label for a subject of kind k: only a peer (a node) can be stopped.
func clusterStatuses(k domain.Kind) []domain.ClusterStatus {
	if k == domain.KindPeer {
		return []domain.ClusterStatus{domain.ClusterUp, domain.ClusterPartial, domain.ClusterDown, domain.ClusterStopped}
	}
	return []domain.ClusterStatus{domain.ClusterUp, domain.ClusterPartial, domain.ClusterDown}
}

// subjectGauges are the families that report each subject's status, failure
// count, certificate and maintenance as they are in the latest snapshot when
// Prometheus scrapes, so that the gauges cannot disagree with /state: the
// snapshot is their only source.
func subjectGauges(state interface{ Snapshot() *domain.Snapshot }) []family {
	// entries calls each on the latest snapshot's subjects of kind k in
	// the range.
	entries := func(k domain.Kind, in names, each func(e *domain.Entry)) {
		for e := range state.Snapshot().Subjects() {
			if e.Kind() == k && in.has(e.Name()) {
				each(e)
			}
		}
	}
	var fs []family
	for k, d := range descsOf {
		kind := domain.Kind(k)
		kinds := []domain.Kind{kind}
		fs = append(fs,
			family{d.up, kinds, func(ch chan<- prometheus.Metric, in names) {
				entries(kind, in, func(e *domain.Entry) {
					switch e.View().Status {
					case domain.StatusUp:
						ch <- prometheus.MustNewConstMetric(d.up, prometheus.GaugeValue, 1, e.Name())
					case domain.StatusDown:
						ch <- prometheus.MustNewConstMetric(d.up, prometheus.GaugeValue, 0, e.Name())
					}
				})
			}},
			family{d.failures, kinds, func(ch chan<- prometheus.Metric, in names) {
				entries(kind, in, func(e *domain.Entry) {
					ch <- prometheus.MustNewConstMetric(d.failures, prometheus.GaugeValue, float64(e.View().ConsecutiveFailures), e.Name())
				})
			}},
			// A series per status, 1 for the one the subject is in (a state
			// set), so that an alert reads as
			// mesh_cluster_peer_status{status="down"} == 1.
			family{d.cluster, kinds, func(ch chan<- prometheus.Metric, in names) {
				for v := range state.Snapshot().Verdicts().All() {
					if v.Subject().Kind != kind || !in.has(v.Name()) {
						continue
					}
					for _, st := range clusterStatuses(kind) {
						value := 0.0
						if v.Status() == st {
							value = 1
						}
						ch <- prometheus.MustNewConstMetric(d.cluster, prometheus.GaugeValue, value, v.Name(), string(st))
					}
				}
			}},
		)
	}
	return append(fs,
		family{certExpiryDesc, []domain.Kind{domain.KindTarget}, func(ch chan<- prometheus.Metric, in names) {
			entries(domain.KindTarget, in, func(e *domain.Entry) {
				if c := e.Cert(); !c.NotAfter.IsZero() {
					ch <- prometheus.MustNewConstMetric(certExpiryDesc, prometheus.GaugeValue, float64(c.NotAfter.Unix()), e.Name())
				}
			})
		}},
		family{maintenanceDesc, []domain.Kind{domain.KindPeer, domain.KindTarget}, func(ch chan<- prometheus.Metric, in names) {
			snap, now := state.Snapshot(), time.Now()
			for e := range snap.Subjects() {
				if !in.has(e.Name()) {
					continue
				}
				if m, ok := snap.Maintenance(e.Name(), now); ok {
					ch <- prometheus.MustNewConstMetric(maintenanceDesc, prometheus.GaugeValue, 1, e.Name(), string(m.Reason))
				}
			}
		}},
	)
}

// probeBuckets are the probe duration histograms' upper bounds:
// Prometheus's default buckets, 5 ms to 10 s.
var probeBuckets = prometheus.DefBuckets

// SubjectStats are one subject's probe counts and round-trip times, written
// by its prober with atomic adds, and its changes of status, added by the
// state owner; read when Prometheus scrapes.
//
// They are kept here rather than in CounterVecs and a HistogramVec because
// with a thousand peers those cost more than the probing they count: each
// series holds its own label pairs and creation timestamp, which was half
// the node's live heap (BENCHMARKS.md), and every probe took a lock and a
// label hash. A series per subject is still made, from these, at each scrape.
type SubjectStats struct {
	ok, failed   atomic.Uint64
	sumMicros    atomic.Uint64
	buckets      []atomic.Uint64 // probes per bucket, not cumulative; the last is +Inf
	toUp, toDown atomic.Uint64
}

// Probe counts one probe; on a nil *SubjectStats it does nothing.
func (s *SubjectStats) Probe(ok bool, rtt time.Duration) {
	if s == nil {
		return
	}
	if ok {
		s.ok.Add(1)
	} else {
		s.failed.Add(1)
	}
	s.sumMicros.Add(uint64(max(rtt, 0).Microseconds()))
	secs := rtt.Seconds()
	i := sort.SearchFloat64s(probeBuckets, secs) // the first bound >= secs
	s.buckets[i].Add(1)
}

// transition counts a change of status to st (up or down: a subject does
// not go back to unknown).
func (s *SubjectStats) transition(st domain.Status) {
	switch st {
	case domain.StatusUp:
		s.toUp.Add(1)
	case domain.StatusDown:
		s.toDown.Add(1)
	}
}

// subjectCounters makes the probe counters, duration histograms and status
// changes' counters of one kind of subject from each one's SubjectStats.
type subjectCounters struct {
	kind                         domain.Kind
	mu                           sync.Mutex
	byName                       map[string]*SubjectStats
	total, duration, transitions *prometheus.Desc
}

func newSubjectCounters(k domain.Kind, d subjectDescs) *subjectCounters {
	return &subjectCounters{kind: k, byName: map[string]*SubjectStats{}, total: d.probes, duration: d.duration, transitions: d.transitions}
}

func (c *subjectCounters) forName(name string) *SubjectStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.byName[name]
	if !ok {
		s = &SubjectStats{buckets: make([]atomic.Uint64, len(probeBuckets)+1)}
		c.byName[name] = s
	}
	return s
}

// families are the probe counters' family, the duration histograms' and
// the status changes'.
func (c *subjectCounters) families() []family {
	kinds := []domain.Kind{c.kind}
	return []family{{c.total, kinds, c.collectTotals}, {c.duration, kinds, c.collectDurations}, {c.transitions, kinds, c.collectTransitions}}
}

// stats returns the SubjectStats of the subjects in the range by name, as
// they are now.
func (c *subjectCounters) stats(in names) map[string]*SubjectStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]*SubjectStats{}
	for name, s := range c.byName {
		if in.has(name) {
			out[name] = s
		}
	}
	return out
}

func (c *subjectCounters) collectTotals(ch chan<- prometheus.Metric, in names) {
	for name, s := range c.stats(in) {
		ch <- prometheus.MustNewConstMetric(c.total, prometheus.CounterValue, float64(s.ok.Load()), name, "ok")
		ch <- prometheus.MustNewConstMetric(c.total, prometheus.CounterValue, float64(s.failed.Load()), name, "failed")
	}
}

func (c *subjectCounters) collectTransitions(ch chan<- prometheus.Metric, in names) {
	for name, s := range c.stats(in) {
		ch <- prometheus.MustNewConstMetric(c.transitions, prometheus.CounterValue, float64(s.toUp.Load()), name, string(domain.StatusUp))
		ch <- prometheus.MustNewConstMetric(c.transitions, prometheus.CounterValue, float64(s.toDown.Load()), name, string(domain.StatusDown))
	}
}

func (c *subjectCounters) collectDurations(ch chan<- prometheus.Metric, in names) {
	for name, s := range c.stats(in) {
		cumulative := make(map[float64]uint64, len(probeBuckets))
		var count uint64
		for i, bound := range probeBuckets {
			count += s.buckets[i].Load()
			cumulative[bound] = count
		}
		count += s.buckets[len(probeBuckets)].Load()
		// Read one after another while probes go on, the counts may be a probe
		// apart; Prometheus takes that as it takes any scrape mid-stream.
		ch <- prometheus.MustNewConstHistogram(c.duration, count, float64(s.sumMicros.Load())/1e6, cumulative, name)
	}
}
