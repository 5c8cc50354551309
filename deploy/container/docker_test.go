// Package container tests Mesh as users deploy it: the image that
// deploy/Dockerfile builds, run as real containers on a real Docker engine.
// Where `docker info` fails the tests that need Docker are skipped, each
// with one line saying why.
package container

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// repoRoot is the build context: deploy/Dockerfile is built from there.
var repoRoot, _ = filepath.Abs(filepath.Join("..", ".."))

// The offline image is built once and removed when the package's tests end.
var (
	imageOnce sync.Once
	imageTag  string
	imageErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if imageTag != "" {
		if _, err := docker("image", "rm", "--force", imageTag); err != nil {
			fmt.Fprintln(os.Stderr, "could not remove the test image:", err)
		}
	}
	os.Exit(code)
}

// requireDocker skips t, in one line, where no Docker engine answers, and
// with -short (the inner loop: building images takes minutes).
func requireDocker(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("container tests skipped with -short")
	}
	if _, err := exec.LookPath("docker"); err != nil {
		t.Skip("container tests skipped: no docker command on this machine")
	}
	if out, err := exec.Command("docker", "info", "--format", "{{.ServerVersion}}").CombinedOutput(); err != nil {
		t.Skipf("container tests skipped: docker info failed: %s", firstLine(string(out)))
	}
}

// docker runs the docker command and returns its trimmed stdout.
func docker(args ...string) (string, error) {
	return run(exec.Command("docker", args...))
}

func run(cmd *exec.Cmd) (string, error) {
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%s: %v: %s", strings.Join(cmd.Args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(stdout.String()), nil
}

func mustDocker(t *testing.T, args ...string) string {
	t.Helper()
	out, err := docker(args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// offlineImage builds the image the way a machine without registry access
// does, as deploy/Dockerfile.offline documents: a static binary at
// deploy/bin/mesh, then that file.
func offlineImage(t *testing.T) string {
	t.Helper()
	requireDocker(t)
	imageOnce.Do(func() {
		build := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w -X main.version=v0.0.0-container",
			"-o", filepath.Join("deploy", "bin", "mesh"), "./cmd/mesh")
		build.Dir = repoRoot
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if _, imageErr = run(build); imageErr != nil {
			return
		}
		tag := "mesh-e2e:" + randomID()
		cmd := exec.Command("docker", "build", "--quiet", "-f", filepath.Join("deploy", "Dockerfile.offline"), "-t", tag, ".")
		cmd.Dir = repoRoot
		if _, imageErr = run(cmd); imageErr == nil {
			imageTag = tag
		}
	})
	if imageErr != nil {
		t.Fatal(imageErr)
	}
	return imageTag
}

func randomID() string { return strings.ToLower(rand.Text()[:8]) }

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// peerView is one peer in a node's /state.
type peerView struct {
	Status string  `json:"status"`
	Since  *string `json:"since"`
}

type state struct {
	Node  string              `json:"node"`
	Peers map[string]peerView `json:"peers"`
	Relay map[string]struct {
		Peers map[string]peerView `json:"peers"`
	} `json:"relay"`
}

var client = &http.Client{Timeout: 2 * time.Second}

// getState reads /state at a host:port.
func getState(addr string) (state, error) {
	var s state
	resp, err := client.Get("http://" + addr + "/state")
	if err != nil {
		return s, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return s, fmt.Errorf("GET /state: %s", resp.Status)
	}
	return s, json.NewDecoder(resp.Body).Decode(&s)
}

// eventually polls cond until it holds or the time runs out. Containers
// answer on their own schedule; the bound is generous, the poll quick.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func execDocker(args ...string) *exec.Cmd { return exec.Command("docker", args...) }
