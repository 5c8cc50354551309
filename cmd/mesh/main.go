// Command mesh runs one node of a Mesh cluster: it probes its peers, keeps
// its view of who is up, and serves that view over HTTP.
package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/rs/zerolog"
	"github.com/thejerf/suture/v4"

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
// the node's memory. 25 kept a node at a thousand peers 1.3–1.6 MB lower
// than 50 did, at no CPU a probe that runs side by side could tell apart
// (BENCHMARKS.md, "Memory at 1000 peers"). A collection's work grows with
// the live heap, and how often it runs with the garbage over the live
// heap, so its share of a node's CPU does not grow with the peers.
const defaultGCPercent = 25

func main() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGCPercent)
	}
	useFallbackRootsIfNoneInstalled(os.Getenv)
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
		case "silence":
			return runSilence(args[1:], env, stdout, stderr)
		case "chat":
			return runChat(args[1:], stdout, stderr)
		}
	}
	cfg, err := config.Load(args, env, os.Hostname, stdout)
	switch {
	case errors.Is(err, config.ErrHelp):
		return exitOK
	case errors.Is(err, config.ErrVersion):
		fmt.Fprintln(stdout, "mesh", buildVersion())
		return exitOK
	case err == nil:
		err = cfg.CheckStateFile()
	}
	var key ed25519.PrivateKey
	var madeKey bool
	if err == nil {
		key, madeKey, err = cfg.LoadNodeKey()
	}
	if err != nil {
		fmt.Fprintf(stderr, "mesh: %v\n", err)
		return exitConfig
	}
	log := newLogger(stdout, cfg)

	n := newNode(cfg, key, log, nil)
	ctx, stop := stopOnSignal(n, log)
	defer stop()

	targets := make([]string, len(cfg.Targets))
	for i, t := range cfg.Targets {
		targets[i] = t.Name // never the URL probed, which may hold a password
	}
	log.Info().Str("version", buildVersion()).Str("addr", cfg.ListenAddr).Strs("peers", peerNames(cfg)).Strs("targets", targets).
		Str("poll_interval", cfg.PollInterval.String()).Int("failure_threshold", cfg.FailureThreshold).
		Bool("relay", cfg.RelaySecret != "").Str("alerts", cfg.Alerts).Str("webhook_host", cfg.WebhookHost()).
		Int("notify_urls", len(cfg.NotifyURLs)).Int("alertmanagers", len(cfg.AlertmanagerURLs)).Str("cluster", cfg.Cluster).Str("key", publicKey(key)).Msg("mesh starting")
	logNodeKey(log, cfg, key, madeKey)
	for _, w := range cfg.Warnings() {
		log.Warn().Msg(w)
	}
	dropStartupPages(log)
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
	// leave tells the peers the node is stopping on purpose; nil when it
	// relays to nobody.
	leave func(context.Context)
}

// leaveWithin bounds how long a node stopping on purpose waits for its
// last relay to reach its peers: docker stop waits 10 s before SIGKILL.
const leaveWithin = 3 * time.Second

// stopOnSignal returns a context that ends when SIGTERM or SIGINT comes
// (docker stop, systemctl stop, a reboot, Ctrl-C): a stop on purpose, so
// the node first tells its peers, in a last relay, that it is leaving. A
// second signal stops it at once.
func stopOnSignal(n *node, log zerolog.Logger) (context.Context, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	go func() {
		select {
		case sig := <-signals:
			log.Info().Str("signal", sig.String()).Msg("stopping on purpose")
		case <-ctx.Done():
			return
		}
		if n.leave != nil {
			leaving, done := context.WithTimeout(ctx, leaveWithin)
			go func() {
				select {
				case <-signals:
				case <-leaving.Done():
				}
				done()
			}()
			n.leave(leaving)
			done()
		}
		cancel()
	}()
	return ctx, func() { signal.Stop(signals); cancel() }
}

// newNode builds the supervisor tree of DESIGN.md, each actor wired to
// the others as it is built. cut, nil but in `mesh demo`, is asked before
// each connection the node opens (actors.Cut):
//
//	mesh (root)
//	├── state-owner
//	├── notifications (only with WEBHOOK_URL, NOTIFY_URLS or ALERTMANAGER_URL):
//	│     notifier, channel(name) for each chat channel,
//	│     alertmanager(host) for each Alertmanager
//	├── probe-scheduler (each probe in a goroutine of its own)
//	├── relay-sender (only when RELAY_SECRET is set)
//	├── isolation-guard (only with two peers or more)
//	├── state-file (only when STATE_FILE is set)
//	├── http-server
//	└── debug-server (only when DEBUG_ADDR is set)
func newNode(cfg config.Config, key ed25519.PrivateKey, log zerolog.Logger, cut actors.Cut) *node {
	boot, userAgent := time.Now(), "mesh/"+buildVersion()
	saved := actors.LoadStateFile(cfg.StateFile, boot, log) // empty without one
	metrics := actors.NewMetrics(cfg.Subjects())
	metrics.SetNode(cfg.Node, cfg.Cluster, buildVersion())
	metrics.AddRoutes(httpapi.Routes())
	root := suture.New("mesh", supervisorSpec(log))

	// What the owner tells others goes through these, made first so that the
	// owner is built with them: a wake-up per complete round (relay sender),
	// one per change the state file keeps at once (a status, and the alert
	// engine's record), one per change the alerts follow.
	rounds, statusChanged, alertsChanged := actors.NewSignal(), actors.NewSignal(), actors.NewSignal()
	owner := actors.NewOwner(actors.OwnerConfig{Node: cfg.Node, Subjects: cfg.Subjects(), Threshold: cfg.FailureThreshold,
		SuccessThreshold: cfg.SuccessThreshold, Cluster: cfg.ClusterRule(), Boot: boot, Saved: saved.Subjects, SavedIsolations: saved.Isolations, SavedLeaves: saved.Left, SavedSilences: saved.Silences, SavedKeys: saved.Keys, PeerKeys: cfg.PeerKeys, TargetWindows: targetWindows(cfg),
		StatusChanged: statusChanged, RoundDone: rounds, AlertsChanged: alertsChanged, Metrics: metrics, Log: log})
	root.Add(owner)

	// The alert path, when the node tells anyone: what it announces goes in
	// the relays, what it keeps in the state file. Left nil without it.
	var announcer actors.Announcer
	var record interface{ Record() domain.AlertRecord }
	var pending interface {
		Pending() map[string][]domain.Message
	}
	if cfg.Notifying() {
		a := newAlerts(cfg, owner, alertsChanged, rounds, statusChanged, saved, boot, cut, metrics, log)
		root.Add(a.Supervisor)
		announcer, record, pending = a.engine, a.engine, a.channels
	}

	root.Add(actors.NewProbers(actors.ProbersConfig{Peers: cfg.Peers, Targets: cfg.Targets, Interval: cfg.PollInterval,
		Timeout: cfg.ProbeTimeout, UserAgent: userAgent, Cut: cut, Owner: owner, Metrics: metrics, Log: log}))
	var leave func(context.Context)
	if cfg.RelaySecret != "" {
		sender := actors.NewRelaySender(actors.RelaySenderConfig{Secret: cfg.RelaySecret, Peers: cfg.Peers, Timeout: cfg.ProbeTimeout,
			Rounds: rounds, State: owner, Announcer: announcer, Windows: cfg.Maintenance, Key: key, UserAgent: userAgent, Cut: cut, Metrics: metrics, Log: log})
		root.Add(sender)
		leave = sender.Leave
	}
	if len(cfg.Peers) >= 2 { // with fewer than three nodes, no peer can tell this node it is the one cut off
		root.Add(actors.NewGuard(actors.GuardConfig{Every: cfg.PollInterval, Rule: cfg.ClusterRule(), State: owner, Owner: owner,
			Outside: cfg.OutsideURLs(), Timeout: cfg.ProbeTimeout, Cut: cut, Boot: boot, Metrics: metrics, Log: log}))
	}
	if cfg.StateFile != "" {
		root.Add(actors.NewStateFile(actors.StateFileConfig{Path: cfg.StateFile, State: owner, Changes: statusChanged,
			Alerts: record, Messages: pending, Log: log}))
	}

	server := httpapi.NewServer(cfg.ListenAddr, httpapi.NewRouter(httpapi.Options{State: owner, AggregatorURL: cfg.AggregatorURL,
		RelaySecret: cfg.RelaySecret, RelayFresh: cfg.Fresh, Peers: cfg.Peers, Relays: owner, Node: cfg.Node, NodeKey: publicKey(key), Silences: owner, RelayCounter: metrics, ByteCounter: metrics, UI: aggregator.Handler(),
		Metrics: httpapi.MetricsHandler(metrics.Gatherers(owner), log), Log: log}), log)
	root.Add(server)
	if cfg.DebugAddr != "" {
		root.Add(httpapi.NewDebugServer(cfg.DebugAddr, log))
	}
	return &node{Supervisor: root, server: server, leave: leave}
}

// targetWindows are the targets' maintenance windows, by name.
func targetWindows(cfg config.Config) map[string][]domain.Window {
	windows := map[string][]domain.Window{}
	for _, t := range cfg.Targets {
		if len(t.Maintenance) > 0 {
			windows[t.Name] = t.Maintenance
		}
	}
	return windows
}

func peerNames(cfg config.Config) []string {
	names := make([]string, len(cfg.Peers))
	for i, p := range cfg.Peers {
		names[i] = p.Name
	}
	return names
}
