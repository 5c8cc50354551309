// Package prometheus holds Mesh's Prometheus files: a scrape example
// (prometheus.yml), recording and alerting rules (rules.yml) and their unit
// tests (rules_test.yml). This test runs Prometheus's own promtool on them.
package prometheus

import (
	"os/exec"
	"testing"
)

// promtool is Debian's, from the prometheus package.
func promtool(t *testing.T, args ...string) {
	t.Helper()
	bin, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatal("the rule tests need promtool: apt-get install prometheus (go run ./cmd/mesh-suite does)")
	}
	out, err := exec.Command(bin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %v: %v\n%s", args, err, out)
	}
}

func TestTheScrapeExampleIsAValidConfig(t *testing.T) {
	promtool(t, "check", "config", "prometheus.yml")
}

func TestTheRulesAreValid(t *testing.T) { promtool(t, "check", "rules", "rules.yml") }

func TestTheRulesPassTheirUnitTests(t *testing.T) { promtool(t, "test", "rules", "rules_test.yml") }
