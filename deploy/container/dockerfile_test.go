package container

import (
	"bufio"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// stage is one FROM ... block of a Dockerfile: its FROM line and the
// instructions after it, continuation lines joined.
type stage struct {
	from  string
	lines []string
}

// stages reads a Dockerfile. Ours uses no parser directives or heredocs, so
// comments, blank lines and trailing backslashes are all there is to it.
func stages(t *testing.T, path string) []stage {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []stage
	var pending string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasSuffix(line, `\`) {
			pending += strings.TrimSuffix(line, `\`) + " "
			continue
		}
		line, pending = pending+line, ""
		if strings.HasPrefix(line, "FROM ") {
			out = append(out, stage{from: line})
			continue
		}
		if len(out) == 0 {
			t.Fatalf("%s: %q before the first FROM", path, line)
		}
		out[len(out)-1].lines = append(out[len(out)-1].lines, line)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// The offline image (deploy/Dockerfile.offline) and the default one
// (deploy/Dockerfile's last stage) must be the same but for where the
// binary comes from: a setting added to one and not the other would make a
// machine without registry access test something else. The offline one is
// a file of its own, so that Docker's classic builder, which builds every
// stage of a file, can build the default without a host-built binary.
func TestDockerfileOfflineAndDefaultStagesMakeTheSameImage(t *testing.T) {
	all := stages(t, filepath.Join(repoRoot, "deploy", "Dockerfile"))
	if len(all) < 2 {
		t.Fatalf("deploy/Dockerfile has %d stages, want the build stage and the runtime one last", len(all))
	}
	offlines := stages(t, filepath.Join(repoRoot, "deploy", "Dockerfile.offline"))
	if len(offlines) != 1 || offlines[0].from != "FROM scratch" {
		t.Fatalf("deploy/Dockerfile.offline has stages %v, want one, FROM scratch", offlines)
	}
	for _, s := range all {
		for _, l := range s.lines {
			if strings.Contains(l, "deploy/bin/") {
				t.Errorf("deploy/Dockerfile copies the host-built binary (%q): the classic builder would need it to build the default", l)
			}
		}
	}
	offline, final := offlines[0], all[len(all)-1]
	if final.from != "FROM scratch" && !strings.HasPrefix(final.from, "FROM gcr.io/distroless/static") {
		t.Errorf("the last stage is %q, want scratch or distroless-static", final.from)
	}
	binaryFrom := func(s stage) (string, []string) {
		var copied string
		var rest []string
		for _, l := range s.lines {
			if strings.HasPrefix(l, "COPY ") && strings.HasSuffix(l, " /mesh") {
				copied = l
				continue
			}
			rest = append(rest, l)
		}
		return copied, rest
	}
	offlineCopy, offlineRest := binaryFrom(offline)
	finalCopy, finalRest := binaryFrom(final)
	if offlineCopy != "COPY deploy/bin/mesh /mesh" {
		t.Errorf("the offline stage copies %q, want the host-built deploy/bin/mesh", offlineCopy)
	}
	if !strings.HasPrefix(finalCopy, "COPY --from=") {
		t.Errorf("the default stage copies %q, want the binary from the build stage", finalCopy)
	}
	if !slices.Equal(offlineRest, finalRest) {
		t.Errorf("the runtime stages differ:\noffline: %q\ndefault: %q", offlineRest, finalRest)
	}

	// The build stage: static, reproducible, stripped, stamped.
	var build string
	for _, s := range all[:len(all)-1] {
		for _, l := range s.lines {
			if strings.Contains(l, "go build") {
				build = l
			}
		}
	}
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "-s -w", "-X main.version=", "./cmd/mesh"} {
		if !strings.Contains(build, want) {
			t.Errorf("the build stage's go build %q lacks %s", build, want)
		}
	}
}
