package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"
)

// The files an operator loads: deploy/prometheus's rules and
// deploy/grafana's dashboard.
const (
	rulesFile     = "../prometheus/rules.yml"
	dashboardFile = "../grafana/mesh.json"
)

// dashboardQuery is one query of one panel of the dashboard.
type dashboardQuery struct {
	panel string
	expr  string
}

// dashboardQueries reads every panel's queries, and checks what Grafana
// needs of each panel: a title, a query at least, and the dashboard's data
// source variable rather than one fixed data source.
func dashboardQueries(t *testing.T) []dashboardQuery {
	t.Helper()
	data, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Title  string `json:"title"`
		UID    string `json:"uid"`
		Panels []struct {
			Title      string `json:"title"`
			Datasource struct {
				UID string `json:"uid"`
			} `json:"datasource"`
			Targets []struct {
				Expr       string `json:"expr"`
				Datasource struct {
					UID string `json:"uid"`
				} `json:"datasource"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(data, &dash); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	if dash.Title == "" || dash.UID == "" || len(dash.Panels) == 0 {
		t.Fatalf("%s has no title, uid or panels", dashboardFile)
	}
	var out []dashboardQuery
	for _, p := range dash.Panels {
		if p.Title == "" || len(p.Targets) == 0 || p.Datasource.UID != "${datasource}" {
			t.Errorf("panel %q: want a title, queries, and the ${datasource} variable", p.Title)
		}
		for _, q := range p.Targets {
			if q.Expr == "" || q.Datasource.UID != "${datasource}" {
				t.Errorf("panel %q: a query without an expression or the ${datasource} variable", p.Title)
			}
			out = append(out, dashboardQuery{p.Title, q.Expr})
		}
	}
	return out
}

// grafanaVariables are the dashboard's own variables and Grafana's, with
// what they stand for in a check: the cluster's and job's names, and a
// rate window of ten scrapes.
var grafanaVariables = map[string]string{"$cluster": "mesh", "$job": "mesh", "$__rate_interval": "10s"}

// asPromQL replaces the variables in expr; one it does not know fails the
// test, since Grafana would leave it in and Prometheus refuse it.
func asPromQL(t *testing.T, expr string) string {
	t.Helper()
	for v, value := range grafanaVariables {
		expr = strings.ReplaceAll(expr, v, value)
	}
	if v := regexp.MustCompile(`\$\{?\w+`).FindString(expr); v != "" {
		t.Errorf("query %q uses %s, which the dashboard does not define", expr, v)
	}
	return expr
}

// Every query of the dashboard is PromQL that Prometheus's own parser
// takes: promtool checks them as the expressions of recording rules.
func TestEveryDashboardQueryParses(t *testing.T) {
	shareMachine(t, loadOf(1, 100*time.Millisecond))
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatal("the dashboard test needs promtool: apt-get install prometheus (go run ./cmd/mesh-suite does)")
	}
	var rules []map[string]string
	for i, q := range dashboardQueries(t) {
		rules = append(rules, map[string]string{"record": fmt.Sprintf("dashboard:query_%d", i), "expr": asPromQL(t, q.expr)})
	}
	data, err := yaml.Marshal(map[string]any{"groups": []any{map[string]any{"name": "dashboard", "rules": rules}}})
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "dashboard.yml")
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(promtool, "check", "rules", file).CombinedOutput(); err != nil {
		t.Fatalf("promtool refuses a dashboard query: %v\n%s\n%s", err, out, data)
	}
}

// startPrometheus runs Debian's Prometheus on loopback, scraping targets
// every second with the rules of deploy/prometheus, and returns its URL.
func startPrometheus(t *testing.T, targets []string) string {
	t.Helper()
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		t.Fatal("the Prometheus tests need Prometheus: apt-get install prometheus (go run ./cmd/mesh-suite does)")
	}
	dir := t.TempDir()
	rules, err := filepath.Abs(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	quoted := make([]string, len(targets))
	for i, target := range targets {
		quoted[i] = fmt.Sprintf("%q", target)
	}
	cfg := fmt.Sprintf("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files: [%q]\n"+
		"scrape_configs:\n  - job_name: mesh\n    static_configs:\n      - targets: [%s]\n", rules, strings.Join(quoted, ", "))
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", freePorts(t, 1)[0])
	return startDaemon(t, "Prometheus", bin, addr, "--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address="+addr)
}

// instantQuery returns how many series expr gives now, or Prometheus's error.
func instantQuery(base, expr string) (int, error) {
	resp, err := http.Get(base + "/api/v1/query?query=" + url.QueryEscape(expr))
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var answer struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&answer); err != nil {
		return 0, err
	}
	if answer.Status != "success" {
		return 0, fmt.Errorf("%s", answer.Error)
	}
	return len(answer.Data.Result), nil
}

// Prometheus scraping three real nodes with Mesh's rules: every recording
// rule and every query of the dashboard gives data, so that none names a
// metric or a label the nodes do not have.
func TestTheRulesAndTheDashboardFindDataInRealNodes(t *testing.T) {
	shareMachine(t, loadOf(3, 100*time.Millisecond)+browserLoad)
	chat := newChat(t)
	alertmanager := newRecorderIn(t, "", "127.0.0.1:0") // takes the nodes' alerts, for their metrics
	// An HTTPS target with a certificate of the test's own, for the
	// targets' rules and panels to have data.
	ca := newTestCA(t)
	shop := newTLSService(t, ca, time.Now().Add(30*24*time.Hour))
	nodes := cluster(t, 3, "RELAY_SECRET=prometheus", "WEBHOOK_URL="+chat.URL+"/hook", "ALERTMANAGER_URL="+alertmanager.URL,
		"SSL_CERT_FILE="+ca.file, "TARGETS=https://"+shop+"/")
	var targets []string
	for _, n := range nodes {
		targets = append(targets, n.name)
	}
	// A target in maintenance, for the maintenance rules to have data.
	if code, out := meshSilence(t, "prometheus", nodes[0], "add", "https://"+shop+"/", "--for", "1h"); code != 0 {
		t.Fatalf("mesh silence add: exit %d, %q", code, out)
	}
	prom := startPrometheus(t, targets)

	rulesYAML, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	var rules struct {
		Groups []struct {
			Rules []struct {
				Record string `json:"record"`
			} `json:"rules"`
		} `json:"groups"`
	}
	if err := yaml.Unmarshal(rulesYAML, &rules); err != nil {
		t.Fatal(err)
	}
	queries := map[string]string{}
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			if r.Record != "" {
				queries["rule "+r.Record] = r.Record
			}
		}
	}
	for _, q := range dashboardQueries(t) {
		queries[fmt.Sprintf("panel %q: %s", q.panel, q.expr)] = asPromQL(t, q.expr)
	}
	for what, expr := range queries {
		eventually(t, 30*time.Second, what+" to give data", func() bool {
			n, err := instantQuery(prom, expr)
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			return n > 0
		})
	}
}
