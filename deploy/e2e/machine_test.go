package e2e

import (
	"flag"
	"fmt"
	"math"
	"strconv"
	"sync"
	"testing"
	"time"

	"golang.org/x/sync/semaphore"
)

// Most of these tests wait on real time: a grace, a window, a reminder, a
// node that must be seen down and up again. Run one after another they
// take twenty minutes, the machine mostly idle; run all at once, twelve
// race-built nodes probing every 100 ms starve each other of CPU and miss
// their timeouts, and a test fails for the load rather than for Mesh. So
// a test that can share the machine says how much of it it takes, and
// runs beside others while their loads fit machineBudget together.
//
// A test's load is in probes every 100 ms: a node probing one peer at the
// e2e rhythm (POLL_INTERVAL=100ms) is 1, a five-node cluster 20, which
// take about half a core of this project's two-core machines when built
// with -race (a node probing four peers uses 11% of a core). A browser
// adds browserLoad. A test whose load is more than the budget runs alone.
// The tests in network namespaces share the machine too: each network has
// names of its own (see newNetwork), and its iptables rules live in its
// own namespaces. A test that does not call shareMachine runs alone,
// before the others, as Go runs tests that do not call t.Parallel.
const (
	machineBudget = 40
	browserLoad   = 12
)

var machine = semaphore.NewWeighted(machineBudget)

// maxParallel is go test's -parallel when not given: high enough that
// every test that shares the machine waits for its share, not for one of
// -parallel's slots, which a test waiting for its share would hold
// (Go's own default, GOMAXPROCS, would let only two tests run at once).
const maxParallel = 64

// loadOf is the load of a cluster of nodes that probe each other every
// poll: each probes the others, and relays to them as often.
func loadOf(nodes int, poll time.Duration) int {
	return max(1, int(math.Ceil(float64(nodes*(nodes-1))*float64(100*time.Millisecond)/float64(poll))))
}

// longWaiting counts the long tests (see shareMachineEarly) that have
// not got their share yet: the others wait for them to have it.
var longWaiting sync.WaitGroup

// shareMachine lets t run beside other tests, once load fits in what they
// leave of machineBudget, and holds it until t ends. Call it first.
func shareMachine(t *testing.T, load int) {
	t.Helper()
	t.Parallel()
	if longFirst {
		longWaiting.Wait()
	}
	share(t, load)
}

// shareMachineEarly is shareMachine for a test of a minute or more: it
// gets its share before any shorter test, so that the long ones run from
// the start, beside the short ones, rather than last and alone (Go starts
// the tests that wait side by side in no particular order).
func shareMachineEarly(t *testing.T, load int) {
	t.Helper()
	longWaiting.Add(1) // before t.Parallel, which waits for every test to have been started
	t.Parallel()
	defer longWaiting.Done()
	share(t, load)
}

func share(t *testing.T, load int) {
	t.Helper()
	w := int64(min(load, machineBudget))
	if err := machine.Acquire(t.Context(), w); err != nil {
		t.Fatalf("waiting for a share of the machine: %v", err)
	}
	t.Cleanup(func() { machine.Release(w) })
}

// longFirst: the short tests wait for the long ones to have their share
// (see shareMachineEarly). Only with room in -parallel's slots for every
// long test and more: with -parallel 1, a short test waiting would hold
// the one slot, and no long test would ever run.
var longFirst bool

// parallelByDefault sets go test's -parallel to maxParallel unless it was
// given: machineBudget, not the number of cores, bounds these tests.
func parallelByDefault() {
	given := false
	flag.Visit(func(f *flag.Flag) { given = given || f.Name == "test.parallel" })
	if !given {
		_ = flag.Set("test.parallel", fmt.Sprint(maxParallel))
	}
	n, _ := strconv.Atoi(flag.Lookup("test.parallel").Value.String())
	longFirst = n >= 16 // four long tests now; room for them and many more
}
