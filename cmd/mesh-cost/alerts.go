package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/Shopify/toxiproxy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"gonum.org/v1/gonum/stat/distuv"
)

// scale is how much faster than the defaults (POLL_INTERVAL=5s,
// PROBE_TIMEOUT=5s) the runs go at 100ms: a day is 1728 s of run.
func scale(o options) float64 { return 5 * float64(time.Second) / float64(o.interval) }

// chatCounter is a webhook that counts the messages about each peer, by
// their mark, and keeps their texts.
type chatCounter struct {
	mu    sync.Mutex
	count map[string]map[string]int // peer -> mark -> messages
	texts map[string][]string       // peer -> messages, in order
}

// marks returns how many messages about peer came, by mark.
func (c *chatCounter) marks(peer string) map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.count[peer])
}

// about returns the messages about peer, in order.
func (c *chatCounter) about(peer string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.texts[peer])
}

func (c *chatCounter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var m struct {
		Content string `json:"content"`
	}
	if json.NewDecoder(r.Body).Decode(&m) == nil {
		parts := strings.Split(m.Content, "`")
		mark := strings.Fields(m.Content)[0]
		c.mu.Lock()
		if len(parts) > 1 {
			if c.count[parts[1]] == nil {
				c.count[parts[1]] = map[string]int{}
			}
			c.count[parts[1]][mark]++
			if c.texts == nil {
				c.texts = map[string][]string{}
			}
			c.texts[parts[1]] = append(c.texts[parts[1]], m.Content)
		}
		c.mu.Unlock()
	}
	w.WriteHeader(http.StatusNoContent)
}

// measureAlerts runs o.nodes real nodes that reach each other only through
// toxiproxy, each proxy leaving a fraction o.stall of connections
// unanswered (a probe is a fresh connection, so each stalls on its own),
// with ALERTS=o.alerts and a webhook that counts what reaches the chat.
// Nobody ever goes down: every down message is a false alarm.
func measureAlerts(o options, dir string, out io.Writer) error {
	server := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), zerolog.Nop())
	chat := &chatCounter{count: map[string]map[string]int{}}
	hook := httptest.NewServer(chat)
	defer hook.Close()

	var names, reals, urls []string
	var proxies []*toxiproxy.Proxy
	addrs, err := freeAddrs(2 * o.nodes)
	if err != nil {
		return err
	}
	for i := range o.nodes {
		name, real := addrs[2*i], addrs[2*i+1]
		p := toxiproxy.NewProxy(server, fmt.Sprintf("node%d", i), name, real)
		if err := p.Start(); err != nil {
			return err
		}
		defer p.Stop()
		names, reals, urls, proxies = append(names, name), append(reals, real), append(urls, "http://"+name), append(proxies, p)
	}
	// Reminders and PARTIAL_AFTER scaled as the interval is.
	gap := time.Duration(float64(15*time.Minute) / scale(o))
	for i := range o.nodes {
		env := []string{"NODE=" + names[i], "LISTEN_ADDR=" + reals[i], "PEERS=" + strings.Join(urls, ","),
			"POLL_INTERVAL=" + o.interval.String(), "PROBE_TIMEOUT=" + o.timeout.String(), fmt.Sprintf("FAILURE_THRESHOLD=%d", o.threshold),
			"RELAY_SECRET=mesh-cost", "WEBHOOK_URL=" + hook.URL + "/hook", "ALERTS=" + o.alerts, "FOLLOWUP_INTERVALS=" + gap.String()}
		p, err := start(o.mesh, env, nil, filepath.Join(dir, fmt.Sprintf("node%d.log", i)))
		if err != nil {
			return err
		}
		defer p.stop()
	}
	if err := waitFor(30*time.Second, func() bool {
		for _, r := range reals {
			if !seesAllUp("http://"+r, o.nodes-1) {
				return false
			}
		}
		return true
	}); err != nil {
		return fmt.Errorf("waiting for every node to see every other up: %w", err)
	}
	time.Sleep(5 * o.interval)
	downs0 := 0.0
	for _, r := range reals {
		d, err := downsSoFar("http://" + r)
		if err != nil {
			return err
		}
		downs0 += d
	}
	chat.mu.Lock()
	clear(chat.count) // whatever came before the faults is not counted
	chat.mu.Unlock()

	for _, p := range proxies {
		// A timeout of 0 holds the connection without a byte until it is
		// closed: the probe runs into PROBE_TIMEOUT.
		toxic := fmt.Sprintf(`{"name":"stall","type":"timeout","stream":"upstream","toxicity":%g,"attributes":{"timeout":0}}`, o.stall)
		if _, err := p.Toxics.AddToxicJson(strings.NewReader(toxic)); err != nil {
			return err
		}
	}
	time.Sleep(o.window)
	for _, p := range proxies {
		if err := p.Toxics.RemoveToxic(context.Background(), "stall"); err != nil {
			return err
		}
	}
	downs := -downs0
	for _, r := range reals {
		d, err := downsSoFar("http://" + r)
		if err != nil {
			return err
		}
		downs += d
	}
	time.Sleep(2 * time.Second) // the last messages leave the queues (one a second)

	chat.mu.Lock()
	defer chat.mu.Unlock()
	peerDays := float64(o.nodes) * o.window.Seconds() * scale(o) / 86400
	pairs := float64(o.nodes * (o.nodes - 1))
	pairDays := pairs / float64(o.nodes) * peerDays
	q, k := o.stall, float64(o.threshold)
	probesPerDay := 86400 / 5.0 / (1 + q)
	downsPerPairDay := (1 - q) * math.Pow(q, k) * probesPerDay
	var downMsgs, msgs int
	for _, byMark := range chat.count {
		downMsgs += byMark["🔴"]
		for _, n := range byMark {
			msgs += n
		}
	}
	fmt.Fprintf(out, "\nFalse alarms: %d nodes behind toxiproxy, ALERTS=%s, POLL_INTERVAL=%s, PROBE_TIMEOUT=%s, FAILURE_THRESHOLD=%d, %.0f%% of connections stalled, for %s (%.2f peer-days at the defaults)\n",
		o.nodes, o.alerts, o.interval, o.timeout, o.threshold, q*100, o.window, peerDays)
	fmt.Fprintf(out, "machine: %s\n", machine())
	fmt.Fprintf(out, "false downs seen by one node of another: %.0f, %.3g per pair per day (predicted (1-q) q^%d a probe: %.3g)\n",
		downs, downs/pairDays, o.threshold, downsPerPairDay)
	lo, hi := poisson95(downMsgs)
	fmt.Fprintf(out, "down messages: %d, %.3g per peer per day (95%%: %.3g-%.3g); all messages %d, %.3g per peer per day\n",
		downMsgs, float64(downMsgs)/peerDays, lo/peerDays, hi/peerDays, msgs, float64(msgs)/peerDays)
	return nil
}

// poisson95 is the exact 95% interval of a Poisson count n, by its tie to
// the chi-squared distribution: for n = 0 it is 0 to 3.69.
func poisson95(n int) (lo, hi float64) {
	if n > 0 {
		lo = distuv.ChiSquared{K: float64(2 * n)}.Quantile(0.025) / 2
	}
	return lo, distuv.ChiSquared{K: float64(2*n + 2)}.Quantile(0.975) / 2
}
