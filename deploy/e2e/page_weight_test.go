package e2e

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// plainBinary builds the node without the race detector, once: fifty
// race-built nodes would spend the machine on the detector, and what this
// measures is bytes, which the detector does not change.
var plainBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "mesh-plain-")
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "mesh")
	out, err := exec.Command("go", "build", "-o", path, "github.com/dupunkto/mesh/cmd/mesh").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%v: %s", err, out)
	}
	return path, nil
})

// pageBytes is the bytes the nodes sent on /state and /history, summed over
// every node, as their own mesh_http_response_bytes_total counts them. The
// nodes are asked one at a time, with time to answer: fifty of them keep a
// busy machine busier still.
func pageBytes(t *testing.T, nodes []*node) float64 {
	t.Helper()
	patient := &http.Client{Timeout: 30 * time.Second}
	var sum float64
	for _, n := range nodes {
		var families map[string]*dto.MetricFamily
		eventually(t, 90*time.Second, n.name+"'s metrics", func() bool {
			resp, err := patient.Get("http://" + n.name + "/metrics")
			if err != nil {
				return false
			}
			defer resp.Body.Close()
			parser := expfmt.NewTextParser(model.UTF8Validation)
			families, err = parser.TextToMetricFamilies(resp.Body)
			return err == nil && resp.StatusCode == http.StatusOK
		})
		for _, route := range []string{"/state", "/history"} {
			v, ok := sample(families, "mesh_http_response_bytes_total", map[string]string{"route": route})
			if !ok {
				t.Fatalf("%s has no mesh_http_response_bytes_total for %s", n.name, route)
			}
			sum += v
		}
	}
	return sum
}

// settledCluster starts n nodes of bin and waits until each sees every other up,
// reading each node's own view once a round rather than every pair: at
// fifty nodes that is 2,450 pairs.
func settledCluster(t *testing.T, bin string, n int, env ...string) []*node {
	t.Helper()
	ports := freePorts(t, n)
	var names, urls []string
	for _, p := range ports {
		names = append(names, fmt.Sprintf("127.0.0.1:%d", p))
		urls = append(urls, fmt.Sprintf("http://127.0.0.1:%d", p))
	}
	var nodes []*node
	for _, name := range names {
		nodes = append(nodes, startNodeOf(t, bin, name, append([]string{"PEERS=" + strings.Join(urls, ",")}, env...)...))
	}
	eventually(t, 90*time.Second, "every node to see every other up", func() bool {
		for _, n := range nodes {
			s, err := n.state()
			if err != nil {
				return false
			}
			for _, p := range names {
				if p != n.name && s.Peers[p].Status != "up" {
					return false
				}
			}
		}
		return true
	})
	return nodes
}

// oldRefresh reads what the page read before it was made light: every
// node's whole /state and /history, gzipped as a browser asks.
func oldRefresh(t *testing.T, nodes []*node) {
	t.Helper()
	for _, n := range nodes {
		for _, path := range []string{"/state", "/history"} {
			req, _ := http.NewRequest(http.MethodGet, "http://"+n.name+path, nil)
			req.Header.Set("Accept-Encoding", "gzip, deflate, br")
			resp, err := http.DefaultTransport.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}
}

// The bytes one refresh of the page transfers, at 3, 10 and 50 real nodes
// with relaying on, before (every node's whole /state and /history) and
// after (each node's own view; a /history only after a transition;
// relayed views only of unreachable nodes): the figures of BENCHMARKS.md.
// The target: under a megabyte at fifty nodes.
//
// Each size has its own share of the machine, so that three and ten nodes
// run beside other tests rather than holding all of it for a minute.
func TestPageWeight(t *testing.T) {
	t.Parallel()
	bin, err := plainBinary()
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	rows := map[int]string{}
	sizes := []int{3, 10, 50}
	t.Cleanup(func() {
		os.RemoveAll(filepath.Dir(bin))
		var table strings.Builder
		fmt.Fprintf(&table, "| nodes | before (bytes/refresh) | after, first refresh | after, each refresh | after / before |\n|---|---|---|---|---|\n")
		for _, n := range sizes {
			table.WriteString(rows[n])
		}
		t.Logf("page weight, bytes the nodes sent on /state and /history per refresh:\n%s", table.String())
	})
	for _, n := range sizes {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			// Measured with the browser, the test and the nodes' start:
			// fifty nodes take 1.2 cores, the whole budget and more; ten
			// take 0.3, no more than their probes and a browser (a plain
			// node costs about half a race-built one).
			load := loadOf(n, 5*time.Second) + browserLoad
			if n == 50 {
				load = machineBudget
			}
			shareMachine(t, load)
			nodes := settledCluster(t, bin, n, "RELAY_SECRET=weight", "POLL_INTERVAL=5s", "PROBE_TIMEOUT=2s")

			start := pageBytes(t, nodes)
			oldRefresh(t, nodes)
			loaded := pageBytes(t, nodes)
			before := loaded - start

			// The first refresh is counted from before the page loads: at
			// fifty nodes it ends before pageBytes has asked every node.
			ctx := newBrowser(t)
			if err := chromedp.Do(ctx, chromedp.Navigate(fmt.Sprintf("http://%s/ui/?refresh=10", nodes[0].name))); err != nil {
				t.Fatal(err)
			}
			first := waitView(t, ctx, "the first refresh", func(v pageView) bool { return v.Updated != "" })
			afterFirst := pageBytes(t, nodes)
			// The next refresh comes ten seconds on.
			eventually(t, 30*time.Second, "the second refresh", func() bool { return readView(t, ctx).Updated != first.Updated })
			each := pageBytes(t, nodes) - afterFirst
			mu.Lock()
			rows[n] = fmt.Sprintf("| %d | %.0f | %.0f | %.0f | %.3f |\n", n, before, afterFirst-loaded, each, each/before)
			mu.Unlock()
			if each >= before {
				t.Errorf("a refresh transfers %.0f bytes, no fewer than the %.0f of before", each, before)
			}
			if n == 50 && each >= 1<<20 {
				t.Errorf("a refresh at fifty nodes transfers %.0f bytes, over the megabyte", each)
			}
		})
	}
}
