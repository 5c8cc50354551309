// Package config loads a node's settings from the environment and the
// command line and validates them, so that a bad value stops the node before
// anything starts. Load does no I/O beyond reading what it is given
// (CheckStateFile looks at the file system, apart). It also derives, once, every value the
// node computes from its settings (the durations of a round and of the
// cluster's rule, the URLs the logs and checks may use), so that each has
// one name and one place.
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/dupunkto/mesh/actors/domain"
	"github.com/rs/zerolog"
)

// Config is a node's validated configuration.
type Config struct {
	Node              string
	Peers             []Peer
	Targets           []Target        // services every node probes too (TARGETS)
	CertWarn          time.Duration   // how long before an HTTPS target's certificate expires a message says so
	LeaveGrace        time.Duration   // how long a peer stopped on purpose shows stopped before it is an outage; 0: never
	Maintenance       []domain.Window // this node's recurring maintenance windows (MAINTENANCE), told its peers in the relays
	AggregatorURL     string
	RelaySecret       string
	WebhookURL        string
	WebhookFormat     string // "discord" or "slack", resolved from WEBHOOK_FORMAT and the URL
	NotifyURLs        []NotifyURL
	AlertmanagerURLs  []string // each the alerts endpoint of Alertmanager's v2 API
	Cluster           string   // the cluster's name in alerts
	ListenAddr        string
	PollInterval      time.Duration
	ProbeTimeout      time.Duration
	FailureThreshold  int
	SuccessThreshold  int
	AlertQuorum       int           // observers that must see a peer down for the cluster; 0 is a majority
	Alerts            string        // AlertsCluster or AlertsNode
	PartialAfter      time.Duration // how long a minority must see a peer down before it is told
	ConnectivityURL   string        // answers while this node reaches the outside; "" is none
	FollowupIntervals []time.Duration
	StateFile         string
	NodeKeyFile       string            // where the node's signing key is kept; "": it has none and signs nothing
	PeerKeys          map[string]string // peers' keys given in PEER_KEYS, by name, in place of those pinned
	LogLevel          zerolog.Level
	LogFormat         string
	DebugAddr         string // loopback host:port for pprof; "" is off

	// Derived from the settings above by Load (see derive).

	// Round is the longest a round takes: every peer probed once, after
	// which the relay leaves. A probe starts every POLL_INTERVAL; one that
	// runs into PROBE_TIMEOUT makes its prober skip to the next slot after
	// it, so a round ends within POLL_INTERVAL + PROBE_TIMEOUT.
	Round time.Duration
	// Fresh is how long a relayed view counts in the cluster's verdicts,
	// and an announcement in the election: three rounds, so that one or
	// two lost relays do not make a node's view vanish, and a node gone
	// for longer stops counting. It is also how long a node listens after
	// it starts or comes back from an isolation before it acts.
	Fresh time.Duration
	// Slot is how long each candidate waits per node before it in the
	// election of the node that announces an episode: two rounds. A new
	// announcement leaves at once, but a relay still being posted may hold
	// it up to PROBE_TIMEOUT, and the verdicts of two nodes turn down up
	// to a round apart: a slot of one round would race it.
	Slot time.Duration
}

// derive computes the values the node derives from its settings.
func (c *Config) derive() {
	c.Round = c.PollInterval + c.ProbeTimeout
	c.Fresh = 3 * c.Round
	c.Slot = 2 * c.Round
}

// ClusterRule is how the node reaches the cluster's verdicts.
func (c Config) ClusterRule() domain.ClusterRule {
	return domain.ClusterRule{Fresh: c.Fresh, Quorum: c.AlertQuorum, LeaveGrace: c.LeaveGrace}
}

// Subjects are what the node watches, each with its kind: the peers, then
// the targets.
func (c Config) Subjects() []domain.Subject {
	out := make([]domain.Subject, 0, len(c.Peers)+len(c.Targets))
	for _, p := range c.Peers {
		out = append(out, p.Subject())
	}
	for _, t := range c.Targets {
		out = append(out, t.Subject())
	}
	return out
}

// Notifying reports whether the node tells anyone of anything: a chat
// channel or an Alertmanager is set.
func (c Config) Notifying() bool {
	return c.WebhookURL != "" || len(c.NotifyURLs) > 0 || len(c.AlertmanagerURLs) > 0
}

// OutsideURLs are what the isolation guard asks to tell a node cut off
// from everything from one whose peers are gone: CONNECTIVITY_URL, and the
// chat service's origin (never the webhook's path, which holds its token).
func (c Config) OutsideURLs() []string {
	var urls []string
	if c.ConnectivityURL != "" {
		urls = append(urls, c.ConnectivityURL)
	}
	if u, err := url.Parse(c.WebhookURL); err == nil && c.WebhookURL != "" {
		urls = append(urls, u.Scheme+"://"+u.Host+"/")
	}
	return urls
}

// GeneratorURL is where an alert in Alertmanager links to: the page, when
// AGGREGATOR_URL is a whole URL; "" when it is a path on the node.
func (c Config) GeneratorURL() string {
	if u, err := url.Parse(c.AggregatorURL); err == nil && u.IsAbs() {
		return c.AggregatorURL
	}
	return ""
}

// WebhookHost is what the logs may say of WEBHOOK_URL: its host, never the
// path, which holds the token.
func (c Config) WebhookHost() string {
	u, err := url.Parse(c.WebhookURL)
	if err != nil || c.WebhookURL == "" {
		return ""
	}
	return u.Host
}

// ErrHelp is returned by Load when --help was asked for; the usage has been
// written and the caller should exit 0.
var ErrHelp = flag.ErrHelp

// ErrVersion is returned by Load when --version was asked for.
var ErrVersion = errors.New("version requested")

// setting is one configuration variable: its environment name, its flag, the
// default shown in --help, and how a raw value is checked and stored.
type setting struct {
	env   string
	flag  string
	def   string
	usage string
	apply func(c *Config, v string) error
}

// secret settings are never echoed in an error: the webhook URL holds a token.
// NOTIFY_URLS hold tokens; an ALERTMANAGER_URL may hold a password.
// A TARGETS URL may hold a password: its errors name the entry without it.
var secret = map[string]bool{"RELAY_SECRET": true, "WEBHOOK_URL": true, "NOTIFY_URLS": true, "ALERTMANAGER_URL": true, "TARGETS": true}

// settings lists every variable in the order --help shows them. PEERS and
// NODE are applied by Load itself because PEERS depends on NODE.
var settings = []setting{
	{"PEERS", "peers", "", "peers, separated by commas or spaces: host, host:port or an http(s) URL (required)", nil},
	{"NODE", "node", "system hostname", "this node's name", nil},
	{"TARGETS", "targets", "", "services every node probes too, separated by spaces or line breaks: http(s) URLs, up on a 2xx (options after #: status=204, body=word), or tcp://host:port, up when it accepts a connection", setTargets},
	{"CERT_WARN", "cert-warn", "14d", "a message when an HTTPS target's certificate expires within this (days as 14d, or a duration)", setCertWarn},
	{"AGGREGATOR_URL", "aggregator-url", "/ui/", "where GET / redirects: this node's own page, or a page hosted elsewhere", setAggregatorURL},
	{"RELAY_SECRET", "relay-secret", "", "shared secret for /relay; unset turns relaying off", setRelaySecret},
	{"WEBHOOK_URL", "webhook-url", "", "Discord or Slack incoming webhook; unset turns webhooks off", setWebhookURL},
	{"WEBHOOK_FORMAT", "webhook-format", "auto", "discord, slack, or auto: slack for hooks.slack.com, else discord", setWebhookFormat},
	{"NOTIFY_URLS", "notify-urls", "", "Shoutrrr service URLs (telegram://, ntfy://, gotify://, matrix://, teams://, pushover://, smtp://, generic://, ...), separated by spaces or line breaks; each gets every message", setNotifyURLs},
	{"ALERTMANAGER_URL", "alertmanager-url", "", "Alertmanager base URLs (http://alertmanager:9093), separated by spaces or line breaks; alerts go to each through its v2 API", setAlertmanagerURLs},
	{"CLUSTER", "cluster", "mesh", "the cluster's name: the cluster label of its alerts", setCluster},
	{"PORT", "port", "4000", "port to listen on when LISTEN_ADDR is unset", nil},
	{"LISTEN_ADDR", "listen-addr", ":$PORT", "address the HTTP server listens on", nil},
	{"POLL_INTERVAL", "poll-interval", "5s", "time between probes of one peer; " + MinPollInterval.String() + " to " + maxPollInterval.String(), setPollInterval},
	{"PROBE_TIMEOUT", "probe-timeout", "5s", "time limit of one probe and one relay post; at most " + maxProbeTimeout.String(), func(c *Config, v string) error {
		return boundedDuration(v, &c.ProbeTimeout, maxProbeTimeout)
	}},
	{"FAILURE_THRESHOLD", "failure-threshold", "4", "consecutive failures before a peer is down", func(c *Config, v string) error {
		return threshold(v, &c.FailureThreshold)
	}},
	{"SUCCESS_THRESHOLD", "success-threshold", "1", "consecutive successes before a down peer is up again", func(c *Config, v string) error {
		return threshold(v, &c.SuccessThreshold)
	}},
	{"ALERT_QUORUM", "alert-quorum", "majority", "observers that must see a peer down for the cluster to call it down: majority (never fewer than 2 of 2 or more), or a number", setAlertQuorum},
	{"FOLLOWUP_INTERVALS", "followup-intervals", "15m,30m,1h,2h,5h", "gaps between still-down reminders; the last repeats", setFollowups},
	{"ALERTS", "alerts", "cluster with RELAY_SECRET, else node", "cluster: one message per outage the cluster confirms, naming where it is seen from; node: each node messages its own view (needs no relaying)", nil},
	{"PARTIAL_AFTER", "partial-after", "the first FOLLOWUP_INTERVALS gap", "how long a minority of nodes must see a peer down before one message says so (cluster alerts)", nil},
	{"MAINTENANCE", "maintenance", "", "this node's recurring maintenance windows, separated by ;: a cron expression, a duration and a time zone, \"0 3 * * 0 2h Europe/Amsterdam\"; its peers say nothing of it down inside one", func(c *Config, v string) error {
		w, err := ParseWindows(v)
		c.Maintenance = w
		return err
	}},
	{"LEAVE_GRACE", "leave-grace", "15m", "how long a peer stopped on purpose (SIGTERM) shows stopped, with no message, before it counts as down; 0 counts it down at once", setLeaveGrace},
	{"CONNECTIVITY_URL", "connectivity-url", "", "a URL outside the cluster; while any HTTP answer comes from it (or from the chat service), this node is not isolated", func(c *Config, v string) error {
		if err := checkHTTPURL(v); err != nil {
			return err
		}
		c.ConnectivityURL = v
		return nil
	}},
	{"STATE_FILE", "state-file", "", "where the node keeps its view across restarts; unset keeps it in memory", func(c *Config, v string) error {
		c.StateFile = v
		return nil
	}},
	{"NODE_KEY_FILE", "node-key-file", "STATE_FILE's name with .key", "where the node keeps the Ed25519 key it signs its relays with, made at its first start (a PKCS #8 PEM file); with neither it nor STATE_FILE the node signs nothing", nil},
	{"PEER_KEYS", "peer-keys", "", "peers' keys to trust in place of those pinned at first sight, as name=key separated by commas or spaces: for a peer rebuilt with a new key (its start line and /state show it)", nil},
	{"LOG_LEVEL", "log-level", "info", "trace, debug, info, warn or error", setLogLevel},
	{"LOG_FORMAT", "log-format", "json", "json, or console for people at a terminal", setLogFormat},
	{"DEBUG_ADDR", "debug-addr", "", "loopback host:port serving Go's pprof profiles at /debug/pprof/; unset turns it off", setDebugAddr},
}

// Env reads one environment variable; os.Getenv in production.
type Env func(key string) string

// Load reads the settings from args (flags, which win) and env, validates
// every one and returns the config. hostname supplies NODE's default. An
// error names the variable (or flag) and the offending value in one line,
// without the user and password of any URL in it.
func Load(args []string, env Env, hostname func() (string, error), usage io.Writer) (Config, error) {
	c, err := loadSettings(args, env, hostname, usage)
	if err != nil && !errors.Is(err, ErrHelp) && !errors.Is(err, ErrVersion) {
		return Config{}, errors.New(withoutUserInfo(err.Error()))
	}
	return c, err
}

func loadSettings(args []string, env Env, hostname func() (string, error), usage io.Writer) (Config, error) {
	fs := flag.NewFlagSet("mesh", flag.ContinueOnError)
	// The flag package's own messages span lines; Load returns one-line
	// errors instead and writes the usage only when it is asked for.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	values := make(map[string]*string, len(settings))
	for _, s := range settings {
		values[s.env] = fs.String(s.flag, "", s.usage)
	}
	version := fs.Bool("version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			writeUsage(usage)
		}
		return Config{}, err
	}
	if *version {
		return Config{}, ErrVersion
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("unexpected argument %q (see mesh --help)", fs.Arg(0))
	}
	fromFlag := make(map[string]bool)
	fs.Visit(func(f *flag.Flag) { fromFlag[f.Name] = true })

	// lookup returns a setting's raw value and the name to blame if it is bad.
	lookup := func(envName string) (value, name string, given bool) {
		s := settingNamed(envName)
		if fromFlag[s.flag] {
			return *values[s.env], "--" + s.flag, true
		}
		if v := env(s.env); v != "" {
			return v, s.env, true
		}
		return s.def, s.env, false
	}
	bad := func(name, value string, err error) error {
		return fmt.Errorf("invalid %s=%q: %v", name, value, err)
	}
	quoteShort := func(v string) string {
		if len(v) > 64 {
			return v[:64] + "..." // NODE may be 10,000 characters of markup
		}
		return v
	}

	var c Config
	for _, s := range settings {
		if s.apply == nil {
			continue
		}
		v, name, given := lookup(s.env)
		if !given && s.def == "" {
			continue
		}
		if err := s.apply(&c, v); err != nil {
			if secret[s.env] {
				return Config{}, fmt.Errorf("invalid %s (value not shown: it holds a secret): %v", name, err)
			}
			return Config{}, bad(name, v, err)
		}
	}

	node, nodeName, given := lookup("NODE")
	if !given {
		h, err := hostname()
		if err != nil || h == "" {
			return Config{}, fmt.Errorf("NODE is unset and the hostname is unknown (%v): set NODE", err)
		}
		node = h
	}
	if err := checkNode(node); err != nil {
		return Config{}, bad(nodeName, quoteShort(node), err)
	}
	c.Node = node

	peers, peersName, given := lookup("PEERS")
	if !given {
		return Config{}, errors.New("PEERS is required: a comma-separated list of host, host:port or http(s) URL")
	}
	var err error
	if c.Peers, err = ParsePeers(peers, node); err != nil {
		return Config{}, bad(peersName, peers, err)
	}

	if v, _, given := lookup("NODE_KEY_FILE"); given {
		c.NodeKeyFile = v
	} else {
		c.NodeKeyFile = nodeKeyBeside(c.StateFile)
	}
	if v, name, given := lookup("PEER_KEYS"); given {
		if c.PeerKeys, err = parsePeerKeys(v, c.Peers); err != nil {
			return Config{}, bad(name, quoteShort(v), err)
		}
	}

	if c.WebhookFormat == "auto" {
		c.WebhookFormat = "discord"
		if u, err := url.Parse(c.WebhookURL); err == nil && strings.EqualFold(u.Hostname(), "hooks.slack.com") {
			c.WebhookFormat = "slack"
		}
	}

	if err := c.setAlerts(lookup); err != nil {
		return Config{}, err
	}
	if c.ListenAddr, err = listenAddr(lookup); err != nil {
		return Config{}, err
	}
	c.derive()
	if err := c.checkTogether(lookup); err != nil {
		return Config{}, err
	}
	return c, nil
}

// MinFollowupGap is the least gap between two reminders whatever the
// rhythm: a chat service takes about one message a second.
const MinFollowupGap = time.Second

// checkTogether checks what only makes sense against other settings: a
// quorum the cluster can reach, reminders no faster than the election of
// who sends them, and a debug server apart from the node's own.
func (c *Config) checkTogether(lookup func(envName string) (value, name string, given bool)) error {
	bad := func(env string, why string, args ...any) error {
		v, name, _ := lookup(env)
		return fmt.Errorf("invalid %s=%q: %s", name, v, fmt.Sprintf(why, args...))
	}
	if nodes := len(c.Peers) + 1; c.AlertQuorum > nodes {
		return bad("ALERT_QUORUM", "more than the %d nodes of the cluster (PEERS and this node): nothing could ever be called down", nodes)
	}
	// A reminder is sent by the node elected to announce the outage, in
	// slots of two rounds: a gap shorter than a slot could fall due
	// before the election has said who sends it.
	floor := max(c.Slot, MinFollowupGap)
	for _, gap := range c.FollowupIntervals {
		if gap < floor {
			return bad("FOLLOWUP_INTERVALS", "a gap of %s is below %s: reminders are sent by the node elected in slots of two rounds, 2 × (POLL_INTERVAL + PROBE_TIMEOUT), and a chat service takes about one message a second", gap, floor)
		}
	}
	if c.DebugAddr != "" && sameListener(c.DebugAddr, c.ListenAddr) {
		return bad("DEBUG_ADDR", "the node's own address (LISTEN_ADDR or PORT %s): the debug server needs a port of its own", c.ListenAddr)
	}
	return nil
}

// sameListener reports whether two listen addresses take the same port on
// a common interface: the same host, or either on every interface.
func sameListener(a, b string) bool {
	ha, pa, _ := net.SplitHostPort(a)
	hb, pb, _ := net.SplitHostPort(b)
	every := func(h string) bool { return h == "" || h == "0.0.0.0" || h == "::" }
	return pa == pb && pa != "0" && (ha == hb || every(ha) || every(hb))
}

// The alert modes of ALERTS.
const (
	AlertsCluster = "cluster" // messages follow the cluster's verdict, one node sends each
	AlertsNode    = "node"    // each node messages its own view, as the seed did
)

// setAlerts reads ALERTS and PARTIAL_AFTER, whose defaults depend on
// RELAY_SECRET and FOLLOWUP_INTERVALS: cluster alerts need the other
// nodes' views, which only relaying brings.
func (c *Config) setAlerts(lookup func(envName string) (value, name string, given bool)) error {
	mode, name, given := lookup("ALERTS")
	switch {
	case !given && c.RelaySecret != "":
		mode = AlertsCluster
	case !given:
		mode = AlertsNode
	case mode != AlertsCluster && mode != AlertsNode:
		return fmt.Errorf("invalid %s=%q: must be cluster or node", name, mode)
	case mode == AlertsCluster && c.RelaySecret == "":
		return fmt.Errorf("invalid %s=%q: cluster alerts need RELAY_SECRET, since the other nodes' views come by relay", name, mode)
	}
	c.Alerts = mode
	c.PartialAfter = c.FollowupIntervals[0]
	if v, name, given := lookup("PARTIAL_AFTER"); given {
		if err := positiveDuration(v, &c.PartialAfter); err != nil {
			return fmt.Errorf("invalid %s=%q: %v", name, v, err)
		}
	}
	return nil
}

// ListenAddr resolves the address a node listens on from PORT and
// LISTEN_ADDR alone, as Load does: `mesh healthcheck` runs beside a node
// with the same environment and must find the same listener without
// needing PEERS or any other setting.
func ListenAddr(env Env) (string, error) {
	return listenAddr(func(envName string) (string, string, bool) {
		if v := env(envName); v != "" {
			return v, envName, true
		}
		return settingNamed(envName).def, envName, false
	})
}

// listenAddr is LISTEN_ADDR if given, else ":" + PORT, checked.
func listenAddr(lookup func(envName string) (value, name string, given bool)) (string, error) {
	port, portName, _ := lookup("PORT")
	listen, listenName, given := lookup("LISTEN_ADDR")
	if !given {
		if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
			return "", fmt.Errorf("invalid %s=%q: not a port number 0-65535", portName, port)
		}
		listen = ":" + port
	}
	if err := checkListenAddr(listen); err != nil {
		return "", fmt.Errorf("invalid %s=%q: %v", listenName, listen, err)
	}
	return listen, nil
}

func settingNamed(env string) setting {
	for _, s := range settings {
		if s.env == env {
			return s
		}
	}
	panic("config: no setting " + env) // a typo in this file, caught by every test
}

func writeUsage(w io.Writer) {
	fmt.Fprintf(w, "Usage: mesh [flags]                    a node\n       mesh demo [--port 4001]         three nodes on this machine, and their page\n       mesh healthcheck                exit 0 if this machine's node answers /ping, else 1\n       mesh silence add|list|expire    silences for planned work: mesh silence --help\n       mesh chat [--listen :4100]      print what nodes post to WEBHOOK_URL=http://host:4100/hook\n       mesh --version\n\n")
	fmt.Fprintf(w, "Every flag can also be set by the environment variable named beside it; a flag wins.\n\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, s := range settings {
		def := s.def
		if def == "" {
			def = "unset"
		}
		fmt.Fprintf(tw, "  --%s\t%s\t%s (default: %s)\n", s.flag, s.env, s.usage, def)
	}
	fmt.Fprintf(tw, "  --version\t\tprint the version and exit\n")
	_ = tw.Flush()
}

// MinPollInterval is the shortest POLL_INTERVAL: each peer is probed on a
// fresh connection, so a node with a thousand peers at this interval already
// opens ten thousand connections a second; below it a typo (1ns for 1s) makes
// a node flood its peers.
const MinPollInterval = 100 * time.Millisecond

// The longest POLL_INTERVAL and PROBE_TIMEOUT, and the highest thresholds:
// past them a node would take days to call anything down, which is a typo,
// not a rhythm (10000h for 10s, a 64-bit number for 4).
const (
	maxPollInterval = time.Hour
	maxProbeTimeout = time.Minute
	maxThreshold    = 1000
)

func setPollInterval(c *Config, v string) error {
	if err := boundedDuration(v, &c.PollInterval, maxPollInterval); err != nil {
		return err
	}
	if c.PollInterval < MinPollInterval {
		return fmt.Errorf("must be at least %s", MinPollInterval)
	}
	return nil
}

// boundedDuration reads a duration greater than zero and at most most.
func boundedDuration(v string, dst *time.Duration, most time.Duration) error {
	if err := positiveDuration(v, dst); err != nil {
		return err
	}
	if *dst > most {
		return fmt.Errorf("must be at most %s", most)
	}
	return nil
}

// maxLeaveGrace bounds LEAVE_GRACE: a node away for longer than a day is
// down, whatever it said when it went.
const maxLeaveGrace = 24 * time.Hour

// setLeaveGrace reads LEAVE_GRACE: 0, or a duration up to maxLeaveGrace.
func setLeaveGrace(c *Config, v string) error {
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 || d > maxLeaveGrace {
		return fmt.Errorf("must be 0 or a duration such as 15m, at most %s", maxLeaveGrace)
	}
	c.LeaveGrace = d
	return nil
}

// threshold reads a count of probes in a row: 1 to maxThreshold.
func threshold(v string, dst *int) error {
	if err := atLeastOne(v, dst); err != nil {
		return err
	}
	if *dst > maxThreshold {
		return fmt.Errorf("must be at most %d", maxThreshold)
	}
	return nil
}

// setRelaySecret refuses a secret with spaces or a line break at its ends:
// the other nodes' secret, written by hand, will not have them, and every
// relay would then be refused. A Kubernetes secret made with --from-file
// carries the file's trailing newline.
func setRelaySecret(c *Config, v string) error {
	if strings.TrimSpace(v) != v {
		return errors.New("has spaces or a line break at its start or end (a secret made from a file keeps the file's last newline)")
	}
	c.RelaySecret = v
	return nil
}

// checkNode checks NODE: it is the name this node's relays are accepted
// under, which its peers list as host[:port], so it must be one.
func checkNode(node string) error {
	if strings.Contains(node, "://") {
		return errors.New("must be host[:port], the name the other nodes list this node by, without a scheme")
	}
	if err := ValidateName(node); err != nil {
		return fmt.Errorf("must be host[:port], the name the other nodes list this node by: %v", err)
	}
	return nil
}

// Warnings are what a valid config may still get wrong, for the node to log
// at start.
func (c Config) Warnings() []string {
	var w []string
	if len(c.Peers) == 0 {
		w = append(w, "PEERS lists only this node ("+c.Node+"): it has no one to probe")
	}
	return w
}

func positiveDuration(v string, dst *time.Duration) error {
	d, err := time.ParseDuration(v)
	if err != nil {
		return errors.New("not a duration such as 5s, 500ms or 1m")
	}
	if d <= 0 {
		return errors.New("must be greater than zero")
	}
	*dst = d
	return nil
}

func setAlertQuorum(c *Config, v string) error {
	if v == "majority" {
		c.AlertQuorum = 0
		return nil
	}
	if err := atLeastOne(v, &c.AlertQuorum); err != nil {
		return errors.New("must be majority or a whole number of at least 1")
	}
	return nil
}

func atLeastOne(v string, dst *int) error {
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return errors.New("must be a whole number of at least 1")
	}
	*dst = n
	return nil
}

func setFollowups(c *Config, v string) error {
	var gaps []time.Duration
	for _, part := range splitNames(v) {
		var d time.Duration
		if err := positiveDuration(part, &d); err != nil {
			return fmt.Errorf("%q: %w", part, err)
		}
		gaps = append(gaps, d)
	}
	if len(gaps) == 0 {
		return errors.New("no gaps given, such as 15m,30m,1h")
	}
	c.FollowupIntervals = gaps
	return nil
}

func setLogLevel(c *Config, v string) error {
	switch v {
	case "trace", "debug", "info", "warn", "error":
	default:
		return errors.New("must be trace, debug, info, warn or error")
	}
	l, err := zerolog.ParseLevel(v)
	if err != nil {
		return err
	}
	c.LogLevel = l
	return nil
}

func setLogFormat(c *Config, v string) error {
	if v != "json" && v != "console" {
		return errors.New("must be json or console")
	}
	c.LogFormat = v
	return nil
}

func setAggregatorURL(c *Config, v string) error {
	// A path such as /ui/ lets a node send visitors to the page it serves.
	if strings.HasPrefix(v, "/") && !strings.HasPrefix(v, "//") {
		c.AggregatorURL = v
		return nil
	}
	if err := checkHTTPURL(v); err != nil {
		return errors.New("must be a path on this node starting with / (such as /ui/) or an absolute http or https URL")
	}
	c.AggregatorURL = v
	return nil
}

func setWebhookURL(c *Config, v string) error {
	if err := checkHTTPURL(v); err != nil {
		return err
	}
	c.WebhookURL = v
	return nil
}

func setWebhookFormat(c *Config, v string) error {
	if v != "auto" && v != "discord" && v != "slack" {
		return errors.New("must be auto, discord or slack")
	}
	c.WebhookFormat = v
	return nil
}

func checkHTTPURL(v string) error {
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("must be an absolute http or https URL")
	}
	return nil
}

// setDebugAddr takes only a loopback address: profiles expose the node's
// internals and cost CPU, so they are for someone on the machine itself.
func setDebugAddr(c *Config, v string) error {
	if err := checkListenAddr(v); err != nil {
		return err
	}
	host, _, _ := net.SplitHostPort(v)
	ip := net.ParseIP(host)
	if host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return errors.New("must be on loopback, such as 127.0.0.1:6060: profiles are not for the network")
	}
	c.DebugAddr = v
	return nil
}

func checkListenAddr(v string) error {
	_, port, err := net.SplitHostPort(v)
	if err != nil {
		return errors.New("must be host:port or :port")
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return errors.New("port must be a number 0-65535")
	}
	return nil
}
