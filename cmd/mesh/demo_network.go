package main

import (
	"errors"
	"sync/atomic"

	"github.com/dupunkto/mesh/actors"
)

// demoNetwork is the network of `mesh demo --isolate`. The demo's nodes
// share one process and the machine's loopback, which no node can lose on
// its own, so a node is cut off where its connections start: every dial
// its clients make (probes, relays, the isolation guard's outside checks,
// the chat) fails, and so does every dial another node makes to it. The
// browser reads it as before, so the page shows the node as it sees
// itself. This works the same on every platform, and needs no privilege.
//
// The chaos service alone sets it; every node's clients read it.
type demoNetwork struct {
	isolated atomic.Pointer[string] // the listen address cut off; nil: none
}

// errCutOff is what a dial fails with while its node or its peer is cut off.
var errCutOff = errors.New("mesh demo: network cut off")

// isolate cuts addr off; "" puts it back.
func (n *demoNetwork) isolate(addr string) {
	if addr == "" {
		n.isolated.Store(nil)
		return
	}
	n.isolated.Store(&addr)
}

// cutFor is the cut of the node listening on self.
func (n *demoNetwork) cutFor(self string) actors.Cut {
	return func(addr string) error {
		if cut := n.isolated.Load(); cut != nil && (*cut == self || *cut == addr) {
			return errCutOff
		}
		return nil
	}
}
