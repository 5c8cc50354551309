package main

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

func TestRunWithABadSettingExits2(t *testing.T) {
	var stdout, stderr bytes.Buffer
	env := func(k string) string { return map[string]string{"PEERS": "a", "LOG_LEVEL": "loud"}[k] }
	if code := run(nil, env, &stdout, &stderr); code != exitConfig {
		t.Fatalf("exit code %d, want %d", code, exitConfig)
	}
	if stderr.String() != "mesh: invalid LOG_LEVEL=\"loud\": must be trace, debug, info, warn or error\n" || stdout.Len() != 0 {
		t.Fatalf("stderr %q stdout %q", stderr.String(), stdout.String())
	}
}

// A DEBUG_ADDR on the node's own port once made the second listener fail
// after start: exit 1, and nothing on stderr. It is a bad setting.
func TestRunWithADebugAddrOnTheNodesOwnPortExits2(t *testing.T) {
	var stdout, stderr bytes.Buffer
	env := func(k string) string {
		return map[string]string{"PEERS": "a", "LISTEN_ADDR": "127.0.0.1:4000", "DEBUG_ADDR": "127.0.0.1:4000"}[k]
	}
	if code := run(nil, env, &stdout, &stderr); code != exitConfig {
		t.Fatalf("exit code %d, want %d", code, exitConfig)
	}
	if got := stderr.String(); strings.Count(got, "\n") != 1 || !strings.Contains(got, "DEBUG_ADDR") {
		t.Fatalf("stderr %q, want one line naming DEBUG_ADDR", got)
	}
}

func TestRunVersionAndHelp(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"--version"}, func(string) string { return "" }, &stdout, &stderr); code != 0 || stdout.String() != "mesh dev\n" {
		t.Fatalf("--version: %d %q", code, stdout.String())
	}
	stdout.Reset()
	if code := run([]string{"--help"}, func(string) string { return "" }, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), "--poll-interval") {
		t.Fatalf("--help: %d %q", code, stdout.String())
	}
}

func TestRunWithAStateFileInAMissingDirectoryExits2(t *testing.T) {
	var stdout, stderr bytes.Buffer
	env := func(k string) string {
		return map[string]string{"PEERS": "a", "STATE_FILE": "/nonexistent-mesh-dir/state.json"}[k]
	}
	if code := run(nil, env, &stdout, &stderr); code != exitConfig {
		t.Fatalf("exit code %d, want %d", code, exitConfig)
	}
	if got := stderr.String(); strings.Count(got, "\n") != 1 || !strings.Contains(got, "STATE_FILE") || !strings.Contains(got, "/nonexistent-mesh-dir") {
		t.Fatalf("stderr %q, want one line naming STATE_FILE and the directory", got)
	}
}

func TestRunWithAStateFileThatIsADirectoryExits2AndLeavesItAlone(t *testing.T) {
	dir := t.TempDir()
	var stdout, stderr bytes.Buffer
	env := func(k string) string { return map[string]string{"PEERS": "a", "STATE_FILE": dir}[k] }
	if code := run(nil, env, &stdout, &stderr); code != exitConfig {
		t.Fatalf("exit code %d, want %d", code, exitConfig)
	}
	if got := stderr.String(); strings.Count(got, "\n") != 1 || !strings.Contains(got, "STATE_FILE") || !strings.Contains(got, "is a directory") {
		t.Fatalf("stderr %q, want one line naming STATE_FILE and saying it is a directory", got)
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		t.Fatalf("the directory was moved or replaced: %v", err)
	}
}

// A demo asked for too few or too many nodes, or with no room for its
// chat after the nodes' ports, stops at once with one line saying why.
func TestDemoWithBadFlagsExits2(t *testing.T) {
	for _, args := range [][]string{{"--nodes", "2"}, {"--nodes", "13"}, {"--port", "65530", "--nodes", "6"}, {"--outage-for", "0s"}, {"--outage-every", "20s", "--outage-for", "20s"}} {
		var out, errOut bytes.Buffer
		if code := run(append([]string{"demo"}, args...), func(string) string { return "" }, &out, &errOut); code != exitConfig {
			t.Fatalf("demo %v: exit %d, want %d\n%s", args, code, exitConfig, errOut.String())
		}
		if lines := strings.Count(errOut.String(), "\n"); lines != 1 || !strings.Contains(errOut.String(), "--nodes must be 3-12") {
			t.Fatalf("demo %v: stderr %q, want one line naming the rules", args, errOut.String())
		}
	}
}
