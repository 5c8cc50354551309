package main

import (
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/rs/zerolog"
)

func TestReadOnlyMappingsOfTheBinary(t *testing.T) {
	maps := []byte(`00400000-00a91000 r-xp 00000000 fd:01 1234 /usr/local/bin/mesh
00a91000-01236000 r--p 00691000 fd:01 1234 /usr/local/bin/mesh
01236000-012c7000 rw-p 00e36000 fd:01 1234 /usr/local/bin/mesh
012c7000-03327000 rw-p 00000000 00:00 0
7f56d6c22000-7f56d6c82000 r--p 00000000 fd:01 99 /usr/local/bin/mesh-other
7ffd1000-7ffd2000 r-xp 00000000 00:00 0 [vdso]
zzzz-00400000 r-xp 00000000 fd:01 1234 /usr/local/bin/mesh
`)
	got := readOnlyMappingsOf(maps, "/usr/local/bin/mesh")
	want := []mapping{{0x400000, 0xa91000}, {0xa91000, 0x1236000}}
	if !slices.Equal(got, want) {
		t.Fatalf("got %x, want the code and the constants, not the data, other files or a line that does not parse: %x", got, want)
	}
	if got := readOnlyMappingsOf([]byte("00400000-00a91000 r-xp 00000000 fd:01 1234 /opt/my mesh/mesh (deleted)\n"), "/opt/my mesh/mesh (deleted)"); len(got) != 1 {
		t.Fatalf("a path with a space: %x", got)
	}
}

// rssFile is this process's file-backed resident memory, in kB.
func rssFile(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "RssFile:"); ok {
			kb, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			if err != nil {
				t.Fatal(err)
			}
			return kb
		}
	}
	t.Fatal("no RssFile in /proc/self/status")
	return 0
}

// On this kernel, the pages start-up touched are handed back: this test
// binary's own, which its init and the tests before this one mapped.
func TestStartupPagesAreHandedBack(t *testing.T) {
	before := rssFile(t)
	dropStartupPages(zerolog.Nop())
	after := rssFile(t)
	t.Logf("file-backed resident memory: %d kB before, %d kB after", before, after)
	if after > before/2 {
		t.Fatalf("file-backed resident memory %d kB after handing back the start-up pages, from %d kB: want under half", after, before)
	}
}
