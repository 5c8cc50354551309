package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	mathrand "math/rand/v2"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"
	"github.com/thejerf/suture/v4"

	"github.com/dupunkto/mesh/actors"
	"github.com/dupunkto/mesh/actors/fatal"
	"github.com/dupunkto/mesh/config"
)

// runDemo is `mesh demo`: three nodes (or --nodes) in this process on
// loopback, relaying to each other, watching the demo's two targets,
// serving the page, telling the demo's own chat of their outages; every so
// often one of them goes down for a while (or, with --isolate, is first cut
// off), and so does a target, so that the page and the chat have something
// to show.
func runDemo(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("mesh demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	port := fs.Int("port", 4001, "port of the first node; the others take the next ports, then the demo's chat and its targets")
	count := fs.Int("nodes", 3, "how many nodes, 3 to 12")
	every := fs.Duration("outage-every", 45*time.Second, "how often an outage begins")
	lasting := fs.Duration("outage-for", 25*time.Second, "how long an outage lasts")
	isolate := fs.Bool("isolate", false, "make the first outage a node cut off the network, not one gone: it stays up, sees every peer fail, and stays silent")
	logFormat := fs.String("log-format", "console", "json or console")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitConfig
	}
	if *count < 3 || *count > 12 || *port < 1 || *port+*count+1 > 65535 || *lasting <= 0 || *every <= *lasting || (*logFormat != "json" && *logFormat != "console") {
		fmt.Fprintln(stderr, "mesh demo: --nodes must be 3-12, --port 1-65535 with room for the nodes, the chat and the targets after it, --outage-for positive and shorter than --outage-every, --log-format json or console")
		return exitConfig
	}

	dir, err := os.MkdirTemp("", "mesh-demo-")
	if err != nil {
		fmt.Fprintf(stderr, "mesh demo: %v\n", err)
		return exitFailed
	}
	defer os.RemoveAll(dir)

	chat, err := newDemoChat(fmt.Sprintf("127.0.0.1:%d", *port+*count), stdout)
	if err != nil {
		fmt.Fprintf(stderr, "mesh demo: the demo's chat: %v\n", err)
		return exitFailed
	}
	targets, err := newDemoTargets(fmt.Sprintf("127.0.0.1:%d", *port+*count+1), rhythm{every: *every, lasting: *lasting, offset: *every / 2})
	if err != nil {
		fmt.Fprintf(stderr, "mesh demo: the demo's targets: %v\n", err)
		return exitFailed
	}
	var urls []string
	for i := range *count {
		urls = append(urls, fmt.Sprintf("http://127.0.0.1:%d", *port+i))
	}
	secret := rand.Text() // the demo's nodes relay to each other, and to nobody else
	var configs []config.Config
	for i, u := range urls {
		name := strings.TrimPrefix(u, "http://")
		env := map[string]string{
			"NODE":           name,
			"PEERS":          strings.Join(urls, ","),
			"LISTEN_ADDR":    name,
			"AGGREGATOR_URL": "/ui/",
			"RELAY_SECRET":   secret,
			"POLL_INTERVAL":  "1s",
			"PROBE_TIMEOUT":  "1s",
			"STATE_FILE":     filepath.Join(dir, fmt.Sprintf("node%d.json", i)),
			"LOG_FORMAT":     *logFormat,
			// The cluster's alerts, to the demo's chat, with a reminder
			// within an outage of the defaults.
			"WEBHOOK_URL":        chat.hookURL(),
			"FOLLOWUP_INTERVALS": "15s",
			// Two services every node watches too, one with outages.
			"TARGETS": strings.Join(targets.urls(), " "),
		}
		cfg, err := config.Load(nil, func(k string) string { return env[k] }, os.Hostname, io.Discard)
		if err != nil {
			fmt.Fprintf(stderr, "mesh demo: %v\n", err)
			return exitFailed
		}
		configs = append(configs, cfg)
	}

	demoCfg := configs[0]
	demoCfg.Node = "demo"
	log := newLogger(stdout, demoCfg)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	root := suture.New("demo", supervisorSpec(log))
	c := &chaos{sup: root, rhythm: rhythm{every: *every, lasting: *lasting}, isolate: *isolate, rng: mathrand.New(mathrand.NewPCG(uint64(time.Now().UnixNano()), 1)), log: log}
	var started []*node
	for _, cfg := range configs {
		nodeLog := newLogger(stdout, cfg)
		m := demoMember{cfg: cfg, log: nodeLog}
		m.cut = c.network.cutFor(cfg.ListenAddr)
		n := newNode(cfg, nil, nodeLog, m.cut)
		started = append(started, n)
		m.token = root.Add(n)
		c.members = append(c.members, m)
	}
	root.Add(c)
	root.Add(chat)
	targets.log = log
	root.Add(targets)

	served := root.ServeBackground(ctx)
	// Point people at the page only once every node answers.
	for _, n := range started {
		select {
		case <-n.server.Ready():
		case err = <-served:
			return demoExit(ctx, log, err)
		}
	}
	first := ""
	if *isolate {
		first = " The first time, it is cut off the network instead: it stays up, sees every peer fail and says nothing, while the others tell of it."
	}
	fmt.Fprintf(stdout, "Mesh demo: %d nodes on %s, watching two targets too: %s.\nOpen http://127.0.0.1:%d/ui/?refresh=2&messages=%s to watch them. Every %s one node goes down for %s, and so does the shop, half a period later.%s What the cluster would tell your chat appears below and on the page. Ctrl-C stops.\n",
		*count, strings.Join(urls, ", "), strings.Join(targets.urls(), " and "), *port, chat.messagesURL(), every, lasting, first)
	return demoExit(ctx, log, <-served)
}

// demoExit logs why the demo stopped and returns the exit code.
func demoExit(ctx context.Context, log zerolog.Logger, err error) int {
	if code, ok := fatal.ExitCode(err); ok {
		log.Error().Err(err).Msg("demo stopped")
		return code
	}
	if ctx.Err() == nil {
		log.Error().Err(err).Msg("demo stopped unexpectedly")
		return exitFailed
	}
	log.Info().Msg("demo stopped")
	return exitOK
}

// demoMember is one node of the demo, the token of its tree in the demo
// supervisor, so that the chaos service can take it out and put it back,
// and the cut its connections ask.
type demoMember struct {
	cfg   config.Config
	log   zerolog.Logger
	cut   actors.Cut
	token suture.ServiceToken
}

// chaos takes one demo node down every so often and brings it back, as a
// crash and a restart would: the node's whole tree stops, and a new one
// starts later from its state file. With isolate, the first outage cuts a
// node off the network instead (demoNetwork).
type chaos struct {
	sup     *suture.Supervisor
	members []demoMember
	network demoNetwork
	rhythm  rhythm
	isolate bool // the next outage is a cut, not a crash
	rng     *mathrand.Rand
	log     zerolog.Logger
}

func (c *chaos) String() string { return "demo-chaos" }

func (c *chaos) Serve(ctx context.Context) error {
	return c.rhythm.run(ctx, func(ctx context.Context) bool {
		m := &c.members[c.rng.IntN(len(c.members))]
		if c.isolate {
			c.isolate = false
			return c.cutOff(ctx, m)
		}
		c.log.Warn().Str("peer", m.cfg.Node).Str("duration", c.rhythm.lasting.String()).Msg("demo: taking a node down")
		if err := c.sup.RemoveAndWait(m.token, 5*time.Second); err != nil {
			c.log.Error().Err(err).Str("peer", m.cfg.Node).Msg("demo: node did not stop")
		}
		if !wait(ctx, c.rhythm.lasting) {
			return false
		}
		c.log.Info().Str("peer", m.cfg.Node).Msg("demo: bringing the node back")
		m.token = c.sup.Add(newNode(m.cfg, nil, m.log, m.cut))
		return true
	})
}

// cutOff cuts m off the network for one outage and puts it back; false
// when ctx ended first.
func (c *chaos) cutOff(ctx context.Context, m *demoMember) bool {
	c.log.Warn().Str("peer", m.cfg.Node).Str("duration", c.rhythm.lasting.String()).Msg("demo: cutting a node off the network")
	c.network.isolate(m.cfg.ListenAddr)
	defer c.network.isolate("")
	if !wait(ctx, c.rhythm.lasting) {
		return false
	}
	c.log.Info().Str("peer", m.cfg.Node).Msg("demo: putting the node back on the network")
	return true
}
