package e2e

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// Secrets never leave a node: not in any log line (at trace, the most
// verbose level), not in an error, not in /state or /metrics, whatever
// happens to the webhook and whoever knocks at /relay.
func TestSecretsNeverAppearInLogsStateOrMetrics(t *testing.T) {
	shareMachine(t, loadOf(2, 100*time.Millisecond))
	const secret = "relay-secret-7c1e9a"
	const tokenA, tokenB = "hook-token-a-5d2f", "hook-token-b-91ac"
	const targetPassword = "target-pass-3e8f" // in a target's URL, which is probed with it and shown without
	ports := freePorts(t, 4)
	a, b, dead, closed := fmt.Sprintf("127.0.0.1:%d", ports[0]), fmt.Sprintf("127.0.0.1:%d", ports[1]), fmt.Sprintf("127.0.0.1:%d", ports[2]), ports[3]

	// a's webhook fails once, then takes messages; b's is not listening.
	var calls atomic.Int32
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if calls.Add(1) == 1 {
			http.Error(w, "try again", http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer hook.Close()

	// Node alerts, so that both nodes post about the dead one, each to its
	// own webhook.
	common := []string{"PEERS=http://" + a + ",http://" + b + ",http://" + dead, "POLL_INTERVAL=100ms", "PROBE_TIMEOUT=250ms",
		fmt.Sprintf("FAILURE_THRESHOLD=%d", threshold), "RELAY_SECRET=" + secret, "ALERTS=node", "LOG_LEVEL=trace"}
	svc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pw, _ := r.BasicAuth(); pw != targetPassword {
			w.WriteHeader(http.StatusUnauthorized)
		}
	}))
	defer svc.Close()
	target := strings.Replace(svc.URL, "http://", "http://admin:"+targetPassword+"@", 1) + "/health"
	nodeA := startNode(t, a, append(common, "WEBHOOK_URL="+hook.URL+"/api/webhooks/1/"+tokenA, "TARGETS="+target)...)
	nodeB := startNode(t, b, append(common, fmt.Sprintf("WEBHOOK_URL=http://127.0.0.1:%d/api/webhooks/2/%s", closed, tokenB))...)

	eventually(t, 15*time.Second, "a to deliver its webhook after a failure, and b to fail at its own", func() bool {
		return calls.Load() >= 2 && len(nodeB.logsMatching(map[string]any{"message": "delivery failed; will retry"})) > 0
	})
	// Outsiders at /relay: a wrong secret, the secret with a bad body.
	for _, auth := range []string{"wrong-" + secret, secret} {
		req, _ := http.NewRequest("POST", "http://"+a+"/relay", strings.NewReader(`{"node":"`+dead+`","peers":{}}`))
		req.Header.Set("Authorization", auth)
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
		}
	}
	var bodies []string
	for _, n := range []*node{nodeA, nodeB} {
		for _, path := range []string{"/state", "/metrics", "/history"} {
			resp, err := client.Get("http://" + n.name + path)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			bodies = append(bodies, n.name+path+": "+string(body))
		}
	}
	nodeA.stop()
	nodeB.stop()

	// A bad setting's error does not echo the secret either.
	bad := exec.Command(binary)
	bad.Env = []string{"PEERS=a.example", "WEBHOOK_URL=discord.com/api/webhooks/3/" + tokenA}
	badOut, _ := bad.CombinedOutput()

	everything := strings.Join(append(bodies, nodeA.stdout.String(), nodeA.stderr.String(), nodeB.stdout.String(), nodeB.stderr.String(), string(badOut)), "\n")
	if !strings.Contains(everything, "delivery failed") || !strings.Contains(everything, "mesh_relay_received_total") ||
		!strings.Contains(everything, `"`+svc.URL+`/health":{"status":"up"`) {
		t.Fatal("the run did not exercise what this test is about")
	}
	for _, leak := range []string{secret, tokenA, tokenB, "/api/webhooks/", targetPassword} {
		if i := strings.Index(everything, leak); i >= 0 {
			t.Errorf("%q appears: ...%s...", leak, everything[max(0, i-200):min(len(everything), i+100)])
		}
	}
}
