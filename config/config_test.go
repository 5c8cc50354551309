package config

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

func envOf(m map[string]string) Env { return func(k string) string { return m[k] } }

func host() (string, error) { return "box.example", nil }

func load(t *testing.T, env map[string]string, args ...string) (Config, error) {
	t.Helper()
	var out bytes.Buffer
	return Load(args, envOf(env), host, &out)
}

func TestLoadDefaults(t *testing.T) {
	c, err := load(t, map[string]string{"PEERS": "a.example,b.example:8443"})
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		Node:              "box.example",
		Peers:             []Peer{{"a.example", "https://a.example"}, {"b.example:8443", "https://b.example:8443"}},
		AggregatorURL:     "/ui/",
		ListenAddr:        ":4000",
		PollInterval:      5 * time.Second,
		ProbeTimeout:      5 * time.Second,
		FailureThreshold:  4,
		SuccessThreshold:  1,
		Alerts:            AlertsNode,
		PartialAfter:      15 * time.Minute,
		FollowupIntervals: []time.Duration{15 * time.Minute, 30 * time.Minute, time.Hour, 2 * time.Hour, 5 * time.Hour},
		LogLevel:          zerolog.InfoLevel,
		LogFormat:         "json",
		WebhookFormat:     "discord",
		Cluster:           "mesh",
		CertWarn:          14 * 24 * time.Hour,
		LeaveGrace:        15 * time.Minute,
		Round:             10 * time.Second,
		Fresh:             30 * time.Second,
		Slot:              20 * time.Second,
	}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("defaults:\n got %+v\nwant %+v", c, want)
	}
}

func TestLoadAcceptsEverySetting(t *testing.T) {
	cases := []struct {
		name  string
		env   map[string]string
		args  []string
		check func(Config) bool
	}{
		{"a flag wins over the environment", map[string]string{"PEERS": "a", "POLL_INTERVAL": "1s"}, []string{"--poll-interval", "250ms"},
			func(c Config) bool { return c.PollInterval == 250*time.Millisecond }},
		{"every variable has a flag", nil, []string{"--peers=a,b", "--node=me", "--aggregator-url=https://agg.example/x", "--relay-secret=s3", "--webhook-url=https://hooks.example/t", "--webhook-format=slack", "--listen-addr=127.0.0.1:9", "--poll-interval=2s", "--probe-timeout=1s", "--failure-threshold=2", "--followup-intervals=1m,2m", "--state-file=/tmp/s.json", "--log-level=debug", "--log-format=console"},
			func(c Config) bool {
				return c.Node == "me" && len(c.Peers) == 2 && c.AggregatorURL == "https://agg.example/x" && c.RelaySecret == "s3" &&
					c.WebhookURL == "https://hooks.example/t" && c.WebhookFormat == "slack" && c.ListenAddr == "127.0.0.1:9" && c.PollInterval == 2*time.Second &&
					c.ProbeTimeout == time.Second && c.FailureThreshold == 2 && reflect.DeepEqual(c.FollowupIntervals, []time.Duration{time.Minute, 2 * time.Minute}) &&
					c.StateFile == "/tmp/s.json" && c.LogLevel == zerolog.DebugLevel && c.LogFormat == "console"
			}},
		{"a Slack URL gets the slack format", map[string]string{"PEERS": "a", "WEBHOOK_URL": "https://hooks.slack.com/services/T/B/x"}, nil,
			func(c Config) bool { return c.WebhookFormat == "slack" }},
		{"any other URL gets the discord format", map[string]string{"PEERS": "a", "WEBHOOK_URL": "https://discord.com/api/webhooks/1/x"}, nil,
			func(c Config) bool { return c.WebhookFormat == "discord" }},
		{"WEBHOOK_FORMAT overrides the URL", map[string]string{"PEERS": "a", "WEBHOOK_URL": "https://chat.example/hook", "WEBHOOK_FORMAT": "slack"}, nil,
			func(c Config) bool { return c.WebhookFormat == "slack" }},
		{"PORT sets the listen port", map[string]string{"PEERS": "a", "PORT": "8080"}, nil,
			func(c Config) bool { return c.ListenAddr == ":8080" }},
		{"LISTEN_ADDR wins over PORT", map[string]string{"PEERS": "a", "PORT": "8080", "LISTEN_ADDR": "127.0.0.1:9000"}, nil,
			func(c Config) bool { return c.ListenAddr == "127.0.0.1:9000" }},
		{"the aggregator may be a path on this node", map[string]string{"PEERS": "a", "AGGREGATOR_URL": "/ui/"}, nil,
			func(c Config) bool { return c.AggregatorURL == "/ui/" }},
		{"DEBUG_ADDR on loopback", map[string]string{"PEERS": "a", "DEBUG_ADDR": "127.0.0.1:6060"}, nil,
			func(c Config) bool { return c.DebugAddr == "127.0.0.1:6060" }},
		{"DEBUG_ADDR on IPv6 loopback or localhost", map[string]string{"PEERS": "a"}, []string{"--debug-addr=[::1]:6060"},
			func(c Config) bool { return c.DebugAddr == "[::1]:6060" }},
		{"a list naming only this node is a cluster of one, with a warning", map[string]string{"PEERS": "me", "NODE": "me"}, nil,
			func(c Config) bool {
				w := c.Warnings()
				return c.Peers != nil && len(c.Peers) == 0 && len(w) == 1 && strings.Contains(w[0], "only this node")
			}},
		{"a list with peers has no warning", map[string]string{"PEERS": "me,you", "NODE": "me"}, nil,
			func(c Config) bool { return len(c.Warnings()) == 0 }},
		{"TARGETS of every kind, with options, a password kept out of the name", map[string]string{"PEERS": "a", "TARGETS": "https://Shop.example/health\n http://u:pw@intra.example:8080/x?y=1#status=204&body=all%20good\ttcp://db.example:5432"}, nil,
			func(c Config) bool {
				return reflect.DeepEqual(c.Targets, []Target{
					{Name: "https://shop.example/health", URL: "https://shop.example/health"},
					{Name: "http://intra.example:8080/x?y=1", URL: "http://u:pw@intra.example:8080/x?y=1", Status: 204, Body: "all good"},
					{Name: "tcp://db.example:5432", Addr: "db.example:5432"},
				})
			}},
		{"CERT_WARN in days or as a duration", map[string]string{"PEERS": "a", "CERT_WARN": "30d"}, []string{"--cert-warn=30d"},
			func(c Config) bool { return c.CertWarn == 30*24*time.Hour }},
		{"CERT_WARN as a duration", map[string]string{"PEERS": "a", "CERT_WARN": "72h"}, nil,
			func(c Config) bool { return c.CertWarn == 72*time.Hour }},
		{"LEAVE_GRACE", map[string]string{"PEERS": "a", "LEAVE_GRACE": "2m"}, []string{"--leave-grace=2m"},
			func(c Config) bool { return c.LeaveGrace == 2*time.Minute }},
		{"LEAVE_GRACE=0 counts a stopped peer down at once", map[string]string{"PEERS": "a", "LEAVE_GRACE": "0"}, nil,
			func(c Config) bool { return c.LeaveGrace == 0 && c.ClusterRule().LeaveGrace == 0 }},
		{"MAINTENANCE, two windows", map[string]string{"PEERS": "a", "MAINTENANCE": "0 3 * * 0 2h Europe/Amsterdam; 30 4 1 * * 15m"}, nil,
			func(c Config) bool {
				return len(c.Maintenance) == 2 && c.Maintenance[0].Spec == "0 3 * * 0 2h Europe/Amsterdam" && c.Maintenance[1].For == 15*time.Minute
			}},
		{"a target's maintenance window", map[string]string{"PEERS": "a", "TARGETS": "https://shop.example/#maintenance=0+3+*+*+*+30m+UTC"}, nil,
			func(c Config) bool {
				return c.Targets[0].Name == "https://shop.example/" && len(c.Targets[0].Maintenance) == 1 && c.Targets[0].Maintenance[0].For == 30*time.Minute
			}},
		{"POLL_INTERVAL at the floor", map[string]string{"PEERS": "a", "POLL_INTERVAL": "100ms"}, nil,
			func(c Config) bool { return c.PollInterval == MinPollInterval }},
		{"ALERT_QUORUM is a majority by default", map[string]string{"PEERS": "a"}, nil,
			func(c Config) bool { return c.AlertQuorum == 0 }},
		{"ALERT_QUORUM may be one", map[string]string{"PEERS": "a", "ALERT_QUORUM": "1"}, nil,
			func(c Config) bool { return c.AlertQuorum == 1 }},
		{"SUCCESS_THRESHOLD", map[string]string{"PEERS": "a", "SUCCESS_THRESHOLD": "3"}, nil,
			func(c Config) bool { return c.SuccessThreshold == 3 }},
		{"ALERTS is cluster by default with RELAY_SECRET", map[string]string{"PEERS": "a", "RELAY_SECRET": "s"}, nil,
			func(c Config) bool { return c.Alerts == AlertsCluster }},
		{"ALERTS=node with RELAY_SECRET", map[string]string{"PEERS": "a", "RELAY_SECRET": "s", "ALERTS": "node"}, nil,
			func(c Config) bool { return c.Alerts == AlertsNode }},
		{"FOLLOWUP_INTERVALS separated by spaces as by commas", map[string]string{"PEERS": "a b", "FOLLOWUP_INTERVALS": "15m 30m, 1h"}, nil,
			func(c Config) bool {
				return len(c.Peers) == 2 && slices.Equal(c.FollowupIntervals, []time.Duration{15 * time.Minute, 30 * time.Minute, time.Hour})
			}},
		{"PARTIAL_AFTER is the first reminder gap by default", map[string]string{"PEERS": "a", "FOLLOWUP_INTERVALS": "2m,1h"}, nil,
			func(c Config) bool { return c.PartialAfter == 2*time.Minute }},
		{"PARTIAL_AFTER", map[string]string{"PEERS": "a", "PARTIAL_AFTER": "90s"}, nil,
			func(c Config) bool { return c.PartialAfter == 90*time.Second }},
		{"CONNECTIVITY_URL", map[string]string{"PEERS": "a", "CONNECTIVITY_URL": "https://example.org/"}, nil,
			func(c Config) bool { return c.ConnectivityURL == "https://example.org/" }},
		{"NOTIFY_URLS on lines and spaces, commas inside a URL kept", map[string]string{"PEERS": "a",
			"NOTIFY_URLS": "ntfy://ntfy.sh/mesh-alerts?tags=warning,skull\n  telegram://110201543:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw@telegram?chats=@mesh\tgeneric://hooks.example/in?template=json  matrix://user:pass@matrix.example/?rooms=!r:matrix.example"}, nil,
			func(c Config) bool {
				return reflect.DeepEqual(c.NotifyURLs, []NotifyURL{
					{"ntfy://ntfy.sh/mesh-alerts?tags=warning,skull", "ntfy"},
					{"telegram://110201543:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw@telegram?chats=@mesh", "telegram"},
					{"generic://hooks.example/in?template=json", "generic"},
					{"matrix://user:pass@matrix.example/?rooms=!r:matrix.example", "matrix"},
				})
			}},
		{"NOTIFY_URLS of a service with a custom URL form", map[string]string{"PEERS": "a", "NOTIFY_URLS": "generic+https://hooks.example/in"}, nil,
			func(c Config) bool { return len(c.NotifyURLs) == 1 && c.NotifyURLs[0].Service == "generic" }},
		{"ALERTMANAGER_URL gets the v2 alerts path", map[string]string{"PEERS": "a",
			"ALERTMANAGER_URL": "http://am1:9093 https://u:p@am2.example/prefix/ http://am3:9093/api/v2/alerts"}, nil,
			func(c Config) bool {
				return reflect.DeepEqual(c.AlertmanagerURLs, []string{"http://am1:9093/api/v2/alerts",
					"https://u:p@am2.example/prefix/api/v2/alerts", "http://am3:9093/api/v2/alerts"})
			}},
		{"CLUSTER", map[string]string{"PEERS": "a", "CLUSTER": "prod-eu.1"}, nil,
			func(c Config) bool { return c.Cluster == "prod-eu.1" }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := load(t, tc.env, tc.args...)
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(c) {
				t.Fatalf("unexpected config %+v", c)
			}
		})
	}
}

func TestLoadRejectsBadValues(t *testing.T) {
	cases := []struct {
		name  string
		env   map[string]string
		args  []string
		names []string // what the one-line error must mention
	}{
		{"missing PEERS", map[string]string{}, nil, []string{"PEERS"}},
		{"empty PEERS list", map[string]string{"PEERS": " , "}, nil, []string{"PEERS", `" , "`}},
		{"unparsable duration", map[string]string{"PEERS": "a", "POLL_INTERVAL": "often"}, nil, []string{"POLL_INTERVAL", `"often"`}},
		{"zero interval", map[string]string{"PEERS": "a", "POLL_INTERVAL": "0s"}, nil, []string{"POLL_INTERVAL", `"0s"`}},
		{"negative interval", map[string]string{"PEERS": "a", "POLL_INTERVAL": "-5s"}, nil, []string{"POLL_INTERVAL", `"-5s"`}},
		{"zero probe timeout", map[string]string{"PEERS": "a", "PROBE_TIMEOUT": "0"}, nil, []string{"PROBE_TIMEOUT", `"0"`}},
		{"threshold below one", map[string]string{"PEERS": "a", "FAILURE_THRESHOLD": "0"}, nil, []string{"FAILURE_THRESHOLD", `"0"`}},
		{"threshold not a number", map[string]string{"PEERS": "a", "FAILURE_THRESHOLD": "four"}, nil, []string{"FAILURE_THRESHOLD", `"four"`}},
		{"success threshold below one", map[string]string{"PEERS": "a", "SUCCESS_THRESHOLD": "0"}, nil, []string{"SUCCESS_THRESHOLD", `"0"`}},
		{"ALERT_QUORUM of zero", map[string]string{"PEERS": "a", "ALERT_QUORUM": "0"}, nil, []string{"ALERT_QUORUM", `"0"`, "majority"}},
		{"ALERTS of another mode", map[string]string{"PEERS": "a", "RELAY_SECRET": "s", "ALERTS": "everyone"}, nil, []string{"ALERTS", `"everyone"`, "cluster or node"}},
		{"ALERTS=cluster without relaying", map[string]string{"PEERS": "a", "ALERTS": "cluster"}, nil, []string{"ALERTS", `"cluster"`, "RELAY_SECRET"}},
		{"CONNECTIVITY_URL that is no URL", map[string]string{"PEERS": "a", "CONNECTIVITY_URL": "1.1.1.1:53"}, nil, []string{"CONNECTIVITY_URL", `"1.1.1.1:53"`}},
		{"PARTIAL_AFTER that is not a duration", map[string]string{"PEERS": "a", "PARTIAL_AFTER": "later"}, nil, []string{"PARTIAL_AFTER", `"later"`}},
		{"ALERT_QUORUM that is a word", map[string]string{"PEERS": "a", "ALERT_QUORUM": "most"}, nil, []string{"ALERT_QUORUM", `"most"`}},
		{"bad follow-up gap", map[string]string{"PEERS": "a", "FOLLOWUP_INTERVALS": "15m,soon"}, nil, []string{"FOLLOWUP_INTERVALS", `"15m,soon"`}},
		{"negative follow-up gap", map[string]string{"PEERS": "a", "FOLLOWUP_INTERVALS": "15m,-1h"}, nil, []string{"FOLLOWUP_INTERVALS"}},
		{"peer with another scheme", map[string]string{"PEERS": "ftp://a.example"}, nil, []string{"PEERS", "ftp://a.example"}},
		{"peer with a path", map[string]string{"PEERS": "https://a.example/ping"}, nil, []string{"PEERS", "https://a.example/ping"}},
		{"peer that is not a host", map[string]string{"PEERS": "a!b"}, nil, []string{"PEERS", `"a!b"`}},
		{"peer with a bad port", map[string]string{"PEERS": "a.example:99999"}, nil, []string{"PEERS", "a.example:99999"}},
		{"peer listed twice", map[string]string{"PEERS": "a.example,https://a.example"}, nil, []string{"PEERS", "twice"}},
		{"peer listed with and without its default port", map[string]string{"PEERS": "http://h.example:80,http://h.example"}, nil, []string{"PEERS", "twice"}},
		{"RELAY_SECRET with a trailing newline", map[string]string{"PEERS": "a", "RELAY_SECRET": "s3cret\n"}, nil, []string{"RELAY_SECRET", "newline"}},
		{"RELAY_SECRET with spaces at the ends", map[string]string{"PEERS": "a", "RELAY_SECRET": " s3cret "}, nil, []string{"RELAY_SECRET", "spaces"}},
		{"POLL_INTERVAL below the floor", map[string]string{"PEERS": "a", "POLL_INTERVAL": "1ns"}, nil, []string{"POLL_INTERVAL", `"1ns"`, "at least 100ms"}},
		{"POLL_INTERVAL of a year", map[string]string{"PEERS": "a", "POLL_INTERVAL": "8760h"}, nil, []string{"POLL_INTERVAL", `"8760h"`, "at most 1h"}},
		{"PROBE_TIMEOUT of 10000h", map[string]string{"PEERS": "a", "PROBE_TIMEOUT": "10000h"}, nil, []string{"PROBE_TIMEOUT", `"10000h"`, "at most 1m"}},
		{"FAILURE_THRESHOLD of 2^63-1", map[string]string{"PEERS": "a", "FAILURE_THRESHOLD": "9223372036854775807"}, nil, []string{"FAILURE_THRESHOLD", "at most 1000"}},
		{"SUCCESS_THRESHOLD past the bound", map[string]string{"PEERS": "a", "SUCCESS_THRESHOLD": "1001"}, nil, []string{"SUCCESS_THRESHOLD", "at most 1000"}},
		{"ALERT_QUORUM above the cluster", map[string]string{"PEERS": "a,b,c,d", "ALERT_QUORUM": "100"}, nil, []string{"ALERT_QUORUM", `"100"`, "more than the 5 nodes"}},
		{"FOLLOWUP_INTERVALS of 1ns", map[string]string{"PEERS": "a", "FOLLOWUP_INTERVALS": "1ns"}, nil, []string{"FOLLOWUP_INTERVALS", `"1ns"`, "below 20s"}},
		{"FOLLOWUP_INTERVALS of 1ms, a typo for 1m", map[string]string{"PEERS": "a", "FOLLOWUP_INTERVALS": "15m,1ms"}, nil, []string{"FOLLOWUP_INTERVALS", "1ms is below 20s"}},
		{"FOLLOWUP_INTERVALS faster than a chat service takes them", map[string]string{"PEERS": "a", "POLL_INTERVAL": "100ms", "PROBE_TIMEOUT": "100ms", "FOLLOWUP_INTERVALS": "500ms"}, nil, []string{"FOLLOWUP_INTERVALS", "below 1s"}},
		{"DEBUG_ADDR on the node's own port", map[string]string{"PEERS": "a", "PORT": "4000", "DEBUG_ADDR": "127.0.0.1:4000"}, nil, []string{"DEBUG_ADDR", "127.0.0.1:4000", "port of its own"}},
		{"NODE with a scheme", map[string]string{"PEERS": "a", "NODE": "http://nov.example"}, nil, []string{"NODE", "without a scheme"}},
		{"NODE with markup", map[string]string{"PEERS": "a", "NODE": "<b>nov</b>"}, nil, []string{"NODE", "host[:port]"}},
		{"NODE of 10000 characters", map[string]string{"PEERS": "a", "NODE": strings.Repeat("n", 10000)}, nil, []string{"NODE", "longer than 253"}},
		{"peer with credentials", map[string]string{"PEERS": "https://u:p@a.example"}, nil, []string{"PEERS"}},
		{"unknown log level", map[string]string{"PEERS": "a", "LOG_LEVEL": "loud"}, nil, []string{"LOG_LEVEL", `"loud"`}},
		{"unknown webhook format", map[string]string{"PEERS": "a", "WEBHOOK_FORMAT": "teams"}, nil, []string{"WEBHOOK_FORMAT", `"teams"`}},
		{"unknown log format", map[string]string{"PEERS": "a", "LOG_FORMAT": "xml"}, nil, []string{"LOG_FORMAT", `"xml"`}},
		{"aggregator that is not a URL", map[string]string{"PEERS": "a", "AGGREGATOR_URL": "mesh.example"}, nil, []string{"AGGREGATOR_URL", `"mesh.example"`}},
		{"listen address without a port", map[string]string{"PEERS": "a", "LISTEN_ADDR": "localhost"}, nil, []string{"LISTEN_ADDR", `"localhost"`}},
		{"PORT out of range", map[string]string{"PEERS": "a", "PORT": "70000"}, nil, []string{"PORT", `"70000"`}},
		{"NODE with a newline", map[string]string{"PEERS": "a", "NODE": "a\nb"}, nil, []string{"NODE"}},
		{"bad flag value names the flag", map[string]string{"PEERS": "a"}, []string{"--poll-interval=x"}, []string{"--poll-interval", `"x"`}},
		{"unknown flag", map[string]string{"PEERS": "a"}, []string{"--nope"}, []string{"nope"}},
		{"DEBUG_ADDR on every interface", map[string]string{"PEERS": "a", "DEBUG_ADDR": ":6060"}, nil, []string{"DEBUG_ADDR", `":6060"`, "loopback"}},
		{"DEBUG_ADDR on a public address", map[string]string{"PEERS": "a", "DEBUG_ADDR": "192.0.2.7:6060"}, nil, []string{"DEBUG_ADDR", "loopback"}},
		{"DEBUG_ADDR without a port", map[string]string{"PEERS": "a", "DEBUG_ADDR": "127.0.0.1"}, nil, []string{"DEBUG_ADDR"}},
		{"stray argument", map[string]string{"PEERS": "a"}, []string{"extra"}, []string{`"extra"`}},
		{"NOTIFY_URLS of an unknown service", map[string]string{"PEERS": "a", "NOTIFY_URLS": "ntfy://ntfy.sh/x carrier-pigeon://coop/roof"}, nil,
			[]string{"NOTIFY_URLS", "entry 2", `"carrier-pigeon"`, "telegram"}},
		{"NOTIFY_URLS entry that is no URL", map[string]string{"PEERS": "a", "NOTIFY_URLS": "hooks.example/in"}, nil, []string{"NOTIFY_URLS", "entry 1"}},
		{"NOTIFY_URLS entry Shoutrrr refuses", map[string]string{"PEERS": "a", "NOTIFY_URLS": "telegram://110201543:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw@telegram"}, nil,
			[]string{"NOTIFY_URLS", "entry 1 (telegram)"}},
		{"NOTIFY_URLS past the limit", map[string]string{"PEERS": "a", "NOTIFY_URLS": strings.Repeat("ntfy://ntfy.sh/x ", MaxNotifyURLs+1)}, nil,
			[]string{"NOTIFY_URLS", "more than 16"}},
		{"ALERTMANAGER_URL without a scheme", map[string]string{"PEERS": "a", "ALERTMANAGER_URL": "am:9093"}, nil, []string{"ALERTMANAGER_URL", "entry 1"}},
		{"CLUSTER with a space", map[string]string{"PEERS": "a", "CLUSTER": "prod eu"}, nil, []string{"CLUSTER", `"prod eu"`}},
		{"TARGETS entry of another scheme", map[string]string{"PEERS": "a", "TARGETS": "https://a.example ftp://files.example/"}, nil,
			[]string{"TARGETS", "entry 2", "ftp://files.example/", "http, https or tcp"}},
		{"TARGETS entry that is no URL", map[string]string{"PEERS": "a", "TARGETS": "shop.example"}, nil, []string{"TARGETS", "entry 1", "not a URL"}},
		{"TARGETS tcp entry without a port", map[string]string{"PEERS": "a", "TARGETS": "tcp://db.example"}, nil, []string{"TARGETS", "tcp://db.example", "port"}},
		{"TARGETS tcp entry with a path", map[string]string{"PEERS": "a", "TARGETS": "tcp://db.example:5432/x"}, nil, []string{"TARGETS", "nothing after"}},
		{"TARGETS entry with a bad status", map[string]string{"PEERS": "a", "TARGETS": "https://a.example/#status=2xx"}, nil, []string{"TARGETS", "https://a.example/", "status=2xx"}},
		{"TARGETS entry with an unknown option", map[string]string{"PEERS": "a", "TARGETS": "https://a.example/#timeout=3s"}, nil, []string{"TARGETS", `"timeout"`}},
		{"TARGETS entry with an empty body word", map[string]string{"PEERS": "a", "TARGETS": "https://a.example/#body="}, nil, []string{"TARGETS", "body="}},
		{"TARGETS entry listed twice", map[string]string{"PEERS": "a", "TARGETS": "https://a.example/ https://A.example/#status=200"}, nil, []string{"TARGETS", "entry 2", "twice"}},
		{"TARGETS entries apart only by case", map[string]string{"PEERS": "a", "TARGETS": "https://a.example/Shop https://a.example/shop"}, nil, []string{"TARGETS", "entry 2", "another case"}},
		{"AGGREGATOR_URL of a path without its slash", map[string]string{"PEERS": "a", "AGGREGATOR_URL": "ui"}, nil, []string{"AGGREGATOR_URL", `"ui"`, "starting with /", "/ui/"}},
		{"CERT_WARN in weeks", map[string]string{"PEERS": "a", "CERT_WARN": "2w"}, nil, []string{"CERT_WARN", `"2w"`, "14d"}},
		{"TARGETS separated by commas", map[string]string{"PEERS": "a", "TARGETS": "https://a.example/health,https://b.example/"}, nil,
			[]string{"TARGETS", "entry 1", `",https://"`, "spaces or line breaks"}},
		{"NOTIFY_URLS separated by commas", map[string]string{"PEERS": "a", "NOTIFY_URLS": "ntfy://ntfy.sh/x?tags=a,b, gotify://g.example/T,ntfy://ntfy.sh/y"}, nil,
			[]string{"NOTIFY_URLS", "entry 2", `",ntfy://"`}},
		{"ALERTMANAGER_URL separated by commas", map[string]string{"PEERS": "a", "ALERTMANAGER_URL": "http://am1:9093,http://am2:9093"}, nil,
			[]string{"ALERTMANAGER_URL", "entry 1", `",http://"`}},
		{"FOLLOWUP_INTERVALS of nothing but commas", map[string]string{"PEERS": "a", "FOLLOWUP_INTERVALS": ","}, nil, []string{"FOLLOWUP_INTERVALS", "no gaps"}},
		{"TARGETS past the limit", map[string]string{"PEERS": "a", "TARGETS": strings.Repeat("tcp://a.example:1 ", MaxTargets+1)}, nil, []string{"TARGETS", "more than 100"}},
		{"CERT_WARN of no days", map[string]string{"PEERS": "a", "CERT_WARN": "0d"}, nil, []string{"CERT_WARN", `"0d"`}},
		{"MAINTENANCE without a duration", map[string]string{"PEERS": "a", "MAINTENANCE": "0 3 * * 0"}, nil, []string{"MAINTENANCE", "five fields"}},
		{"MAINTENANCE of a bad cron", map[string]string{"PEERS": "a", "MAINTENANCE": "0 25 * * 0 2h"}, nil, []string{"MAINTENANCE", "cron expression"}},
		{"MAINTENANCE in no time zone", map[string]string{"PEERS": "a", "MAINTENANCE": "0 3 * * 0 2h Mars/Olympus"}, nil, []string{"MAINTENANCE", "time zone"}},
		{"MAINTENANCE of two days", map[string]string{"PEERS": "a", "MAINTENANCE": "0 3 * * 0 48h"}, nil, []string{"MAINTENANCE", "duration"}},
		{"a target's bad window", map[string]string{"PEERS": "a", "TARGETS": "https://shop.example/#maintenance=soon"}, nil, []string{"TARGETS", "maintenance="}},
		{"LEAVE_GRACE below zero", map[string]string{"PEERS": "a", "LEAVE_GRACE": "-1m"}, nil, []string{"LEAVE_GRACE", `"-1m"`}},
		{"LEAVE_GRACE over a day", map[string]string{"PEERS": "a", "LEAVE_GRACE": "25h"}, nil, []string{"LEAVE_GRACE", `"25h"`}},
		{"CERT_WARN that is a word", map[string]string{"PEERS": "a", "CERT_WARN": "soon"}, nil, []string{"CERT_WARN", `"soon"`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := load(t, tc.env, tc.args...)
			if err == nil {
				t.Fatal("accepted a bad value")
			}
			msg := err.Error()
			if strings.Contains(msg, "\n") {
				t.Errorf("error spans several lines: %q", msg)
			}
			for _, n := range tc.names {
				if !strings.Contains(msg, n) {
					t.Errorf("error %q does not mention %s", msg, n)
				}
			}
		})
	}
}

func TestATargetsPasswordIsNeverEchoed(t *testing.T) {
	_, err := load(t, map[string]string{"PEERS": "a", "TARGETS": "https://admin:hunter2@a.example/#status=9"})
	if err == nil || !strings.Contains(err.Error(), "https://a.example/") || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("error must name the target without its password, got %v", err)
	}
}

func TestValidateTargetNameTakesOnlyWhatParseTargetMakes(t *testing.T) {
	for _, ok := range []string{"https://a.example/health", "http://a.example:8080/x?y=1", "tcp://db.example:5432"} {
		if err := ValidateTargetName(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{"https://u:p@a.example/", "https://a.example/#status=204", "HTTPS://A.example/", "a.example", "tcp://db.example", strings.Repeat("https://a.example/", 40)} {
		if ValidateTargetName(bad) == nil {
			t.Errorf("%s taken as a target's name", bad)
		}
	}
}

func TestLoadNeverEchoesSecrets(t *testing.T) {
	_, err := load(t, map[string]string{"PEERS": "a", "WEBHOOK_URL": "discord.example/api/webhooks/1/t0ken"})
	if err == nil || !strings.Contains(err.Error(), "WEBHOOK_URL") || strings.Contains(err.Error(), "t0ken") {
		t.Fatalf("error must name WEBHOOK_URL without its token, got %v", err)
	}
	for _, bad := range []map[string]string{
		{"NOTIFY_URLS": "telegram://110201543:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw@telegram"},
		{"NOTIFY_URLS": "pushover://shoutrrr:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw@/?devices=a"},
		{"NOTIFY_URLS": "smtp://AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw@mail.example:25/?fromaddress=&toaddresses="},
		{"NOTIFY_URLS": "gotify://gotify.example/AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw?priority=loud"},
		{"ALERTMANAGER_URL": "am://u:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw@am:9093"},
	} {
		bad["PEERS"] = "a"
		_, err := load(t, bad)
		if err == nil || strings.Contains(err.Error(), "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw") {
			t.Errorf("%v: error must not hold the token, got %v", bad, err)
		}
		t.Log(err)
	}
}

func TestRedactTakesEverySecretPartOfAURL(t *testing.T) {
	raw := "telegram://110201543:AAHd%2FqTcv@telegram/path-secret?chats=@mesh-chat&title=Mesh#frag-secret"
	text := `Post "https://api.telegram.org/bot110201543:AAHd/qTcv/sendMessage": path-secret, @mesh-chat, frag-secret, ` + raw
	got := Redact(text, raw)
	for _, secret := range []string{"110201543", "AAHd/qTcv", "AAHd%2FqTcv", "path-secret", "@mesh-chat", "frag-secret"} {
		if strings.Contains(got, secret) {
			t.Errorf("%q left in %q", secret, got)
		}
	}
	if !strings.Contains(got, "api.telegram.org") {
		t.Errorf("the host went too: %q", got)
	}
}

func TestHelpListsEverySettingWithDefaults(t *testing.T) {
	var out bytes.Buffer
	_, err := Load([]string{"--help"}, envOf(nil), host, &out)
	if !errors.Is(err, ErrHelp) {
		t.Fatalf("--help returned %v", err)
	}
	for _, s := range settings {
		if !strings.Contains(out.String(), "--"+s.flag) || !strings.Contains(out.String(), s.env) {
			t.Errorf("--help does not list --%s / %s", s.flag, s.env)
		}
	}
	for _, def := range []string{"5s", "15m,30m,1h,2h,5h", "/ui/", "4000"} {
		if !strings.Contains(out.String(), def) {
			t.Errorf("--help does not show the default %s", def)
		}
	}
}

func TestVersionFlag(t *testing.T) {
	if _, err := load(t, nil, "--version"); !errors.Is(err, ErrVersion) {
		t.Fatalf("--version returned %v", err)
	}
}

func TestParsePeers(t *testing.T) {
	cases := []struct {
		name, list, node string
		want             []Peer
	}{
		{"a bare host is probed over https", "dec.mesh.dupunkto.org", "", []Peer{{"dec.mesh.dupunkto.org", "https://dec.mesh.dupunkto.org"}}},
		{"host:port keeps the port", "dec.example:8443", "", []Peer{{"dec.example:8443", "https://dec.example:8443"}}},
		{"a URL keeps its scheme", "http://127.0.0.1:4001", "", []Peer{{"127.0.0.1:4001", "http://127.0.0.1:4001"}}},
		{"a trailing slash is allowed", "http://a.example/", "", []Peer{{"a.example", "http://a.example"}}},
		{"names are case-insensitive", "DEC.Example", "", []Peer{{"dec.example", "https://dec.example"}}},
		{"an IPv6 literal", "[::1]:4000", "", []Peer{{"[::1]:4000", "https://[::1]:4000"}}},
		{"this node is skipped", "a.example, b.example ,c.example", "b.example", []Peer{{"a.example", "https://a.example"}, {"c.example", "https://c.example"}}},
		{"this node is skipped when given as a URL", "https://a.example,b.example", "a.example", []Peer{{"b.example", "https://b.example"}}},
		{"empty entries are ignored", "a.example,,", "", []Peer{{"a.example", "https://a.example"}}},
		{"spaces and line breaks separate as commas do", "a.example b.example\n\thttp://c.example:4000", "", []Peer{{"a.example", "https://a.example"}, {"b.example", "https://b.example"}, {"c.example:4000", "http://c.example:4000"}}},
		{"the scheme's own port is left out of the name", "http://a.example:80,https://b.example:443", "", []Peer{{"a.example", "http://a.example"}, {"b.example", "https://b.example"}}},
		{"another scheme's port stays", "http://a.example:443,https://b.example:80", "", []Peer{{"a.example:443", "http://a.example:443"}, {"b.example:80", "https://b.example:80"}}},
		{"this node is skipped when NODE has the default port", "http://a.example:80,b.example", "a.example:80", []Peer{{"b.example", "https://b.example"}}},
		{"this node is skipped when NODE has no port", "http://a.example:80,b.example", "a.example", []Peer{{"b.example", "https://b.example"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParsePeers(tc.list, tc.node)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestValidateName(t *testing.T) {
	good := []string{"a", "a.example", "a-b.example:1", "node_1.local:65535", "10.0.0.1", "10.0.0.1:80", "[::1]", "[2001:db8::1]:443", strings.Repeat("a.", 126) + "a"}
	bad := []string{"", "a b", "-a.example", "a-.example", "a..b", "a:0", "a:65536", "a:08", "a:x", "::1", "<script>", strings.Repeat("a", 64), strings.Repeat("a.", 127) + "a", "[nope]"}
	for _, n := range good {
		if err := ValidateName(n); err != nil {
			t.Errorf("ValidateName(%q) = %v, want ok", n, err)
		}
	}
	for _, n := range bad {
		if err := ValidateName(n); err == nil {
			t.Errorf("ValidateName(%q) accepted a bad name", n)
		}
	}
}

func TestListenAddrNeedsOnlyPortAndListenAddr(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want string
		err  string
	}{
		{map[string]string{}, ":4000", ""},
		{map[string]string{"PORT": "5000"}, ":5000", ""},
		{map[string]string{"PORT": "5000", "LISTEN_ADDR": "127.0.0.1:6000"}, "127.0.0.1:6000", ""},
		{map[string]string{"PORT": "http"}, "", `invalid PORT="http"`},
		{map[string]string{"LISTEN_ADDR": "localhost"}, "", `invalid LISTEN_ADDR="localhost"`},
	} {
		got, err := ListenAddr(func(k string) string { return tc.env[k] })
		if got != tc.want || (err == nil) != (tc.err == "") || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%v: got %q, %v; want %q, %q", tc.env, got, err, tc.want, tc.err)
		}
	}
}

// Every example URL README's Notifications section gives for NOTIFY_URLS
// is one Shoutrrr takes.
func TestTheREADMEsNotifyURLsAreValid(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, _ := strings.Cut(string(readme), "### Chat, push and e-mail: `NOTIFY_URLS`")
	section, _, _ = strings.Cut(section, "\n### ")
	urls := regexp.MustCompile("`([a-z+]+://[^` ]+)`").FindAllStringSubmatch(section, -1)
	if len(urls) < 8 {
		t.Fatalf("found %d example URLs in README's NOTIFY_URLS section, want one per common service", len(urls))
	}
	for _, u := range urls {
		var c Config
		if err := setNotifyURLs(&c, u[1]); err != nil {
			t.Errorf("README's %s: %v", u[1], err)
		}
	}
}

// STATE_FILE must name a file in a directory that exists, or nothing yet:
// a typo stops the node at start, with one line naming the setting.
func TestStateFileMustBeAFileInAnExistingDirectory(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "state.json")
	if err := os.WriteFile(file, []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{
		filepath.Join(dir, "new.json"):           "",
		file:                                     "",
		filepath.Join(dir, "missing", "s.json"):  "does not exist",
		dir:                                      "is a directory",
		filepath.Join(file, "under-a-file.json"): "is not a directory",
	} {
		c, err := load(t, map[string]string{"PEERS": "a", "STATE_FILE": path})
		if err == nil {
			err = c.CheckStateFile()
		}
		switch {
		case want == "" && (err != nil || c.StateFile != path):
			t.Errorf("%s: %v, state file %q", path, err, c.StateFile)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want) || !strings.HasPrefix(err.Error(), "invalid STATE_FILE=")):
			t.Errorf("%s: %v, want an error about STATE_FILE that says %q", path, err, want)
		}
	}
}
