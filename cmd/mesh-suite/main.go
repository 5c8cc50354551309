// Command mesh-suite runs Mesh's whole test suite on a fresh machine. The
// suite meets real components where users meet them (Chromium, Node.js,
// Alertmanager, Prometheus, network namespaces); this installs from Debian
// those that are missing when it runs as root, or prints the one apt-get
// line that would when it does not, and then runs
//
//	go test -race -count=1 -timeout 30m ./...
//
// README.md gives it as the test command, and .ci/run runs exactly that,
// so CI proves on a fresh machine every time that it works. Arguments
// replace ./... (go run ./cmd/mesh-suite -run TestDemo ./deploy/e2e).
// Developers who have the packages can run go test ./... as ever.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
)

// need is a command the suite runs, and the Debian package that has it.
type need struct {
	command, pkg, usedBy string
}

// needs is every command the suite needs beyond Go. A test that needs one
// fails, naming the package, when it is missing: it does not skip.
var needs = []need{
	{"node", "nodejs", "the page's JavaScript tests"},
	{"chromium", "chromium", "the browser tests"},
	{"ip", "iproute2", "the network namespace tests"},
	{"iptables", "iptables", "the network namespace tests"},
	{"prometheus-alertmanager", "prometheus-alertmanager", "the Alertmanager tests"},
	{"prometheus", "prometheus", "the Prometheus scrape test"},
	{"promtool", "prometheus", "the rule and dashboard tests"},
	{"systemd-analyze", "systemd", "the systemd unit's test"},
}

func main() {
	os.Exit(run(os.Args[1:], os.Geteuid() == 0, exec.LookPath, os.Stdout, os.Stderr))
}

// run installs what is missing (root) or says what is (not root), then
// runs the suite; it returns the exit code.
func run(args []string, root bool, lookPath func(string) (string, error), stdout, stderr io.Writer) int {
	if pkgs := missing(lookPath); len(pkgs) > 0 {
		if !root {
			fmt.Fprintf(stderr, "mesh-suite: the suite needs Debian packages this machine lacks; as root, run:\n\n  %s\n\nor run this command as root, which installs them.\n", installLine(pkgs))
			return 1
		}
		fmt.Fprintf(stdout, "mesh-suite: installing %s\n", strings.Join(pkgs, " "))
		if err := sh(stdout, stderr, "apt-get", "update", "-q"); err != nil {
			fmt.Fprintf(stderr, "mesh-suite: apt-get update: %v\n", err)
			return 1
		}
		if err := sh(stdout, stderr, "apt-get", append([]string{"install", "-y", "-q", "--no-install-recommends"}, pkgs...)...); err != nil {
			fmt.Fprintf(stderr, "mesh-suite: %s: %v\n", installLine(pkgs), err)
			return 1
		}
		if still := missing(lookPath); len(still) > 0 {
			fmt.Fprintf(stderr, "mesh-suite: still missing after installing: %s\n", strings.Join(still, " "))
			return 1
		}
	}
	if len(args) == 0 {
		args = []string{"./..."}
	}
	goTest := append([]string{"test", "-race", "-count=1", "-timeout", "30m"}, longPoleFirst(args)...)
	fmt.Fprintf(stdout, "mesh-suite: go %s\n", strings.Join(goTest, " "))
	if err := sh(stdout, stderr, "go", goTest...); err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return exit.ExitCode()
		}
		fmt.Fprintf(stderr, "mesh-suite: go test: %v\n", err)
		return 1
	}
	return 0
}

// longPole is the package whose tests take most of the suite's time (its
// end-to-end tests wait on real time). go test builds and runs packages in
// the order they are named, two at a time on two cores; named first, it
// starts as soon as it is built and the others run beside it, rather than
// it starting a minute and a half on, after those before it by name.
const longPole = "./deploy/e2e"

// longPoleFirst names longPole before ./... in args (go test runs each
// package once, where it is first named).
func longPoleFirst(args []string) []string {
	i := slices.Index(args, "./...")
	if i < 0 || slices.Contains(args, longPole) {
		return args
	}
	return slices.Insert(slices.Clone(args), i, longPole)
}

// missing returns the packages whose commands are not on PATH, each once,
// in the order of needs.
func missing(lookPath func(string) (string, error)) []string {
	var pkgs []string
	for _, n := range needs {
		if _, err := lookPath(n.command); err != nil && !slices.Contains(pkgs, n.pkg) {
			pkgs = append(pkgs, n.pkg)
		}
	}
	return pkgs
}

func installLine(pkgs []string) string {
	return "apt-get update && apt-get install -y " + strings.Join(pkgs, " ")
}

// sh runs a command with the given output, and the environment of this
// one plus a non-interactive Debian front end.
func sh(stdout, stderr io.Writer, name string, args ...string) error {
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	return cmd.Run()
}
