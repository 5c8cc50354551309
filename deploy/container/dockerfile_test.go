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

// The offline stage and the default stage must make the same image but for
// where the binary comes from: a setting added to one and not the other
// would make a machine without registry access test something else.
func TestDockerfileOfflineAndDefaultStagesMakeTheSameImage(t *testing.T) {
	all := stages(t, filepath.Join(repoRoot, "deploy", "Dockerfile"))
	if len(all) < 2 {
		t.Fatalf("deploy/Dockerfile has %d stages, want the offline one first and the default last", len(all))
	}
	offline, final := all[0], all[len(all)-1]
	if offline.from != "FROM scratch AS offline" {
		t.Errorf("the first stage is %q, want FROM scratch AS offline", offline.from)
	}
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
	for _, s := range all[1 : len(all)-1] {
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
