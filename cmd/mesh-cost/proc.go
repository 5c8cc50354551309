package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTick is the unit of /proc/<pid>/stat's CPU times (USER_HZ), 100 on
// every Linux this runs on.
const clockTick = 10 * time.Millisecond

// cpuTime is the CPU a process (all its threads) has used so far, user and
// system, from /proc/<pid>/stat.
func cpuTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name, field 2, is in parentheses and may hold spaces;
	// utime and stime are fields 14 and 15, the 12th and 13th after it.
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 13 {
		return 0, fmt.Errorf("short /proc/%d/stat", pid)
	}
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("bad /proc/%d/stat", pid)
	}
	return time.Duration(utime+stime) * clockTick, nil
}

// peakRSS is the most resident memory the process has had (VmHWM).
func peakRSS(pid int) (int64, error) { return procStatus(pid, "VmHWM") }

// phasePeaks is the node's peak RSS phase by phase: the kernel's high
// water mark (VmHWM), reset as each phase begins (/proc/<pid>/clear_refs,
// Linux 4.0 on). Sampling RSS would miss what a collection hands back
// within milliseconds; the mark misses nothing.
type phasePeaks struct {
	pid   int
	peaks []phasePeak
}

type phasePeak struct {
	name string
	rss  int64
}

// end records the phase just ended as name and begins the next one.
func (p *phasePeaks) end(name string) error {
	peak, err := peakRSS(p.pid)
	if err != nil {
		return err
	}
	p.peaks = append(p.peaks, phasePeak{name, peak})
	return p.begin()
}

// begin resets the mark to the RSS now.
func (p *phasePeaks) begin() error {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", p.pid), []byte("5"), 0)
}

// highest is the highest of the phases' peaks: the whole run's.
func (p *phasePeaks) highest() int64 {
	var most int64
	for _, ph := range p.peaks {
		most = max(most, ph.rss)
	}
	return most
}

// residentSplit is the process's resident memory now: what maps files (the
// binary's own pages, shared with every process running it) and what is
// its own (the Go heap, stacks and the runtime's books).
func residentSplit(pid int) (file, anon int64, err error) {
	if file, err = procStatus(pid, "RssFile"); err != nil {
		return 0, 0, err
	}
	anon, err = procStatus(pid, "RssAnon")
	return file, anon, err
}

// procStatus reads one "kB" field of /proc/<pid>/status, in bytes.
func procStatus(pid int, field string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb * 1024, err
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, pid)
}
