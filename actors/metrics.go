package actors

import (
	"iter"
	"maps"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/dupunkto/mesh/actors/domain"
	"github.com/dupunkto/mesh/config"
)

// Results of a webhook delivery, as the "result" label of its counter
// (relays' results are domain's). Labels are fixed words or peer names,
// never a URL or a secret.
const (
	WebhookDelivered = "delivered"
	WebhookRetried   = "retried" // a failed attempt that will be tried again
	WebhookGaveUp    = "gave_up" // dropped after retrying for too long, or refused for good
	WebhookDropped   = "dropped" // the queue was full
)

// Why a message was not sent, as the "reason" label of the suppressed
// messages' counter (cluster alerts).
const (
	// SuppressedElsewhere: another node announced the outage and sends its
	// messages.
	SuppressedElsewhere = "announced_elsewhere"
	// SuppressedUnconfirmed: this node sees the peer down, the cluster does
	// not (yet): no down message until it does.
	SuppressedUnconfirmed = "unconfirmed"
	// SuppressedOver: the outage ended before this node's turn to announce
	// it came, and nobody had.
	SuppressedOver = "over_before_turn"
	// SuppressedIsolated: this node had lost its own network, so its view
	// said nothing of the peer; held while it lasted, and dropped after
	// when the outage was over or the cluster never confirmed it.
	SuppressedIsolated = "isolated"
)

func suppressedReasons() []string {
	return []string{SuppressedElsewhere, SuppressedUnconfirmed, SuppressedOver, SuppressedIsolated}
}

// mailboxes are the names of the bounded mailboxes whose drops are counted.
func mailboxes() []string { return []string{"notifier", "webhook"} }

// Metrics is what one node counts for Prometheus, in a registry of its own
// (not the global one) so that several nodes in one process, as in the demo
// and the tests, keep apart. A nil *Metrics counts nothing, so parts built
// without one (in tests) need no stand-in.
type Metrics struct {
	registry      *prometheus.Registry
	probes        *probeCollector
	targetProbes  *probeCollector
	transitions   *prometheus.CounterVec
	targetChanges *prometheus.CounterVec
	relaySent     *prometheus.CounterVec
	relayReceived *prometheus.CounterVec
	webhook       *prometheus.CounterVec
	dropped       *prometheus.CounterVec
	sent          *prometheus.CounterVec
	suppressed    *prometheus.CounterVec
	isolated      prometheus.Gauge
	alertmanager  *prometheus.CounterVec
	info          *prometheus.GaugeVec
	httpBytes     *prometheus.CounterVec
	relayBytes    *prometheus.CounterVec
}

// NewMetrics returns the metrics of a node that probes peers and targets:
// its counters and the Go and process collectors. The peers' and targets'
// gauges come with Handler.
func NewMetrics(peers []config.Peer, targets []config.Target) *Metrics {
	m := &Metrics{
		registry:     prometheus.NewRegistry(),
		probes:       &probeCollector{byPeer: map[string]*ProbeStats{}, total: probesDesc, duration: probeDurationDesc},
		targetProbes: &probeCollector{byPeer: map[string]*ProbeStats{}, total: targetProbesDesc, duration: targetProbeDurationDesc},
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mesh_transitions_total", Help: "Changes of a peer's status, by the status it changed to.",
		}, []string{"peer", "status"}),
		targetChanges: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mesh_target_transitions_total", Help: "Changes of a target's status as this node sees it, by the status it changed to.",
		}, []string{"target", "status"}),
		relaySent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mesh_relay_sent_total", Help: "Relays this node posted to its peers, by result.",
		}, []string{"result"}),
		relayReceived: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mesh_relay_received_total", Help: "Relays posted to this node, by result.",
		}, []string{"result"}),
		webhook: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mesh_webhook_deliveries_total", Help: "Delivery attempts to the chat channels (WEBHOOK_URL is channel webhook; each of NOTIFY_URLS its scheme), by channel and result.",
		}, []string{"channel", "result"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mesh_mailbox_dropped_total", Help: "Items a full mailbox dropped, by mailbox (notifier: transitions; webhook: messages).",
		}, []string{"mailbox"}),
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mesh_messages_sent_total", Help: "Chat messages this node decided to send, by kind (delivery is mesh_webhook_deliveries_total).",
		}, []string{"kind"}),
		suppressed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mesh_messages_suppressed_total", Help: "Chat messages this node did not send, by kind and reason (cluster alerts).",
		}, []string{"kind", "reason"}),
		isolated: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "mesh_isolated", Help: "1 while this node has lost its own network (the isolation guard), else 0.",
		}),
		alertmanager: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mesh_alertmanager_posts_total", Help: "Posts of this node's alerts to Alertmanager (ALERTMANAGER_URL), by its host and result (ok or failed).",
		}, []string{"alertmanager", "result"}),
		httpBytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mesh_http_response_bytes_total", Help: "Bytes of response bodies this node sent, as they went on the wire (gzipped when they were), by route.",
		}, []string{"route"}),
		relayBytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mesh_relay_bytes_total", Help: "Bytes of relay bodies on the wire (gzipped when the peer takes gzip), sent to peers and received from them.",
		}, []string{"direction"}),
		info: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "mesh_node_info", Help: "Always 1: the node's name, its cluster's and its version, to name the instance Prometheus scrapes.",
		}, []string{"node", "cluster", "version"}),
	}
	m.registry.MustRegister(
		m.probes, m.targetProbes, m.transitions, m.targetChanges, m.relaySent, m.relayReceived, m.webhook, m.dropped, m.sent, m.suppressed, m.isolated,
		m.alertmanager, m.info, m.httpBytes, m.relayBytes,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	// Every series a dashboard or an alert expects exists from the start, at
	// zero, rather than appearing with its first event.
	for _, p := range peers {
		m.ForPeer(p.Name)
		m.transitions.WithLabelValues(p.Name, string(domain.StatusUp))
		m.transitions.WithLabelValues(p.Name, string(domain.StatusDown))
	}
	for _, t := range targets {
		m.ForTarget(t.Name)
		m.targetChanges.WithLabelValues(t.Name, string(domain.StatusUp))
		m.targetChanges.WithLabelValues(t.Name, string(domain.StatusDown))
	}
	m.relayBytes.WithLabelValues("sent")
	m.relayBytes.WithLabelValues("received")
	for _, r := range domain.RelaySentResults() {
		m.relaySent.WithLabelValues(r)
	}
	for _, r := range domain.RelayReceivedResults() {
		m.relayReceived.WithLabelValues(r)
	}
	for _, name := range mailboxes() {
		m.dropped.WithLabelValues(name)
	}
	for _, k := range messageKinds {
		m.sent.WithLabelValues(k.String())
		for _, r := range suppressedReasons() {
			m.suppressed.WithLabelValues(k.String(), r)
		}
	}
	return m
}

// AddRoutes makes the response bytes' series of each route, at zero.
func (m *Metrics) AddRoutes(routes []string) {
	if m != nil {
		for _, r := range routes {
			m.httpBytes.WithLabelValues(r)
		}
	}
}

// ResponseBytes counts the body bytes of one response by its route.
func (m *Metrics) ResponseBytes(route string, n int) {
	if m != nil {
		m.httpBytes.WithLabelValues(route).Add(float64(n))
	}
}

// SetNode sets mesh_node_info.
func (m *Metrics) SetNode(node, cluster, version string) {
	if m != nil {
		m.info.WithLabelValues(node, cluster, version).Set(1)
	}
}

// AddAlertmanager makes an Alertmanager's post series, at zero.
func (m *Metrics) AddAlertmanager(host string) {
	if m != nil {
		m.alertmanager.WithLabelValues(host, "ok")
		m.alertmanager.WithLabelValues(host, "failed")
	}
}

// AlertmanagerPost counts one post to an Alertmanager.
func (m *Metrics) AlertmanagerPost(host string, ok bool) {
	if m == nil {
		return
	}
	result := "failed"
	if ok {
		result = "ok"
	}
	m.alertmanager.WithLabelValues(host, result).Inc()
}

// SetIsolated sets mesh_isolated.
func (m *Metrics) SetIsolated(isolated bool) {
	if m == nil {
		return
	}
	v := 0.0
	if isolated {
		v = 1
	}
	m.isolated.Set(v)
}

// MessageSent counts a message handed to the webhook.
func (m *Metrics) MessageSent(kind MessageKind) {
	if m != nil {
		m.sent.WithLabelValues(kind.String()).Inc()
	}
}

// MessageSuppressed counts a message this node did not send, and why.
func (m *Metrics) MessageSuppressed(kind MessageKind, reason string) {
	m.MessagesSuppressed(kind, reason, 1)
}

// MessagesSuppressed counts n messages of one kind not sent for one reason.
func (m *Metrics) MessagesSuppressed(kind MessageKind, reason string, n int) {
	if m != nil {
		m.suppressed.WithLabelValues(kind.String(), reason).Add(float64(n))
	}
}

// Handler serves GET /metrics: the node's counters, and the peers' gauges
// read from state's latest snapshot at each scrape, so that they cannot
// disagree with /state.
func (m *Metrics) Handler(state interface{ Snapshot() *domain.Snapshot }) http.Handler {
	gauges := prometheus.NewRegistry()
	gauges.MustRegister(peerGauges{state: state})
	return promhttp.HandlerFor(prometheus.Gatherers{m.registry, gauges}, promhttp.HandlerOpts{})
}

// ForPeer returns peer's probe statistics, made on first use; from a nil
// *Metrics, nil, which counts nothing.
func (m *Metrics) ForPeer(peer string) *ProbeStats {
	if m == nil {
		return nil
	}
	return m.probes.forPeer(peer)
}

// ForTarget returns a target's probe statistics, as ForPeer a peer's.
func (m *Metrics) ForTarget(target string) *ProbeStats {
	if m == nil {
		return nil
	}
	return m.targetProbes.forPeer(target)
}

// Transition counts a change of status of a peer or a target; the state
// owner calls it.
func (m *Metrics) Transition(t domain.Transition) {
	if m == nil {
		return
	}
	if config.IsTargetName(t.Peer) {
		m.targetChanges.WithLabelValues(t.Peer, string(t.To)).Inc()
		return
	}
	m.transitions.WithLabelValues(t.Peer, string(t.To)).Inc()
}

// RelaySent counts one relay post by its result.
func (m *Metrics) RelaySent(result string) {
	if m != nil {
		m.relaySent.WithLabelValues(result).Inc()
	}
}

// RelayBytes counts the bytes of relay bodies on the wire: "sent" or
// "received".
func (m *Metrics) RelayBytes(direction string, n int) {
	if m != nil {
		m.relayBytes.WithLabelValues(direction).Add(float64(n))
	}
}

// RelayReceived counts one relay posted to this node by its result.
func (m *Metrics) RelayReceived(result string) {
	if m != nil {
		m.relayReceived.WithLabelValues(result).Inc()
	}
}

// AddChannel makes a channel's delivery series, at zero, as it is built.
func (m *Metrics) AddChannel(channel string) {
	if m == nil {
		return
	}
	for _, r := range []string{WebhookDelivered, WebhookRetried, WebhookGaveUp, WebhookDropped} {
		m.webhook.WithLabelValues(channel, r)
	}
}

// WebhookDelivery counts one delivery attempt (or drop) to a channel by
// its result.
func (m *Metrics) WebhookDelivery(channel, result string) {
	if m != nil {
		m.webhook.WithLabelValues(channel, result).Inc()
	}
}

// MailboxDropped counts one item a full mailbox dropped.
func (m *Metrics) MailboxDropped(mailbox string) {
	if m != nil {
		m.dropped.WithLabelValues(mailbox).Inc()
	}
}

// peerGauges reports each peer's status and failure count as they are in
// the latest snapshot when Prometheus scrapes, so that the gauges cannot
// disagree with /state: the snapshot is their only source.
type peerGauges struct {
	state interface{ Snapshot() *domain.Snapshot }
}

var (
	peerUpDesc = prometheus.NewDesc("mesh_peer_up",
		"1 if this node sees the peer up, 0 if down; absent while unknown.", []string{"peer"}, nil)
	peerFailuresDesc = prometheus.NewDesc("mesh_peer_consecutive_failures",
		"Failed probes of the peer since its last success.", []string{"peer"}, nil)
	clusterStatusDesc = prometheus.NewDesc("mesh_cluster_peer_status",
		"The cluster's verdict on the peer as this node reaches it: 1 for the status it is in, 0 for the others.", []string{"peer", "status"}, nil)
	targetUpDesc = prometheus.NewDesc("mesh_target_up",
		"1 if this node sees the target up, 0 if down; absent while unknown.", []string{"target"}, nil)
	targetFailuresDesc = prometheus.NewDesc("mesh_target_consecutive_failures",
		"Failed probes of the target since its last success.", []string{"target"}, nil)
	clusterTargetDesc = prometheus.NewDesc("mesh_cluster_target_status",
		"The cluster's verdict on the target as this node reaches it: 1 for the status it is in, 0 for the others.", []string{"target", "status"}, nil)
	certExpiryDesc = prometheus.NewDesc("mesh_target_cert_expiry_seconds",
		"When the certificate an HTTPS target last showed this node expires, in Unix seconds (as blackbox_exporter's probe_ssl_earliest_cert_expiry); absent before the first handshake.", []string{"target"}, nil)
)

// clusterStatuses are the values of mesh_cluster_peer_status's status label.
func clusterStatuses() []domain.ClusterStatus {
	return []domain.ClusterStatus{domain.ClusterUp, domain.ClusterPartial, domain.ClusterDown}
}

func (g peerGauges) Describe(ch chan<- *prometheus.Desc) {
	ch <- peerUpDesc
	ch <- peerFailuresDesc
	ch <- clusterStatusDesc
	ch <- targetUpDesc
	ch <- targetFailuresDesc
	ch <- clusterTargetDesc
	ch <- certExpiryDesc
}

func (g peerGauges) Collect(ch chan<- prometheus.Metric) {
	snap := g.state.Snapshot()
	views := func(entries iter.Seq[*domain.PeerEntry], up, failures *prometheus.Desc) {
		for e := range entries {
			v := e.View()
			switch v.Status {
			case domain.StatusUp:
				ch <- prometheus.MustNewConstMetric(up, prometheus.GaugeValue, 1, e.Name())
			case domain.StatusDown:
				ch <- prometheus.MustNewConstMetric(up, prometheus.GaugeValue, 0, e.Name())
			}
			ch <- prometheus.MustNewConstMetric(failures, prometheus.GaugeValue, float64(v.ConsecutiveFailures), e.Name())
		}
	}
	views(snap.Peers(), peerUpDesc, peerFailuresDesc)
	views(snap.Targets(), targetUpDesc, targetFailuresDesc)
	for e := range snap.Targets() {
		if c := e.Cert(); !c.NotAfter.IsZero() {
			ch <- prometheus.MustNewConstMetric(certExpiryDesc, prometheus.GaugeValue, float64(c.NotAfter.Unix()), e.Name())
		}
	}
	// A series per status, 1 for the one the peer is in (a state set), so
	// that an alert reads as mesh_cluster_peer_status{status="down"} == 1.
	for v := range snap.Verdicts().All() {
		desc := clusterStatusDesc
		if v.Target() {
			desc = clusterTargetDesc
		}
		for _, st := range clusterStatuses() {
			value := 0.0
			if v.Status() == st {
				value = 1
			}
			ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, value, v.Peer(), string(st))
		}
	}
}

// probeBuckets are mesh_probe_duration_seconds's upper bounds: Prometheus's
// default buckets, 5 ms to 10 s.
var probeBuckets = prometheus.DefBuckets

// ProbeStats are one peer's probe counts and round-trip times, written by
// its prober with atomic adds and read when Prometheus scrapes.
//
// They are kept here rather than in a CounterVec and a HistogramVec because
// with a thousand peers those cost more than the probing they count: each
// series holds its own label pairs and creation timestamp, which was half
// the node's live heap (BENCHMARKS.md), and every probe took a lock and a
// label hash. A series per peer is still made, from these, at each scrape.
type ProbeStats struct {
	ok, failed atomic.Uint64
	sumMicros  atomic.Uint64
	buckets    []atomic.Uint64 // probes per bucket, not cumulative; the last is +Inf
}

// Probe counts one probe; on a nil *ProbeStats it does nothing.
func (s *ProbeStats) Probe(ok bool, rtt time.Duration) {
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

// probeCollector makes mesh_probes_total and mesh_probe_duration_seconds
// from every peer's ProbeStats, or the mesh_target_ ones from every
// target's.
type probeCollector struct {
	mu              sync.Mutex
	byPeer          map[string]*ProbeStats
	total, duration *prometheus.Desc
}

var (
	probesDesc = prometheus.NewDesc("mesh_probes_total",
		"Probes of a peer, by result (ok or failed).", []string{"peer", "result"}, nil)
	probeDurationDesc = prometheus.NewDesc("mesh_probe_duration_seconds",
		"Round-trip time of a probe, successful or not.", []string{"peer"}, nil)
	targetProbesDesc = prometheus.NewDesc("mesh_target_probes_total",
		"Probes of a target, by result (ok or failed).", []string{"target", "result"}, nil)
	targetProbeDurationDesc = prometheus.NewDesc("mesh_target_probe_duration_seconds",
		"Time a target's probe took, successful or not (connect, TLS, answer and body for HTTP; connect for TCP).", []string{"target"}, nil)
)

func (c *probeCollector) forPeer(peer string) *ProbeStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.byPeer[peer]
	if !ok {
		s = &ProbeStats{buckets: make([]atomic.Uint64, len(probeBuckets)+1)}
		c.byPeer[peer] = s
	}
	return s
}

func (c *probeCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.total
	ch <- c.duration
}

func (c *probeCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	peers := maps.Clone(c.byPeer)
	c.mu.Unlock()
	for peer, s := range peers {
		ch <- prometheus.MustNewConstMetric(c.total, prometheus.CounterValue, float64(s.ok.Load()), peer, "ok")
		ch <- prometheus.MustNewConstMetric(c.total, prometheus.CounterValue, float64(s.failed.Load()), peer, "failed")
		cumulative := make(map[float64]uint64, len(probeBuckets))
		var count uint64
		for i, bound := range probeBuckets {
			count += s.buckets[i].Load()
			cumulative[bound] = count
		}
		count += s.buckets[len(probeBuckets)].Load()
		// Read one after another while probes go on, the counts may be a probe
		// apart; Prometheus takes that as it takes any scrape mid-stream.
		ch <- prometheus.MustNewConstHistogram(c.duration, count, float64(s.sumMicros.Load())/1e6, cumulative, peer)
	}
}
