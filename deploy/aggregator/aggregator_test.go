package aggregator

import (
	"io"
	"io/fs"
	"net/http/httptest"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// TestJavaScriptUnitTests runs the page's logic tests (mesh.test.mjs) with
// Node's own test runner, so that `go test ./...` covers them too.
func TestJavaScriptUnitTests(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("Node.js is needed for the page's tests: apt-get install nodejs (go run ./cmd/mesh-suite does)")
	}
	out, err := exec.Command(node, "--test", "--test-reporter=tap", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("node --test failed: %v\n%s", err, out)
	}
	if !regexp.MustCompile(`(?m)^# pass [1-9]`).Match(out) || !strings.Contains(string(out), "# fail 0") {
		t.Fatalf("node --test ran no passing tests:\n%s", out)
	}
}

func TestHandlerServesThePage(t *testing.T) {
	srv := httptest.NewServer(Handler())
	defer srv.Close()
	for path, want := range map[string]string{"/": "text/html", "/app.mjs": "text/javascript", "/mesh.mjs": "text/javascript", "/style.css": "text/css"} {
		resp, err := srv.Client().Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), want) {
			t.Errorf("GET %s = %d %q, want 200 %s", path, resp.StatusCode, resp.Header.Get("Content-Type"), want)
		}
	}
}

// TestPageRulesHold checks the rules the page lives by in its own source:
// no markup built from strings, and no request to any host but the nodes.
func TestPageRulesHold(t *testing.T) {
	err := fs.WalkDir(files, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		f, _ := files.Open(path)
		b, _ := io.ReadAll(f)
		f.Close()
		src := string(b)
		for _, banned := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("} {
			if strings.Contains(src, banned) {
				t.Errorf("%s uses %s: a hostile node's strings could become markup", path, banned)
			}
		}
		// The only absolute URL allowed is the SVG namespace, which is a name, not a request.
		for _, u := range regexp.MustCompile(`https?://[^\s"'<>)]+`).FindAllString(src, -1) {
			if u != "http://www.w3.org/2000/svg" {
				t.Errorf("%s refers to %s: the page must load nothing from anywhere but the nodes", path, u)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
