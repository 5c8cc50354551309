package main

import (
	"cmp"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/dupunkto/mesh/actors/domain"
	"github.com/dupunkto/mesh/actors/wire"
)

// clusterNode is one node of the cluster run and what was measured of it.
type clusterNode struct {
	url  string
	proc *proc

	cpu                     time.Duration // over the window
	rss                     int64         // peak
	sentPerRound, recvRound float64       // relay bytes on the wire
	state, ownState         int           // /state bytes, plain; /state?relays=none gzipped
	plainView               int           // its own view as a whole plain relay would carry it
}

// measureCluster starts o.cluster real nodes on loopback, relaying to each
// other with a webhook, lets them settle, measures each over o.window, then
// kills one and times how long the others take to see it down and to reach
// the cluster's verdict.
func measureCluster(o options, dir string, out io.Writer) error {
	chat := &chatCounter{count: map[string]map[string]int{}}
	hook := httptest.NewServer(chat)
	defer hook.Close()
	// The nodes, and the first node's pprof listener, for --cpuprofile.
	addrs, err := freeAddrs(o.cluster + 1)
	if err != nil {
		return err
	}
	addrs, debug := addrs[:o.cluster], addrs[o.cluster]
	var urls []string
	for _, a := range addrs {
		urls = append(urls, "http://"+a)
	}
	nodes := make([]*clusterNode, o.cluster)
	envs := make([][]string, o.cluster)
	for i, a := range addrs {
		env := []string{"NODE=" + a, "LISTEN_ADDR=" + a, "PEERS=" + strings.Join(urls, ","),
			"POLL_INTERVAL=" + o.interval.String(), "PROBE_TIMEOUT=" + o.timeout.String(), fmt.Sprintf("FAILURE_THRESHOLD=%d", o.threshold),
			"RELAY_SECRET=mesh-cost", "WEBHOOK_URL=" + hook.URL + "/hook",
			// A node has a machine to itself in production; here a hundred
			// share two cores, and a Go runtime with two Ps spins an idle
			// thread looking for work each time it wakes, which on a
			// machine this oversubscribed is pure waste.
			"GOMAXPROCS=1"}
		if i == 0 {
			env = append(env, "DEBUG_ADDR="+debug)
		}
		if !o.unsigned {
			env = append(env, "NODE_KEY_FILE="+filepath.Join(dir, fmt.Sprintf("node%d.key", i)))
		}
		envs[i] = env
		p, err := start(o.mesh, env, nil, filepath.Join(dir, fmt.Sprintf("node%d.log", i)))
		if err != nil {
			return err
		}
		defer p.stop()
		nodes[i] = &clusterNode{url: urls[i], proc: p}
		// Started over two seconds in all, as machines come up, not in one
		// burst that has every node send whole relays at once.
		time.Sleep(2 * time.Second / time.Duration(o.cluster))
	}
	signed := map[bool]string{false: "signed relays", true: "unsigned relays"}[o.unsigned]
	fmt.Fprintf(out, "mesh-cost: a cluster of %d nodes at %s, %s, settling\n", o.cluster, o.interval, signed)
	if err := waitFor(time.Minute, func() bool {
		_, err := getBody(urls[0] + "/ping")
		return err == nil || nodes[0].proc.exited()
	}); err != nil {
		return fmt.Errorf("waiting for the first node to answer: %w", err)
	}
	if o.profile != "" {
		// The first node's CPU over the first window, settling or not:
		// where a cluster that does not settle spends its time.
		go saveProfile("http://"+debug, "profile", o.window, o.profile)
	}
	var quit error
	if err := waitFor(10*time.Minute, func() bool {
		for i, n := range nodes {
			if n.proc.exited() {
				log, _ := os.ReadFile(filepath.Join(dir, fmt.Sprintf("node%d.log", i)))
				quit = fmt.Errorf("node %d quit:\n%s", i, tail(log, 5))
				return true
			}
			if !seesAllUp(n.url, o.cluster-1) {
				return false
			}
		}
		return true
	}); err != nil || quit != nil {
		return fmt.Errorf("waiting for every node to see every other up: %w", cmp.Or(quit, err))
	}
	time.Sleep(2 * o.interval) // every relay has gone round

	// The window: CPU and relay bytes of every node.
	cpu0 := make([]time.Duration, len(nodes))
	sent0, recv0 := make([]float64, len(nodes)), make([]float64, len(nodes))
	for i, n := range nodes {
		var err error
		if cpu0[i], err = cpuTime(n.proc.cmd.Process.Pid); err != nil {
			return err
		}
		sent0[i], recv0[i] = relayBytes(n.url)
	}
	downs0 := peerDownLines(dir)
	time.Sleep(o.window)
	// A cluster that settled stays so: no node calls any peer down over
	// the window, and no probe waits for a CPU anywhere near its timeout.
	flaps := peerDownLines(dir) - downs0
	var rtts []time.Duration
	for _, n := range nodes {
		rtts = append(rtts, probeRTTs(n.url)...)
	}
	slices.Sort(rtts)
	rounds := o.window.Seconds() / o.interval.Seconds()
	for i, n := range nodes {
		cpu1, err := cpuTime(n.proc.cmd.Process.Pid)
		if err != nil {
			return err
		}
		sent, recv := relayBytes(n.url)
		n.cpu = cpu1 - cpu0[i]
		n.sentPerRound, n.recvRound = (sent-sent0[i])/rounds, (recv-recv0[i])/rounds
		if n.rss, err = peakRSS(n.proc.cmd.Process.Pid); err != nil {
			return err
		}
		n.state, _ = bodySize(n.url+"/state", false)
		n.ownState, _ = bodySize(n.url+"/state?relays=none", true)
		n.plainView = plainRelaySize(n.url)
	}

	var pageBytes float64
	if o.pageShot != "" {
		if pageBytes, err = pageShot(urls, o.pageShot); err != nil {
			return err
		}
	}

	// Kill the last node; time the others seeing it down, then calling it so.
	dead := nodes[len(nodes)-1]
	name := strings.TrimPrefix(dead.url, "http://")
	others := nodes[:len(nodes)-1]
	_ = dead.proc.cmd.Process.Kill()
	killed := time.Now()
	var seen, verdict time.Duration
	err = waitFor(5*time.Minute, func() bool {
		allSee, allVerdict := true, true
		for _, n := range others {
			see, v := downAt(n.url, name)
			allSee, allVerdict = allSee && see, allVerdict && v
		}
		if allSee && seen == 0 {
			seen = time.Since(killed)
		}
		if allVerdict && verdict == 0 {
			verdict = time.Since(killed)
		}
		return seen > 0 && verdict > 0
	})
	if err != nil {
		return fmt.Errorf("waiting for the killed node to be seen down: %w", err)
	}
	// The cluster's promise: one down message, naming where it is seen
	// from, and when the node is back, one recovery.
	if err := waitFor(5*time.Minute, func() bool { return chat.marks(name)["🔴"] > 0 }); err != nil {
		return fmt.Errorf("waiting for the down message: %w", err)
	}
	time.Sleep(3 * o.interval) // the other nodes' turns, had the first not announced it
	restarted, err := start(o.mesh, envs[len(nodes)-1], nil, filepath.Join(dir, "restarted.log"))
	if err != nil {
		return err
	}
	defer restarted.stop()
	if err := waitFor(5*time.Minute, func() bool { return chat.marks(name)["🟢"] > 0 }); err != nil {
		return fmt.Errorf("waiting for the recovery: %w", err)
	}
	time.Sleep(3 * o.interval)
	marks, texts := chat.marks(name), chat.about(name)

	fmt.Fprintf(out, "\nCluster: %d nodes on loopback, POLL_INTERVAL=%s, PROBE_TIMEOUT=%s, FAILURE_THRESHOLD=%d, relaying and a webhook; window %s\n",
		o.cluster, o.interval, o.timeout, o.threshold, o.window)
	fmt.Fprintf(out, "machine: %s\n", machine())
	stat := func(what string, f func(*clusterNode) float64, format string) {
		vals := make([]float64, len(others))
		for i, n := range others {
			vals[i] = f(n)
		}
		slices.Sort(vals)
		fmt.Fprintf(out, "  %-46s median "+format+"  (min "+format+", max "+format+")\n", what, vals[len(vals)/2], vals[0], vals[len(vals)-1])
	}
	fmt.Fprintln(out, "per node:")
	stat("CPU, % of one core", func(n *clusterNode) float64 { return 100 * n.cpu.Seconds() / o.window.Seconds() }, "%.1f")
	stat("peak RSS, MB", func(n *clusterNode) float64 { return float64(n.rss) / 1e6 }, "%.1f")
	stat("relay bytes sent a round", func(n *clusterNode) float64 { return n.sentPerRound }, "%.0f")
	stat("relay bytes received a round", func(n *clusterNode) float64 { return n.recvRound }, "%.0f")
	stat("whole plain relays to every peer, bytes a round", func(n *clusterNode) float64 { return float64(n.plainView * (o.cluster - 1)) }, "%.0f")
	stat("/state, plain bytes", func(n *clusterNode) float64 { return float64(n.state) }, "%.0f")
	stat("/state?relays=none, gzipped bytes", func(n *clusterNode) float64 { return float64(n.ownState) }, "%.0f")
	var page, sent, whole float64
	for _, n := range others {
		page += float64(n.ownState)
		sent += n.sentPerRound
		whole += float64(n.plainView * (o.cluster - 1))
	}
	fmt.Fprintf(out, "  CPU scaled to POLL_INTERVAL=5s (a node's work is per round): median %.1f %% of one core\n",
		func() float64 {
			vals := make([]float64, len(others))
			for i, n := range others {
				vals[i] = 100 * n.cpu.Seconds() / o.window.Seconds() * o.interval.Seconds() / 5
			}
			slices.Sort(vals)
			return vals[len(vals)/2]
		}())
	fmt.Fprintln(out, "cluster:")
	fmt.Fprintf(out, "  settled: peers called down over the window: %d; last probe round trips of %d links: median %s, 99th %s, max %s (PROBE_TIMEOUT %s)\n",
		flaps, len(rtts), quantile(rtts, 0.5), quantile(rtts, 0.99), quantile(rtts, 1), o.timeout)
	fmt.Fprintf(out, "  kill to every other node seeing it down: %.1f s; to every other node's verdict down: %.1f s\n", seen.Seconds(), verdict.Seconds())
	fmt.Fprintf(out, "  page, a refresh in a quiet cluster (each node's own view, gzipped): %.0f bytes\n", page)
	if o.pageShot != "" {
		fmt.Fprintf(out, "  page, its first load in Chromium (/state and /history, by the nodes' mesh_http_response_bytes_total): %.0f bytes; its first screen in %s\n", pageBytes, o.pageShot)
	}
	fmt.Fprintf(out, "  relays: %.0f bytes sent a round by a node on average, against %.0f as whole plain JSON: %.1fx fewer\n",
		sent/float64(len(others)), whole/float64(len(others)), whole/sent)
	fmt.Fprintf(out, "  the chat, about the killed node: %d down, %d recovery, %d other messages:\n", marks["🔴"], marks["🟢"], len(texts)-marks["🔴"]-marks["🟢"])
	for _, t := range texts {
		fmt.Fprintf(out, "    %s\n", t)
	}
	if marks["🔴"] != 1 || marks["🟢"] != 1 || len(texts) != 2 {
		return fmt.Errorf("the chat got %d messages about the killed node, want one down and one recovery", len(texts))
	}
	return nil
}

// peerDownLines counts the "peer is down" lines in every node's log in dir.
func peerDownLines(dir string) int {
	logs, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	n := 0
	for _, l := range logs {
		b, _ := os.ReadFile(l)
		n += strings.Count(string(b), `"message":"peer is down"`)
	}
	return n
}

// probeRTTs are the round trips of the last probe of each peer the node at
// url holds.
func probeRTTs(url string) []time.Duration {
	s, err := getStateAt(url + "/state?relays=none")
	if err != nil {
		return nil
	}
	var out []time.Duration
	for e := range s.Peers() {
		if v := e.View(); v.HasRTT {
			out = append(out, v.RTT)
		}
	}
	return out
}

// quantile is the q-quantile of sorted ds, rounded to the millisecond.
func quantile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	return ds[min(len(ds)-1, int(q*float64(len(ds))))].Round(time.Millisecond)
}

// downAt reports whether the node at url sees peer down, and whether its
// cluster verdict on peer is down.
func downAt(url, peer string) (sees, verdict bool) {
	b, err := getBody(url + "/state?relays=none")
	if err != nil {
		return false, false
	}
	var doc struct {
		Peers   map[string]struct{ Status string }
		Cluster map[string]struct{ Status string }
	}
	if json.Unmarshal(b, &doc) != nil {
		return false, false
	}
	return doc.Peers[peer].Status == string(domain.StatusDown), doc.Cluster[peer].Status == string(domain.ClusterDown)
}

// relayBytes reads mesh_relay_bytes_total of the node at url: sent, received.
func relayBytes(url string) (sent, received float64) {
	return metricSum(url, "mesh_relay_bytes_total{", `direction="sent"`), metricSum(url, "mesh_relay_bytes_total{", `direction="received"`)
}

// bodySize is the size of a GET's body as it comes on the wire.
func bodySize(url string, gzipped bool) (int, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Accept-Encoding", "identity")
	if gzipped {
		req.Header.Set("Accept-Encoding", "gzip")
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return len(b), err
}

// plainRelaySize is the size of the whole plain relay the node at url would
// send a seed node: its own view, as wire.EncodeRelay writes it.
func plainRelaySize(url string) int {
	s, err := getStateAt(url + "/state?relays=none")
	if err != nil {
		return 0
	}
	return len(wire.EncodeRelay(s, domain.Said{}))
}

// getStateAt reads a /state document at url.
func getStateAt(url string) (*domain.Snapshot, error) {
	b, err := getBody(url)
	if err != nil {
		return nil, err
	}
	return wire.DecodeState(b)
}

// getBody reads a body at url, gzipped on the wire if the node likes.
func getBody(url string) ([]byte, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var r io.Reader = resp.Body
	if resp.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(resp.Body)
		if err != nil {
			return nil, err
		}
		r = zr
	}
	return io.ReadAll(r)
}
