package actors

import (
	"slices"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/dupunkto/mesh/actors/domain"
)

// Results of a channel's delivery attempt, as the "result" label of its
// counter (relays' results are domain's). Labels are fixed words or names,
// never a URL or a secret.
const (
	DeliveryDelivered = "delivered"
	DeliveryRetried   = "retried"   // a failed attempt that will be tried again
	DeliveryTimedOut  = "timed_out" // an attempt that ran out of time; tried again, with longer
	DeliveryGaveUp    = "gave_up"   // dropped after retrying for too long, or refused for good
	DeliveryDropped   = "dropped"   // the queue was full
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
	// SuppressedLeave: the peer stopped on purpose and is within
	// LEAVE_GRACE (domain.MaintenanceLeave).
	SuppressedLeave = string(domain.MaintenanceLeave)
	// SuppressedSilence: an operator silenced the subject (mesh silence).
	SuppressedSilence = string(domain.MaintenanceSilence)
	// SuppressedWindow: the subject was inside its maintenance window.
	SuppressedWindow = string(domain.MaintenanceWindow)
)

func suppressedReasons() []string {
	return []string{SuppressedElsewhere, SuppressedUnconfirmed, SuppressedOver, SuppressedIsolated, SuppressedLeave, SuppressedSilence, SuppressedWindow}
}

// Metrics is what one node counts for Prometheus, in a registry of its own
// (not the global one) so that several nodes in one process, as in the demo
// and the tests, keep apart. A nil *Metrics counts nothing, so parts built
// without one (in tests) need no stand-in.
type Metrics struct {
	registry *prometheus.Registry
	// subjects are by domain.Kind: peers' and targets' series have names of
	// their own (see descsOf).
	subjects      [len(descsOf)]*subjectCounters
	names         [len(descsOf)][]string // the subjects' names by kind, sorted
	relaySent     *prometheus.CounterVec
	relayReceived *prometheus.CounterVec
	deliveries    *prometheus.CounterVec
	dropped       *prometheus.CounterVec
	sent          *prometheus.CounterVec
	suppressed    *prometheus.CounterVec
	isolated      prometheus.Gauge
	alertmanager  *prometheus.CounterVec
	info          *prometheus.GaugeVec
	httpBytes     *prometheus.CounterVec
	relayBytes    *prometheus.CounterVec
}

// NewMetrics returns the metrics of a node that watches subjects (peers
// and targets): its counters and the Go and process collectors. The
// subjects' gauges come with Gatherers.
func NewMetrics(subjects []domain.Subject) *Metrics {
	m := &Metrics{
		registry: prometheus.NewRegistry(),
		relaySent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mesh_relay_sent_total", Help: "Relays this node posted to its peers, by result.",
		}, []string{"result"}),
		relayReceived: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mesh_relay_received_total", Help: "Relays posted to this node, by result.",
		}, []string{"result"}),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mesh_webhook_deliveries_total", Help: "Delivery attempts to the chat channels (WEBHOOK_URL is channel webhook; each of NOTIFY_URLS its scheme), by channel and result.",
		}, []string{"channel", "result"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mesh_mailbox_dropped_total", Help: "Messages a channel's full queue dropped, by channel (webhook: WEBHOOK_URL's; each of NOTIFY_URLS by its scheme).",
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
	for k, d := range descsOf {
		m.subjects[k] = newSubjectCounters(domain.Kind(k), d)
	}
	m.registry.MustRegister(
		m.relaySent, m.relayReceived, m.deliveries, m.dropped, m.sent, m.suppressed, m.isolated,
		m.alertmanager, m.info, m.httpBytes, m.relayBytes,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	// Every series a dashboard or an alert expects exists from the start, at
	// zero, rather than appearing with its first event.
	for _, s := range subjects {
		m.ForSubject(s)
		m.names[s.Kind] = append(m.names[s.Kind], s.Name)
	}
	for _, n := range m.names {
		slices.Sort(n)
	}
	m.relayBytes.WithLabelValues("sent")
	m.relayBytes.WithLabelValues("received")
	for _, r := range domain.RelaySentResults() {
		m.relaySent.WithLabelValues(r)
	}
	for _, r := range domain.RelayReceivedResults() {
		m.relayReceived.WithLabelValues(r)
	}
	for _, k := range domain.MessageKinds() {
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

// MessageSent counts a message handed to the channels.
func (m *Metrics) MessageSent(kind domain.MessageKind) {
	if m != nil {
		m.sent.WithLabelValues(kind.String()).Inc()
	}
}

// MessageSuppressed counts a message this node did not send, and why.
func (m *Metrics) MessageSuppressed(kind domain.MessageKind, reason string) {
	m.MessagesSuppressed(kind, reason, 1)
}

// MessagesSuppressed counts n messages of one kind not sent for one reason.
func (m *Metrics) MessagesSuppressed(kind domain.MessageKind, reason string, n int) {
	if m != nil {
		m.suppressed.WithLabelValues(kind.String(), reason).Add(float64(n))
	}
}

// Gatherers are what GET /metrics serves, to be gathered and written one
// after another: the node's own series, then each family that has a series
// per subject in parts of partSize subjects, in name order, the subjects'
// gauges read from state's latest snapshot so that they cannot disagree
// with /state. httpapi.MetricsHandler writes a family's parts as one.
//
// In parts because of what a scrape holds: client_golang's handler gathers
// every family into memory before it writes any, and at 1000 peers (24,000
// series, 1.6 MB of text) that held six times the text, the highest the
// node's memory went; gathered a family at a time, the largest (the
// cluster status, four series a peer) still took 2.6 MB (BENCHMARKS.md).
// A part of a hundred subjects takes a tenth of that.
func (m *Metrics) Gatherers(state interface{ Snapshot() *domain.Snapshot }) []prometheus.Gatherer {
	gatherers := []prometheus.Gatherer{m.registry}
	families := subjectGauges(state)
	for _, c := range m.subjects {
		families = append(families, c.families()...)
	}
	for _, f := range families {
		var of []string
		for _, k := range f.kinds {
			of = append(of, m.names[k]...)
		}
		slices.Sort(of)
		for _, in := range rangesOf(of, partSize) {
			r := prometheus.NewRegistry()
			r.MustRegister(part{f, in})
			gatherers = append(gatherers, r)
		}
	}
	return gatherers
}

// partSize is how many subjects' series of a family a scrape gathers at
// once.
const partSize = 100

// ForSubject returns a subject's statistics, made on first use; from a nil
// *Metrics, nil, which counts nothing.
func (m *Metrics) ForSubject(s domain.Subject) *SubjectStats {
	if m == nil {
		return nil
	}
	return m.subjects[s.Kind].forName(s.Name)
}

// Transition counts a change of status of a peer or a target; the state
// owner calls it.
func (m *Metrics) Transition(t domain.Transition) {
	if m == nil {
		return
	}
	m.ForSubject(t.Subject).transition(t.To)
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

// AddChannel makes a channel's delivery and drop series, at zero, as it
// is built.
func (m *Metrics) AddChannel(channel string) {
	if m == nil {
		return
	}
	for _, r := range []string{DeliveryDelivered, DeliveryRetried, DeliveryTimedOut, DeliveryGaveUp, DeliveryDropped} {
		m.deliveries.WithLabelValues(channel, r)
	}
	m.dropped.WithLabelValues(channel)
}

// ChannelDelivery counts one delivery attempt (or drop) of a channel by
// its result.
func (m *Metrics) ChannelDelivery(channel, result string) {
	if m != nil {
		m.deliveries.WithLabelValues(channel, result).Inc()
	}
}

// MailboxDropped counts one message a channel's full queue dropped.
func (m *Metrics) MailboxDropped(mailbox string) {
	if m != nil {
		m.dropped.WithLabelValues(mailbox).Inc()
	}
}
