// Command mesh runs one node of a Mesh cluster: it probes its peers, keeps
// its view of who is up, and serves that view over HTTP.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/rs/zerolog"
	"github.com/thejerf/suture/v4"
	// The container image is FROM scratch: no /etc/ssl. These roots are
	// used only when the system has none, so that HTTPS webhooks work there.
	_ "golang.org/x/crypto/x509roots/fallback"

	"github.com/dupunkto/mesh/actors"
	"github.com/dupunkto/mesh/config"
	"github.com/dupunkto/mesh/deploy/aggregator"
	"github.com/dupunkto/mesh/httpapi"
)

// version is stamped at build time: go build -ldflags "-X main.version=v1.2.3".
// Unstamped, it is what the Go toolchain recorded from the module or the Git
// checkout (a pseudo-version such as v0.0.0-20261124183000-45b037d1a2b3).
// (It is set in init, not here: -X only replaces a plain string constant.)
var version = "dev"

func init() { version = stampedOrBuildVersion(version) }

func stampedOrBuildVersion(stamped string) string {
	if stamped != "dev" {
		return stamped
	}
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" && info.Main.Version != "(devel)" {
		return info.Main.Version
	}
	return stamped
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
		fmt.Fprintln(stdout, "mesh", version)
		return exitOK
	case err != nil:
		fmt.Fprintf(stderr, "mesh: %v\n", err)
		return exitConfig
	}
	if cfg.StateFile != "" {
		if err := actors.CheckStateDir(cfg.StateFile); err != nil {
			fmt.Fprintf(stderr, "mesh: invalid STATE_FILE=%q: %v\n", cfg.StateFile, err)
			return exitConfig
		}
	}
	log := newLogger(stdout, cfg)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	n := newNode(cfg, log)
	log.Info().Str("version", version).Str("addr", cfg.ListenAddr).Strs("peers", peerNames(cfg)).
		Str("poll_interval", cfg.PollInterval.String()).Int("failure_threshold", cfg.FailureThreshold).
		Bool("relay", cfg.RelaySecret != "").Str("url", webhookHost(cfg)).Msg("mesh starting")
	err = n.Serve(ctx)
	if code, ok := exitCodeOf(err); ok {
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

// exitCodeOf returns the exit code a fatal service error carries.
func exitCodeOf(err error) (int, bool) { return actors.ExitCode(err) }

// node is one Mesh node: its supervisor tree and the parts tests and the
// demo look into.
type node struct {
	*suture.Supervisor
	owner  *actors.Owner
	server *httpapi.Server
}

// newNode builds the supervisor tree of DESIGN.md:
//
//	mesh (root)
//	├── state owner
//	├── probers (one prober per peer)
//	├── relay sender (only when RELAY_SECRET is set)
//	├── notifier (only when WEBHOOK_URL is set): reminder schedule + webhook delivery
//	├── state file (only when STATE_FILE is set)
//	└── http server
func newNode(cfg config.Config, log zerolog.Logger) *node {
	root := suture.New("mesh", supervisorSpec(log))
	boot := time.Now()

	var saved *actors.SavedState
	if cfg.StateFile != "" {
		saved = actors.LoadStateFile(cfg.StateFile, boot, log)
	}

	owner := actors.NewOwner(actors.OwnerConfig{
		Node:      cfg.Node,
		Peers:     peerNames(cfg),
		Threshold: cfg.FailureThreshold,
		Boot:      boot,
		Restored:  saved.Restored(),
		Log:       log,
	})
	root.Add(owner)
	metrics := actors.NewMetrics(owner)
	owner.Subscribe(metrics)

	probers := suture.New("probers", supervisorSpec(log))
	client := actors.NewProbeClient(cfg.ProbeTimeout)
	for i, p := range cfg.Peers {
		probers.Add(actors.NewProber(actors.ProberConfig{
			Peer:      p.Name,
			URL:       p.URL,
			Interval:  cfg.PollInterval,
			Timeout:   cfg.ProbeTimeout,
			Offset:    actors.PhaseOffset(i, len(cfg.Peers), cfg.PollInterval),
			Client:    client,
			UserAgent: "mesh/" + version,
			Owner:     owner,
			Metrics:   metrics,
			Log:       log,
		}))
	}
	root.Add(probers)

	if cfg.RelaySecret != "" {
		targets := make([]actors.RelayTarget, len(cfg.Peers))
		for i, p := range cfg.Peers {
			targets[i] = actors.RelayTarget{Name: p.Name, URL: p.URL}
		}
		relay := actors.NewRelaySender(actors.RelaySenderConfig{
			Node:      cfg.Node,
			Secret:    cfg.RelaySecret,
			Targets:   targets,
			Timeout:   cfg.ProbeTimeout,
			State:     owner,
			UserAgent: "mesh/" + version,
			Metrics:   metrics,
			Log:       log,
		})
		owner.OnRoundComplete(relay.RoundComplete)
		root.Add(relay)
	}

	var progress interface {
		Progress() map[string]actors.ReminderProgress
	}
	if cfg.WebhookURL != "" {
		notifier := suture.New("notifier", supervisorSpec(log))
		webhook := actors.NewWebhook(actors.WebhookConfig{
			URL:      cfg.WebhookURL,
			Format:   cfg.WebhookFormat,
			Username: cfg.Node,
			Metrics:  metrics,
			Log:      log,
		})
		reminders := actors.NewNotifier(actors.NotifierConfig{
			Followups: cfg.FollowupIntervals,
			Out:       webhook,
			Log:       log,
		})
		// Outages a previous run announced go on without a second down message.
		for _, peer := range cfg.Peers {
			if v, ok := owner.Snapshot().Peer(peer.Name); ok && v.Status == actors.StatusDown {
				reminders.Restore(peer.Name, v.Since.Time, saved.RemindersSent(peer.Name), boot)
			}
		}
		owner.Subscribe(reminders)
		notifier.Add(reminders)
		notifier.Add(webhook)
		root.Add(notifier)
		progress = reminders
	}

	if cfg.StateFile != "" {
		file := actors.NewStateFile(actors.StateFileConfig{
			Path:      cfg.StateFile,
			State:     owner,
			Reminders: progress,
			Log:       log,
		})
		owner.Subscribe(file)
		root.Add(file)
	}

	server := httpapi.NewServer(cfg.ListenAddr, httpapi.NewRouter(httpapi.Options{
		State:         owner,
		AggregatorURL: cfg.AggregatorURL,
		RelaySecret:   cfg.RelaySecret,
		Peers:         peerNames(cfg),
		Relays:        owner,
		UI:            aggregator.Handler(),
		Metrics:       metrics,
		Log:           log,
	}), log)
	root.Add(server)

	if cfg.DebugAddr != "" {
		root.Add(httpapi.NewDebugServer(cfg.DebugAddr, log))
	}

	return &node{Supervisor: root, owner: owner, server: server}
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
