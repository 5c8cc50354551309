// Package systemd holds Mesh's systemd unit; its test has systemd check the
// unit as it would load it, holds the hardening and the state directory
// README promises, and loads the settings the unit's header shows with
// Mesh's own config.
package systemd

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/dupunkto/mesh/config"
)

const unit = "mesh.service"

// directives returns the unit's directives as key=value lines, in order,
// comments and section headers left out.
func directives(t *testing.T, data []byte) []string {
	t.Helper()
	var out []string
	s := bufio.NewScanner(bytes.NewReader(data))
	for s.Scan() {
		line := strings.TrimSpace(s.Text())
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "[") {
			continue
		}
		out = append(out, line)
	}
	return out
}

func TestTheUnitIsHardenedAndKeepsItsStateInItsStateDirectory(t *testing.T) {
	data, err := os.ReadFile(unit)
	if err != nil {
		t.Fatal(err)
	}
	got := directives(t, data)
	for _, want := range []string{
		"DynamicUser=yes", "StateDirectory=mesh", "Environment=STATE_FILE=/var/lib/mesh/state.json",
		"Restart=on-failure", "EnvironmentFile=/etc/mesh.env", "NoNewPrivileges=yes", "ProtectSystem=strict",
		"ProtectHome=yes", "PrivateTmp=yes", "CapabilityBoundingSet=", "SystemCallErrorNumber=EPERM",
	} {
		if !slices.Contains(got, want) {
			t.Errorf("the unit lacks %s", want)
		}
	}
}

// systemd-analyze verify reads the unit as systemd would and refuses an
// unknown directive, a bad value or a missing binary.
func TestSystemdTakesTheUnit(t *testing.T) {
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Fatal("systemd-analyze is missing: apt-get install systemd (go run ./cmd/mesh-suite does)")
	}
	dir := t.TempDir()
	binary := filepath.Join(dir, "mesh")
	build := exec.Command("go", "build", "-o", binary, "github.com/dupunkto/mesh/cmd/mesh")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building mesh: %v\n%s", err, out)
	}
	data, err := os.ReadFile(unit)
	if err != nil {
		t.Fatal(err)
	}
	data = bytes.ReplaceAll(data, []byte("ExecStart=/usr/local/bin/mesh"), []byte("ExecStart="+binary))
	path := filepath.Join(dir, unit)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("systemd-analyze", "verify", path).CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) != 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// The settings the unit's header shows for /etc/mesh.env are ones Mesh
// takes.
func TestTheUnitsExampleSettingsLoad(t *testing.T) {
	data, err := os.ReadFile(unit)
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	s := bufio.NewScanner(bytes.NewReader(data))
	for s.Scan() {
		line, ok := strings.CutPrefix(s.Text(), "#   ")
		k, v, isSetting := strings.Cut(line, "=")
		if ok && isSetting && k == strings.ToUpper(k) && !strings.Contains(k, " ") {
			env[k] = strings.ReplaceAll(v, "...", "x")
		}
	}
	if len(env) < 4 {
		t.Fatalf("found %v in the unit's header, want NODE, PEERS, RELAY_SECRET and WEBHOOK_URL", env)
	}
	if _, err := config.Load(nil, func(k string) string { return env[k] }, func() (string, error) { return "h", nil }, io.Discard); err != nil {
		t.Fatalf("the unit's example settings %v: %v", env, err)
	}
}
