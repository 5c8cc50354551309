// Command mesh-cost measures what a Mesh node costs: it starts the real
// binary against N loopback targets and reports CPU per probe, peak memory,
// probe lag, /state latency and throughput under load, and kill-to-down
// detection latency; then it runs a bare net/http prober over the same
// targets in the same run, for the ratio. BENCHMARKS.md shows its figures.
//
//	go run ./cmd/mesh-cost --peers 1000 --interval 1s
//	go run ./cmd/mesh-cost --cluster 100 --interval 5s --window 60s
//
// Run it inside the repository: it builds cmd/mesh (or takes --mesh).
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"
)

type options struct {
	peers        int
	interval     time.Duration
	timeout      time.Duration
	threshold    int
	window       time.Duration
	stateFor     time.Duration
	stateClients int
	detections   int
	mesh         string
	profile      string
	memprofile   string
	stall        float64
	alerts       string
	nodes        int
	cluster      int
	unsigned     bool
	nodeEnv      string
	pageShot     string
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "bare" {
		os.Exit(runBare())
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	var o options
	fs := flag.NewFlagSet("mesh-cost", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&o.peers, "peers", 1000, "loopback targets the node probes")
	fs.DurationVar(&o.interval, "interval", time.Second, "POLL_INTERVAL")
	fs.DurationVar(&o.timeout, "timeout", 5*time.Second, "PROBE_TIMEOUT")
	fs.IntVar(&o.threshold, "threshold", 4, "FAILURE_THRESHOLD")
	fs.DurationVar(&o.window, "window", 30*time.Second, "how long CPU, probes and lag are measured")
	fs.DurationVar(&o.stateFor, "state-for", 10*time.Second, "how long /state is loaded, per encoding")
	fs.IntVar(&o.stateClients, "state-clients", 8, "concurrent /state clients")
	fs.IntVar(&o.detections, "detections", 20, "kill-to-down runs")
	fs.StringVar(&o.mesh, "mesh", "", "the mesh binary; empty builds ./cmd/mesh as the release is (no cgo, -trimpath, -s -w)")
	fs.StringVar(&o.profile, "cpuprofile", "", "write the node's CPU profile over the window here")
	fs.StringVar(&o.memprofile, "memprofile", "", "write the node's heap profile, taken halfway through the gzip /state load, when its memory peaks, here")
	fs.Float64Var(&o.stall, "stall", 0, "instead of the cost: count false downs when this fraction of probes (0-1) stalls past the timeout")
	fs.StringVar(&o.alerts, "alerts", "", "with --stall: run --nodes real nodes behind toxiproxy with this ALERTS (node or cluster) and count the chat messages")
	fs.IntVar(&o.nodes, "nodes", 5, "with --alerts: how many nodes")
	fs.IntVar(&o.cluster, "cluster", 0, "instead of the cost of one node: run a cluster of this many real nodes, relaying, and measure each, relay bytes, detection and page bytes")
	fs.BoolVar(&o.unsigned, "unsigned", false, "with --cluster: nodes without a key of their own, whose relays are not signed (by default each keeps one, as a node with a state file does)")
	fs.StringVar(&o.pageShot, "page-shot", "", "with --cluster: save the page's first screen at 1400x900 here, with every node up, and count the bytes that load took")
	fs.StringVar(&o.nodeEnv, "node-env", "", "more environment for the node, space-separated KEY=VALUE (GOMEMLIMIT=12MiB, say)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if err := measure(o, stdout); err != nil {
		fmt.Fprintln(stderr, "mesh-cost:", err)
		return 1
	}
	return 0
}

func measure(o options, out io.Writer) error {
	dir, err := os.MkdirTemp("", "mesh-cost-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if o.mesh == "" {
		o.mesh = filepath.Join(dir, "mesh")
		// Built as the release and the image are (deploy/Dockerfile): no
		// cgo, so no C library mapped beside it, and no symbol tables.
		build := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", o.mesh, "github.com/dupunkto/mesh/cmd/mesh")
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		build.Stderr = os.Stderr
		if err := build.Run(); err != nil {
			return fmt.Errorf("build the mesh binary (run inside the repository): %w", err)
		}
	}

	if o.alerts != "" {
		return measureAlerts(o, dir, out)
	}
	if o.cluster > 1 {
		return measureCluster(o, dir, out)
	}
	ts, err := newTargets(o.peers, o.stall)
	if err != nil {
		return err
	}
	defer ts.close()
	if o.stall > 0 {
		return measureFalseDowns(o, dir, ts, out)
	}

	r := report{opts: o}
	fmt.Fprintf(out, "mesh-cost: %d peers at %s; node first, then the bare probers\n", o.peers, o.interval)
	if err := measureNode(o, dir, ts, &r); err != nil {
		return err
	}
	if err := measureBare(o, ts, &r); err != nil {
		return err
	}
	r.print(out)
	return nil
}

// proc is a child process under measurement.
type proc struct {
	cmd  *exec.Cmd
	done chan error
}

func start(path string, env []string, args []string, logTo string) (*proc, error) {
	cmd := exec.Command(path, args...)
	cmd.Env = env
	if logTo != "" {
		f, err := os.Create(logTo)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		cmd.Stdout, cmd.Stderr = f, f
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &proc{cmd: cmd, done: make(chan error, 1)}
	go func() { p.done <- cmd.Wait() }()
	return p, nil
}

// exited reports whether the process has ended, leaving that for stop.
func (p *proc) exited() bool {
	select {
	case err := <-p.done:
		p.done <- err
		return true
	default:
		return false
	}
}

// stop sends SIGTERM and waits, killing after 10 s.
func (p *proc) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// window measures CPU and probes over o.window while the targets record
// arrivals, sampling the longest gap since any target's last probe.
func window(o options, pid int, ts *targets, during func(context.Context)) (probing, error) {
	var m probing
	ts.record(true)
	defer ts.record(false)
	cpu0, err := cpuTime(pid)
	if err != nil {
		return m, err
	}
	probes0 := ts.total()
	ctx, cancel := context.WithTimeout(context.Background(), o.window)
	defer cancel()
	if during != nil {
		go during(ctx)
	}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for ctx.Err() == nil {
		select {
		case now := <-tick.C:
			m.longestGap = max(m.longestGap, ts.oldestProbe(now))
		case <-ctx.Done():
		}
	}
	cpu1, err := cpuTime(pid)
	if err != nil {
		return m, err
	}
	m.cpu = cpu1 - cpu0
	m.probes = ts.total() - probes0
	if m.probes > 0 {
		m.perProbe = m.cpu / time.Duration(m.probes)
	}
	m.lagP50, m.lagP99, m.lagMax = lagPercentiles(ts, o.interval)
	if m.rss, err = peakRSS(pid); err != nil {
		return m, err
	}
	return m, nil
}

// measureBare runs each bare prober in turn over the same targets.
func measureBare(o options, ts *targets, r *report) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	r.bare = make([]probing, len(bareSchedules))
	for i, s := range bareSchedules {
		env := append(os.Environ(), "MESH_COST_TARGETS="+strings.Join(ts.urls(), ","), "MESH_COST_INTERVAL="+o.interval.String(), "MESH_COST_SCHEDULE="+s.name)
		p, err := start(self, env, []string{"bare"}, "")
		if err != nil {
			return err
		}
		time.Sleep(3 * o.interval) // every target probed a few times: warmed up
		r.bare[i], err = window(o, p.cmd.Process.Pid, ts, nil)
		p.stop()
		if err != nil {
			return fmt.Errorf("bare prober %s: %w", s.name, err)
		}
	}
	return nil
}

func machine() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				model = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	return fmt.Sprintf("%s/%s, %d CPUs (%s), %s", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), model, runtime.Version())
}
