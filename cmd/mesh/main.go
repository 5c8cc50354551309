// Command mesh runs one node of a Mesh cluster: it probes its peers, keeps
// its view of who is up, and serves that view over HTTP.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"runtime/debug"
	"slices"
	"syscall"
	"time"

	"github.com/rs/zerolog"
	"github.com/thejerf/suture/v4"
	// The container image is FROM scratch: no /etc/ssl. These roots are
	// used only when the system has none, so that HTTPS webhooks work there.
	_ "golang.org/x/crypto/x509roots/fallback"

	"github.com/dupunkto/mesh/actors"
	"github.com/dupunkto/mesh/actors/domain"
	"github.com/dupunkto/mesh/actors/fatal"
	"github.com/dupunkto/mesh/config"
	"github.com/dupunkto/mesh/deploy/aggregator"
	"github.com/dupunkto/mesh/httpapi"
)

// version is the version stamped at build time: go build -ldflags
// "-X main.version=v1.2.3". The linker sets it; nothing else writes it.
var version = "dev"

// buildVersion is the stamped version or, unstamped, what the Go toolchain
// recorded from the module or the Git checkout (a pseudo-version such as
// v0.0.0-20261124183000-45b037d1a2b3).
func buildVersion() string {
	if version != "dev" {
		return version
	}
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" && info.Main.Version != "(devel)" {
		return info.Main.Version
	}
	return version
}

// Exit codes.
const (
	exitOK     = 0
	exitFailed = 1
	exitConfig = 2
)

// defaultGCPercent is the garbage collector's headroom unless GOGC says
// otherwise. A node's live heap is small and steady while each probe makes
// short-lived garbage; Go's default of 100 lets the heap grow to twice the
// live heap between collections, which at a thousand peers was a quarter of
// the node's memory. 50 costs about as little CPU (BENCHMARKS.md).
const defaultGCPercent = 50

func main() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGCPercent)
	}
	// Shoutrrr's services (NOTIFY_URLS) post with http.DefaultClient, which
	// never times out: a chat service that hangs would hold a goroutine per
	// attempt for good. Mesh's own requests use clients of their own.
	http.DefaultClient.Timeout = 2 * actors.DefaultWebhookTimeout
	os.Exit(run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

// run is main without the process: it returns the exit code.
func run(args []string, env config.Env, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "demo":
			return runDemo(args[1:], stdout, stderr)
		case "healthcheck":
			return runHealthcheck(args[1:], env, stdout, stderr)
		}
	}
	cfg, err := config.Load(args, env, os.Hostname, stdout)
	switch {
	case errors.Is(err, config.ErrHelp):
		return exitOK
	case errors.Is(err, config.ErrVersion):
		fmt.Fprintln(stdout, "mesh", buildVersion())
		return exitOK
	case err != nil:
		fmt.Fprintf(stderr, "mesh: %v\n", err)
		return exitConfig
	}
	if cfg.StateFile != "" {
		if err := actors.CheckStateFile(cfg.StateFile); err != nil {
			fmt.Fprintf(stderr, "mesh: invalid STATE_FILE=%q: %v\n", cfg.StateFile, err)
			return exitConfig
		}
	}
	log := newLogger(stdout, cfg)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	n := newNode(cfg, log, nil)
	targets := make([]string, len(cfg.Targets))
	for i, t := range cfg.Targets {
		targets[i] = t.Name // never the URL probed, which may hold a password
	}
	log.Info().Str("version", buildVersion()).Str("addr", cfg.ListenAddr).Strs("peers", peerNames(cfg)).Strs("targets", targets).
		Str("poll_interval", cfg.PollInterval.String()).Int("failure_threshold", cfg.FailureThreshold).
		Bool("relay", cfg.RelaySecret != "").Str("alerts", cfg.Alerts).Str("url", webhookHost(cfg)).
		Int("notify_urls", len(cfg.NotifyURLs)).Int("alertmanagers", len(cfg.AlertmanagerURLs)).Str("cluster", cfg.Cluster).Msg("mesh starting")
	for _, w := range cfg.Warnings() {
		log.Warn().Msg(w)
	}
	err = n.Serve(ctx)
	if code, ok := fatal.ExitCode(err); ok {
		log.Error().Err(err).Msg("mesh stopped")
		return code
	}
	if ctx.Err() == nil {
		log.Error().Err(err).Msg("mesh stopped unexpectedly")
		return exitFailed
	}
	log.Info().Msg("mesh stopped")
	return exitOK
}

// node is one Mesh node: its supervisor tree, and its HTTP server, which
// the demo waits for before it points people at the page.
type node struct {
	*suture.Supervisor
	server *httpapi.Server
}

// newNode builds the supervisor tree of DESIGN.md, each actor wired to
// the others as it is built. cut, nil but in `mesh demo`, is asked before
// each connection the node opens (actors.Cut):
//
//	mesh (root)
//	├── state-owner
//	├── probe-scheduler (each probe in a goroutine of its own)
//	├── relay-sender (only when RELAY_SECRET is set)
//	├── notifications (only with WEBHOOK_URL, NOTIFY_URLS or ALERTMANAGER_URL):
//	│     notifier (of ALERTS's mode), cert-watch (with an https:// target),
//	│     channel(name) for each chat channel, alertmanager(host) for each
//	│     Alertmanager
//	├── isolation-guard (only with two peers or more)
//	├── state-file (only when STATE_FILE is set)
//	├── http-server
//	└── debug-server (only when DEBUG_ADDR is set)
func newNode(cfg config.Config, log zerolog.Logger, cut actors.Cut) *node {
	boot, userAgent := time.Now(), "mesh/"+buildVersion()
	saved := actors.LoadStateFile(cfg.StateFile, boot, log) // nil without one
	subjects := config.Subjects(cfg.Peers, cfg.Targets)
	metrics := actors.NewMetrics(subjects)
	metrics.SetNode(cfg.Node, cfg.Cluster, buildVersion())
	metrics.AddRoutes(httpapi.Routes())
	notifying := cfg.WebhookURL != "" || len(cfg.NotifyURLs) > 0 || len(cfg.AlertmanagerURLs) > 0
	root := suture.New("mesh", supervisorSpec(log))

	// What the owner tells others goes through these, made first so that the
	// owner is built with them: a wake-up per complete round (relay sender),
	// one per status change (state file), and the notifier's: an inbox of
	// transitions in node mode, a wake-up per change of the verdicts or the
	// relays in cluster mode (nil, which takes nothing, without notifications).
	rounds, changes := actors.NewSignal(), actors.NewSignal()
	var inbox *actors.Inbox
	var clusterChanges *actors.Signal
	if notifying {
		clusterChanges = actors.NewSignal() // the verdicts, or the isolation, changed
		if cfg.Alerts == config.AlertsNode {
			inbox = actors.NewInbox(len(cfg.Peers), metrics, log)
		}
	}
	owner := actors.NewOwner(actors.OwnerConfig{Node: cfg.Node, Subjects: subjects, Threshold: cfg.FailureThreshold,
		SuccessThreshold: cfg.SuccessThreshold, Cluster: clusterRule(cfg), Boot: boot, Saved: saved,
		Transitions: inbox, StatusChanged: changes, RoundDone: rounds, ClusterChanged: clusterChanges, Metrics: metrics, Log: log})
	root.Add(owner)

	// The notifier, the chat channels it hands its messages to, and the
	// Alertmanagers that take its alerts; what they keep goes in the state
	// file, and the cluster notifier's announcements in the relays too.
	var notifier *actors.Notifier
	var clusterNotifier *actors.ClusterNotifier
	var certWatch *actors.CertWatch
	var channels actors.Channels
	if notifying {
		notifications := suture.New("notifications", supervisorSpec(log))
		channels = newChannels(cfg, saved, cut, metrics, log)
		var alerts actors.AlertSource = actors.NodeAlerts{State: owner}
		if cfg.Alerts == config.AlertsNode {
			notifier = actors.NewNotifier(actors.NotifierConfig{Followups: cfg.FollowupIntervals, Inbox: inbox, Out: channels,
				Outages: saved.Outages(subjects), Now: boot, State: owner, Changes: clusterChanges, Settle: clusterRule(cfg).Fresh,
				Metrics: metrics, Log: log})
			notifications.Add(notifier)
		} else {
			clusterNotifier = actors.NewClusterNotifier(clusterNotifierConfig(cfg, owner, clusterChanges, rounds, channels,
				saved.Announcements(subjects), boot, metrics, log))
			notifications.Add(clusterNotifier)
			alerts = clusterNotifier
		}
		if slices.ContainsFunc(cfg.Targets, config.Target.HTTPS) {
			certWatch = actors.NewCertWatch(actors.CertWatchConfig{Node: cfg.Node, Warn: cfg.CertWarn, Every: cfg.PollInterval,
				Cluster: cfg.Alerts == config.AlertsCluster, Quiet: clusterRule(cfg).Fresh, State: owner, Out: channels,
				Saved: saved.CertWarned(), Now: boot, Metrics: metrics, Log: log})
			notifications.Add(certWatch)
		}
		for _, c := range channels {
			notifications.Add(c)
		}
		for _, u := range cfg.AlertmanagerURLs {
			notifications.Add(actors.NewAlertmanager(actors.AlertmanagerConfig{URL: u, Cluster: cfg.Cluster,
				GeneratorURL: generatorURL(cfg), Source: alerts, Every: cfg.PollInterval, Timeout: cfg.ProbeTimeout, Cut: cut,
				Metrics: metrics, Log: log}))
		}
		root.Add(notifications)
	}

	root.Add(actors.NewProbers(actors.ProbersConfig{Peers: cfg.Peers, Targets: cfg.Targets, Interval: cfg.PollInterval,
		Timeout: cfg.ProbeTimeout, UserAgent: userAgent, Cut: cut, Owner: owner, Metrics: metrics, Log: log}))

	if cfg.RelaySecret != "" {
		root.Add(actors.NewRelaySender(actors.RelaySenderConfig{Secret: cfg.RelaySecret, Peers: cfg.Peers, Timeout: cfg.ProbeTimeout,
			Rounds: rounds, State: owner, Announcements: clusterNotifier, UserAgent: userAgent, Cut: cut, Metrics: metrics, Log: log}))
	}

	if len(cfg.Peers) >= 2 { // with fewer than three nodes, no peer can tell this node it is the one cut off
		root.Add(actors.NewGuard(actors.GuardConfig{Every: cfg.PollInterval, Rule: clusterRule(cfg), State: owner, Owner: owner,
			Outside: outsideURLs(cfg), Timeout: cfg.ProbeTimeout, Cut: cut, Metrics: metrics, Log: log}))
	}

	if cfg.StateFile != "" {
		root.Add(actors.NewStateFile(actors.StateFileConfig{Path: cfg.StateFile, State: owner, Changes: changes,
			Reminders: notifier, Messages: channels, Announcements: clusterNotifier, CertWarnings: certWatch, Log: log}))
	}

	server := httpapi.NewServer(cfg.ListenAddr, httpapi.NewRouter(httpapi.Options{State: owner, AggregatorURL: cfg.AggregatorURL,
		RelaySecret: cfg.RelaySecret, Peers: cfg.Peers, Relays: owner, RelayCounter: metrics, ByteCounter: metrics, UI: aggregator.Handler(),
		Metrics: metrics.Handler(owner), Log: log}), log)
	root.Add(server)
	if cfg.DebugAddr != "" {
		root.Add(httpapi.NewDebugServer(cfg.DebugAddr, log))
	}
	return &node{Supervisor: root, server: server}
}

// newChannels builds the chat channels: WEBHOOK_URL's, then one for each of
// NOTIFY_URLS, each resuming what a previous run had not delivered to it.
func newChannels(cfg config.Config, saved *actors.SavedState, cut actors.Cut, metrics *actors.Metrics, log zerolog.Logger) actors.Channels {
	var channels actors.Channels
	add := func(name string, p actors.Poster) {
		channels = append(channels, actors.NewChannel(actors.ChannelConfig{Name: name, Poster: p,
			Pending: saved.Messages(name), Persisted: cfg.StateFile != "", Metrics: metrics, Log: log}))
	}
	if cfg.WebhookURL != "" {
		add(actors.WebhookChannel, actors.NewWebhookPoster(actors.WebhookConfig{URL: cfg.WebhookURL, Format: cfg.WebhookFormat, Username: cfg.Node, Cut: cut}))
	}
	services := make([]string, len(cfg.NotifyURLs))
	for i, u := range cfg.NotifyURLs {
		services[i] = u.Service
	}
	for i, name := range actors.ChannelNames(services) {
		add(name, actors.NewShoutrrrPoster(cfg.NotifyURLs[i], actors.DefaultWebhookTimeout))
	}
	for name, n := range saved.Unclaimed(channels) {
		log.Warn().Str("channel", name).Int("queued", n).Msg("undelivered messages of a channel no longer configured; dropped")
	}
	return channels
}

// generatorURL is where an alert in Alertmanager links to: the page, when
// AGGREGATOR_URL is a whole URL.
func generatorURL(cfg config.Config) string {
	if u, err := url.Parse(cfg.AggregatorURL); err == nil && u.IsAbs() {
		return cfg.AggregatorURL
	}
	return ""
}

// round is the longest a round takes: every peer probed once, after which
// the relay leaves. A probe starts every POLL_INTERVAL; one that runs into
// PROBE_TIMEOUT makes its prober skip to the next slot after it, so a round
// ends within POLL_INTERVAL + PROBE_TIMEOUT.
func round(cfg config.Config) time.Duration { return cfg.PollInterval + cfg.ProbeTimeout }

// clusterRule is how a node reaches the cluster's verdicts: a relayed view
// counts while it is at most three rounds old, so one or two lost relays do
// not make a node's view vanish, and a node gone for longer stops counting.
func clusterRule(cfg config.Config) domain.ClusterRule {
	return domain.ClusterRule{Fresh: 3 * round(cfg), Quorum: cfg.AlertQuorum}
}

// clusterNotifierConfig is the cluster notifier's configuration. Its slot,
// how long each node waits per node before it in the election, is two
// rounds. A new announcement wakes the relay sender at once (announcing),
// but a relay still being posted may hold it up to PROBE_TIMEOUT, and the
// verdicts of two nodes turn down up to a round apart: a slot of one round
// would race it.
func clusterNotifierConfig(cfg config.Config, owner *actors.Owner, changes, announcing *actors.Signal, out actors.MessageSink,
	saved []actors.AnnouncementRecord, boot time.Time, metrics *actors.Metrics, log zerolog.Logger) actors.ClusterNotifierConfig {
	return actors.ClusterNotifierConfig{Node: cfg.Node, Nodes: len(cfg.Peers) + 1, Followups: cfg.FollowupIntervals,
		PartialAfter: cfg.PartialAfter, Slot: 2 * round(cfg), Fresh: clusterRule(cfg).Fresh, State: owner, Changes: changes,
		Announcing: announcing, Out: out, Saved: saved, Now: boot, Metrics: metrics, Log: log}
}

// outsideURLs are what the isolation guard asks to tell a node cut off
// from everything from one whose peers are gone: CONNECTIVITY_URL, and the
// chat service's origin (never the webhook's path, which holds its token).
func outsideURLs(cfg config.Config) []string {
	var urls []string
	if cfg.ConnectivityURL != "" {
		urls = append(urls, cfg.ConnectivityURL)
	}
	if u, err := url.Parse(cfg.WebhookURL); err == nil && cfg.WebhookURL != "" {
		urls = append(urls, u.Scheme+"://"+u.Host+"/")
	}
	return urls
}

// webhookHost is what the logs may say of WEBHOOK_URL: its host, never the
// path, which holds the token.
func webhookHost(cfg config.Config) string {
	u, err := url.Parse(cfg.WebhookURL)
	if err != nil || cfg.WebhookURL == "" {
		return ""
	}
	return u.Host
}

func peerNames(cfg config.Config) []string {
	names := make([]string, len(cfg.Peers))
	for i, p := range cfg.Peers {
		names[i] = p.Name
	}
	return names
}
