package main

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"strings"

	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"
)

// dropStartupPages hands back to the kernel the pages of the binary that
// only the node's start touched. Before main, Go runs every package's
// init (Shoutrrr's services, protobuf's descriptors, TLS and x509 tables,
// all linked in), and the kernel maps the pages they touch, 64 KB around
// each, for the life of the process: 12 MB of the binary's 14 MB of code
// and read-only data stayed resident in every node, when a running node
// touches 2 to 5 MB of it again (BENCHMARKS.md, "Memory at 1000 peers").
// MADV_PAGEOUT unmaps and reclaims the binary's read-only pages; those the
// node uses fault back in, from the page cache or the disk. The data the
// process wrote is its own and is left alone. Where the kernel does not
// know MADV_PAGEOUT (before Linux 5.4, some sandboxes), nothing changes.
func dropStartupPages(log zerolog.Logger) {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		log.Debug().Err(err).Msg("start-up pages kept")
		return
	}
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		log.Debug().Err(err).Msg("start-up pages kept")
		return
	}
	var dropped uintptr
	for _, r := range readOnlyMappingsOf(maps, exe) {
		if _, _, errno := unix.Syscall(unix.SYS_MADVISE, r.start, r.end-r.start, unix.MADV_PAGEOUT); errno != 0 {
			log.Debug().Err(errno).Msg("start-up pages kept")
			return
		}
		dropped += r.end - r.start
	}
	log.Debug().Uint64("bytes", uint64(dropped)).Msg("start-up pages handed back")
}

// mapping is an address range of /proc/self/maps.
type mapping struct{ start, end uintptr }

// readOnlyMappingsOf returns the ranges of maps (/proc/self/maps) that map
// file read-only (its code and constants; not what the process may write).
func readOnlyMappingsOf(maps []byte, file string) []mapping {
	var out []mapping
	lines := bufio.NewScanner(bytes.NewReader(maps))
	for lines.Scan() {
		// address perms offset dev inode path
		f := strings.Fields(lines.Text())
		if len(f) < 6 || strings.Join(f[5:], " ") != file || strings.Contains(f[1], "w") {
			continue
		}
		from, to, ok := strings.Cut(f[0], "-")
		start, err1 := strconv.ParseUint(from, 16, 64)
		end, err2 := strconv.ParseUint(to, 16, 64)
		if !ok || err1 != nil || err2 != nil || end <= start {
			continue
		}
		out = append(out, mapping{uintptr(start), uintptr(end)})
	}
	return out
}
