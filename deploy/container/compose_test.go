package container

import (
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// composeCommand is Compose v2 (docker compose) where the engine has it,
// else the standalone docker-compose.
func composeCommand(t *testing.T) []string {
	t.Helper()
	if exec.Command("docker", "compose", "version").Run() == nil {
		return []string{"docker", "compose"}
	}
	if exec.Command("docker-compose", "version").Run() == nil {
		return []string{"docker-compose"}
	}
	t.Skip("compose test skipped: neither docker compose nor docker-compose runs here")
	return nil
}

func TestComposeFileRunsAThreeNodeClusterWithItsPage(t *testing.T) {
	image := offlineImage(t)
	compose := composeCommand(t)
	project := "mesh-e2e-" + randomID()
	port := freePort(t)
	composeRun := func(args ...string) (string, error) {
		all := append(append(compose[1:], "--file", filepath.Join("deploy", "compose.yaml"), "--project-name", project), args...)
		cmd := exec.Command(compose[0], all...)
		cmd.Dir = repoRoot
		cmd.Env = append(os.Environ(), "MESH_IMAGE="+image, "MESH_PORT="+strconv.Itoa(port), "RELAY_SECRET="+randomID())
		return run(cmd)
	}
	t.Cleanup(func() {
		if t.Failed() {
			logs, _ := composeRun("logs", "--tail", "30")
			t.Logf("compose logs:\n%s", logs)
		}
		if _, err := composeRun("down", "--volumes", "--remove-orphans"); err != nil {
			t.Log(err)
		}
	})
	if _, err := composeRun("up", "--detach", "--no-build"); err != nil {
		t.Fatal(err)
	}

	addr := "127.0.0.1:" + strconv.Itoa(port)
	eventually(t, 30*time.Second, "mesh-a to see both others up and hold both relays", func() bool {
		s, err := getState(addr)
		return err == nil && s.Node == "mesh-a:4000" &&
			s.Peers["mesh-b:4000"].Status == "up" && s.Peers["mesh-c:4000"].Status == "up" &&
			s.Relay["mesh-b:4000"].Peers["mesh-c:4000"].Status == "up" && s.Relay["mesh-c:4000"].Peers["mesh-b:4000"].Status == "up"
	})
	resp, err := client.Get("http://" + addr + "/ui/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(page), "<title>") {
		t.Fatalf("GET /ui/ on the published port: %d %.200s", resp.StatusCode, page)
	}

	// What the file's header suggests: kill a node, watch it go, and read
	// what the chat was told.
	if _, err := composeRun("kill", "mesh-b"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "mesh-a and mesh-c to see mesh-b down", func() bool {
		s, err := getState(addr)
		return err == nil && s.Peers["mesh-b:4000"].Status == "down" && s.Relay["mesh-c:4000"].Peers["mesh-b:4000"].Status == "down"
	})
	var chat string
	eventually(t, 60*time.Second, "the chat service to print the down message", func() bool {
		chat, _ = composeRun("logs", "--no-color", "chat")
		return strings.Contains(chat, "🔴 `mesh-b:4000` is unreachable from 2 of 3 nodes (mesh-a:4000, mesh-c:4000)")
	})
	// Two election slots at this rhythm (2 × (2 s + 5 s) each): a second
	// announcer would have spoken by then.
	time.Sleep(30 * time.Second)
	chat, _ = composeRun("logs", "--no-color", "chat")
	if n := strings.Count(chat, "`mesh-b:4000` is unreachable"); n != 1 {
		t.Fatalf("the chat printed %d down messages, want 1:\n%s", n, chat)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
