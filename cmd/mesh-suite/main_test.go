package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// lookIn finds commands only among have.
func lookIn(have ...string) func(string) (string, error) {
	return func(c string) (string, error) {
		if slices.Contains(have, c) {
			return "/usr/bin/" + c, nil
		}
		return "", errors.New("not found")
	}
}

func TestMissingNamesEachPackageOnceInOrder(t *testing.T) {
	got := missing(lookIn("node", "ip", "prometheus"))
	want := []string{"chromium", "iptables", "prometheus-alertmanager", "prometheus", "systemd"}
	if !slices.Equal(got, want) {
		t.Fatalf("missing %v, want %v (promtool's package once, though prometheus is there)", got, want)
	}
	var all []string
	for _, n := range needs {
		all = append(all, n.command)
	}
	if got := missing(lookIn(all...)); len(got) != 0 {
		t.Fatalf("with every command: missing %v", got)
	}
}

// Not root, with packages missing: one apt-get line on stderr, exit 1,
// and the suite does not run.
func TestNotRootPrintsTheInstallLineAndFails(t *testing.T) {
	var out, errOut bytes.Buffer
	code := run(nil, false, lookIn("node", "ip", "iptables", "prometheus", "promtool", "systemd-analyze"), &out, &errOut)
	if code == 0 {
		t.Fatal("exit 0 with packages missing")
	}
	if want := "apt-get update && apt-get install -y chromium prometheus-alertmanager\n"; !strings.Contains(errOut.String(), want) {
		t.Fatalf("stderr %q, want the line %q", errOut.String(), want)
	}
	if strings.Contains(out.String(), "go test") {
		t.Fatalf("the suite ran: %s", out.String())
	}
}

// Root, with a package missing: apt-get installs it, then the suite runs
// with the arguments given. apt-get and go are stand-ins here that note
// their arguments, on a PATH of their own: the real ones are what .ci/run
// proves on a fresh machine every time.
func TestRootInstallsWhatIsMissingThenRunsTheSuite(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "log")
	for _, name := range []string{"apt-get", "go", "node", "ip", "iptables", "prometheus", "promtool", "prometheus-alertmanager", "systemd-analyze"} {
		script := "#!/bin/sh\necho " + name + " \"$@\" >> " + log + "\n"
		if name == "apt-get" {
			// Installing puts chromium on the PATH.
			script += "case \"$1\" in install) printf '#!/bin/sh\\n' > " + filepath.Join(dir, "chromium") + "; /bin/chmod +x " + filepath.Join(dir, "chromium") + ";; esac\n"
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("PATH", dir)
	var out, errOut bytes.Buffer
	lookPath := func(c string) (string, error) {
		p := filepath.Join(dir, c)
		if _, err := os.Stat(p); err != nil {
			return "", err
		}
		return p, nil
	}
	if code := run([]string{"-run", "TestX", "./deploy/e2e"}, true, lookPath, &out, &errOut); code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out.String(), errOut.String())
	}
	b, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	want := "apt-get update -q\napt-get install -y -q --no-install-recommends chromium\ngo test -race -count=1 -timeout 30m -run TestX ./deploy/e2e\n"
	if string(b) != want {
		t.Fatalf("ran\n%s\nwant\n%s", b, want)
	}
}

// The whole suite names the end-to-end package first, so that it starts
// first; a run of chosen packages is left as given.
func TestTheLongPoleIsNamedFirst(t *testing.T) {
	if _, err := os.Stat(filepath.Join("..", "..", longPole)); err != nil {
		t.Fatalf("longPole %s: %v", longPole, err)
	}
	for _, c := range []struct{ args, want []string }{
		{[]string{"./..."}, []string{longPole, "./..."}},
		{[]string{"-json", "./..."}, []string{"-json", longPole, "./..."}},
		{[]string{"-run", "TestX", "./deploy/e2e"}, []string{"-run", "TestX", "./deploy/e2e"}},
		{[]string{longPole, "./..."}, []string{longPole, "./..."}},
		{[]string{"./httpapi"}, []string{"./httpapi"}},
	} {
		if got := longPoleFirst(c.args); !slices.Equal(got, c.want) {
			t.Errorf("longPoleFirst(%q) = %q, want %q", c.args, got, c.want)
		}
	}
}
