package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape reads a node's /metrics in the Prometheus text format, as
// Prometheus would, and returns the families and the raw text.
func scrape(t *testing.T, n *node) (map[string]*dto.MetricFamily, string) {
	t.Helper()
	resp, err := client.Get("http://" + n.name + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /metrics: %d %v", resp.StatusCode, err)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(string(raw)))
	if err != nil {
		t.Fatalf("/metrics is not the Prometheus text format: %v", err)
	}
	return families, string(raw)
}

// sample returns the value of the series of family with exactly labels,
// and whether there is one. For a histogram it is the sample count.
func sample(families map[string]*dto.MetricFamily, family string, labels map[string]string) (float64, bool) {
	f, ok := families[family]
	if !ok {
		return 0, false
	}
	for _, m := range f.GetMetric() {
		if len(m.GetLabel()) != len(labels) {
			continue
		}
		match := true
		for _, l := range m.GetLabel() {
			if labels[l.GetName()] != l.GetValue() {
				match = false
			}
		}
		if !match {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.GetCounter().GetValue(), true
		case m.Gauge != nil:
			return m.GetGauge().GetValue(), true
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount()), true
		}
	}
	return 0, false
}

// value is sample's value; t fails when there is no such series.
func value(t *testing.T, families map[string]*dto.MetricFamily, family string, labels map[string]string) float64 {
	t.Helper()
	v, ok := sample(families, family, labels)
	if !ok {
		t.Fatalf("no %s%v in /metrics", family, labels)
	}
	return v
}

func TestMetricsOfALiveNode(t *testing.T) {
	shareMachine(t, loadOf(3, 100*time.Millisecond))
	ports := freePorts(t, 3)
	a, b, dead := fmt.Sprintf("127.0.0.1:%d", ports[0]), fmt.Sprintf("127.0.0.1:%d", ports[1]), fmt.Sprintf("127.0.0.1:%d", ports[2])
	secret := "metrics-relay-secret-4711"
	chat := newChat(t)
	token := "webhook-token-0815"
	peers := "PEERS=http://" + a + ",http://" + b + ",http://" + dead
	common := []string{peers, "POLL_INTERVAL=100ms", "PROBE_TIMEOUT=250ms", fmt.Sprintf("FAILURE_THRESHOLD=%d", threshold), "RELAY_SECRET=" + secret}
	nodeA := startNode(t, a, append(common, "WEBHOOK_URL="+chat.URL+"/api/webhooks/1/"+token)...)
	startNode(t, b, common...)

	eventually(t, 10*time.Second, "a to see b up, the dead peer down, hold b's relay and post the down", func() bool {
		s, err := nodeA.state()
		return err == nil && s.Peers[b].Status == "up" && s.Peers[dead].Status == "down" && len(s.Relay) == 1 && chat.count() >= 1
	})
	// One relay with a wrong secret, to be counted as such.
	req, _ := http.NewRequest("POST", "http://"+a+"/relay", strings.NewReader(`{}`))
	req.Header.Set("Authorization", "wrong")
	if resp, err := client.Do(req); err != nil || resp.StatusCode != 401 {
		t.Fatalf("relay with a wrong secret: %v %v", resp, err)
	}

	families, raw := scrape(t, nodeA)
	at := func(family string, labels map[string]string) float64 {
		t.Helper()
		v, ok := sample(families, family, labels)
		if !ok {
			t.Fatalf("no %s%v in /metrics", family, labels)
		}
		return v
	}
	checks := []struct {
		what string
		ok   bool
	}{
		{"b up", at("mesh_peer_up", map[string]string{"peer": b}) == 1},
		{"the dead peer down", at("mesh_peer_up", map[string]string{"peer": dead}) == 0},
		{"the dead peer's failures", at("mesh_peer_consecutive_failures", map[string]string{"peer": dead}) >= threshold},
		{"b's failures", at("mesh_peer_consecutive_failures", map[string]string{"peer": b}) == 0},
		{"probes of b that succeeded", at("mesh_probes_total", map[string]string{"peer": b, "result": "ok"}) >= 1},
		{"probes of the dead peer that failed", at("mesh_probes_total", map[string]string{"peer": dead, "result": "failed"}) >= threshold},
		{"probe durations of b", at("mesh_probe_duration_seconds", map[string]string{"peer": b}) >= 1},
		{"the dead peer went down once", at("mesh_transitions_total", map[string]string{"peer": dead, "status": "down"}) == 1},
		{"b came up once", at("mesh_transitions_total", map[string]string{"peer": b, "status": "up"}) == 1},
		{"relays delivered", at("mesh_relay_sent_total", map[string]string{"result": "delivered"}) >= 1},
		{"relays accepted", at("mesh_relay_received_total", map[string]string{"result": "accepted"}) >= 1},
		{"the relay with a wrong secret", at("mesh_relay_received_total", map[string]string{"result": "unauthorized"}) == 1},
		{"webhooks delivered", at("mesh_webhook_deliveries_total", map[string]string{"channel": "webhook", "result": "delivered"}) >= 1},
		{"webhooks given up", at("mesh_webhook_deliveries_total", map[string]string{"channel": "webhook", "result": "gave_up"}) == 0},
		{"the Go collector", at("go_goroutines", map[string]string{}) > 0},
		{"the process collector", at("process_resident_memory_bytes", map[string]string{}) > 0},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("/metrics: wrong value for %s", c.what)
		}
	}
	for _, leak := range []string{secret, token, "/api/webhooks"} {
		if strings.Contains(raw, leak) {
			t.Errorf("/metrics holds %q", leak)
		}
	}

	// /state carries each peer's last round-trip time.
	resp, err := client.Get("http://" + a + "/state")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var s struct {
		Peers map[string]struct {
			RTT *float64 `json:"rtt_ms"`
		} `json:"peers"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		t.Fatal(err)
	}
	if rtt := s.Peers[b].RTT; rtt == nil || *rtt <= 0 || *rtt > 250 {
		t.Errorf("b's rtt_ms is %v, want the last probe's milliseconds", rtt)
	}
}

func TestProfilesOnlyOnTheLoopbackDebugListener(t *testing.T) {
	shareMachine(t, loadOf(1, 100*time.Millisecond))
	ports := freePorts(t, 3)
	name, debug := fmt.Sprintf("127.0.0.1:%d", ports[0]), fmt.Sprintf("127.0.0.1:%d", ports[1])
	n := startNode(t, name, fmt.Sprintf("PEERS=http://127.0.0.1:%d", ports[2]), "DEBUG_ADDR="+debug)
	eventually(t, 10*time.Second, "the node to answer", func() bool { _, err := n.state(); return err == nil })

	get := func(url string) int {
		resp, err := client.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	eventually(t, 5*time.Second, "the debug listener to answer", func() bool {
		resp, err := client.Get("http://" + debug + "/debug/pprof/")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil && resp.StatusCode == 200
	})
	if code := get("http://" + debug + "/debug/pprof/heap?debug=1"); code != 200 {
		t.Errorf("heap profile on DEBUG_ADDR: %d", code)
	}
	if code := get("http://" + name + "/debug/pprof/"); code != 404 {
		t.Errorf("pprof on the public listener: %d, want 404", code)
	}

	bad := exec.Command(binary)
	bad.Env = []string{"PEERS=a.example", "DEBUG_ADDR=0.0.0.0:6060"}
	out, err := bad.CombinedOutput()
	if bad.ProcessState.ExitCode() != 2 || !strings.Contains(string(out), "DEBUG_ADDR") || strings.Count(string(out), "\n") != 1 {
		t.Errorf("DEBUG_ADDR on every interface: exit %d (%v), output %q; want 2 and one line naming it", bad.ProcessState.ExitCode(), err, out)
	}
}
