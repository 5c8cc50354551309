package e2e

import (
	"flag"
	"fmt"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
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
// adds browserLoad. A test whose load is the budget or more runs alone,
// after the others (see shares).
// The tests in network namespaces share the machine too: each network has
// names of its own (see newNetwork), and its iptables rules live in its
// own namespaces. A test that does not call shareMachine runs alone,
// before the others, as Go runs tests that do not call t.Parallel.
const (
	machineBudget = 40
	browserLoad   = 12
)

// machine hands out shares of machineBudget.
var machine = &shares{free: machineBudget}

// maxParallel is go test's -parallel when not given: more than the tests
// that share the machine, so that every one of them waits for its share,
// not for one of -parallel's slots. A short test waiting for the long
// ones to ask for their share holds a slot; were the slots all taken so
// before a long test had one, each would wait for the other for ever (at
// 64 slots and 70 tests, it happened). inSlots says so if it comes near.
// (Go's own default, GOMAXPROCS, would let only two tests run at once.)
const maxParallel = 512

// inSlots counts the tests past t.Parallel that share the machine.
var inSlots atomic.Int32

// loadOf is the load of a cluster of nodes that probe each other every
// poll: each probes the others, and relays to them as often.
func loadOf(nodes int, poll time.Duration) int {
	return max(1, int(math.Ceil(float64(nodes*(nodes-1))*float64(100*time.Millisecond)/float64(poll))))
}

// longAsked counts the long tests (see shareMachineEarly) that have not
// yet asked for their share: the others ask after them.
var longAsked sync.WaitGroup

// shareMachine lets t run beside other tests, once load fits in what they
// leave of machineBudget, and holds it until t ends. Call it first.
func shareMachine(t *testing.T, load int) {
	t.Helper()
	t.Parallel()
	if n := inSlots.Add(1); longFirst && int(n) > slots/2 {
		t.Fatalf("%d tests share the machine, near -parallel's %d slots, which the short ones waiting for the long ones could take all of: raise maxParallel", n, slots)
	}
	t.Cleanup(func() { inSlots.Add(-1) })
	if longFirst {
		longAsked.Wait()
	}
	rank := rankShort
	if load >= machineBudget {
		rank = rankAlone
	}
	share(t, machine.ask(load, rank))
}

// shareMachineEarly is shareMachine for a test of a minute or more: it
// asks for its share before any shorter test and is served first (see
// shares), so that the long ones run from
// the start, beside the short ones, rather than last and alone (Go starts
// the tests that wait side by side in no particular order).
func shareMachineEarly(t *testing.T, load int) {
	t.Helper()
	longAsked.Add(1) // before t.Parallel, which waits for every test to have been started
	t.Parallel()
	a := machine.ask(load, rankLong)
	longAsked.Done()
	share(t, a)
}

// share waits for a's share and gives it back when t ends.
func share(t *testing.T, a *ask) {
	t.Helper()
	asked := time.Now()
	if err := machine.wait(t.Context(), a); err != nil {
		t.Fatalf("waiting for a share of the machine: %v", err)
	}
	t.Cleanup(func() { machine.release(a.load) })
	// When each test ran, and beside which, is what the suite's run time
	// is made of (BENCHMARKS.md, "The suite's run time").
	t.Logf("got its share of the machine, %d of %d, after %s", a.load, machineBudget, time.Since(asked).Round(time.Millisecond))
}

// longFirst: the short tests wait for the long ones to ask for their
// share (see shareMachineEarly). Only with far more of -parallel's slots than
// tests: with fewer, the short tests waiting could hold every slot while a
// long test waits for one (with -parallel 1, at once).
var longFirst bool

// slots is go test's -parallel.
var slots int

// parallelByDefault sets go test's -parallel to maxParallel unless it was
// given: machineBudget, not the number of cores, bounds these tests.
func parallelByDefault() {
	given := false
	flag.Visit(func(f *flag.Flag) { given = given || f.Name == "test.parallel" })
	if !given {
		_ = flag.Set("test.parallel", fmt.Sprint(maxParallel))
	}
	slots, _ = strconv.Atoi(flag.Lookup("test.parallel").Value.String())
	longFirst = slots >= maxParallel/2
}
