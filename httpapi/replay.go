package httpapi

import (
	"sync"
	"time"
)

// A relay between Mesh nodes carries a MAC, not the secret (wire.MACKey):
// someone on the path cannot make one, but could post one they saw again.
// The replay guard refuses a relay whose MAC it has taken before. It
// keeps, for each sender, the MACs of the relays it took in the last
// replayWindow by that sender's clock (the relays say when they were
// sent, and the MAC covers that), and refuses anything older than the
// window before the newest it took: too old to be told from the set.
//
// Memory is bounded: senders are this node's peers (the guard is asked
// only after that check), and each keeps at most maxSeenPerSender MACs; a
// holder of the secret posting more than that within the window moves the
// floor up, which costs only relays older than what it keeps.
type replayGuard struct {
	mu       sync.Mutex
	bySender map[string]*seenRelays
}

type seenRelays struct {
	floor time.Time // nothing sent at or before it is taken
	seen  map[[32]byte]bool
	// order is the MACs kept, in the order taken (nearly the order sent),
	// from head on: the oldest leave from the front as the floor passes
	// them, so that a sender's MACs kept are about a window's worth.
	order []seenRelay
	head  int
}

type seenRelay struct {
	mac [32]byte
	at  time.Time
}

const (
	// replayWindow is how far before the newest relay taken from a
	// sender one may have been sent and still be taken: relays posted in
	// one round reach a peer in any order, and one retried comes late.
	replayWindow = time.Minute
	// maxSeenPerSender bounds the MACs kept of one sender: 20 relays a
	// second (two rounds a second, at most one per peer per round, and
	// the leave) for the whole window is 1200.
	maxSeenPerSender = 4096
)

func newReplayGuard() *replayGuard { return &replayGuard{bySender: map[string]*seenRelays{}} }

// admit reports whether the relay node sent at sentAt with mac is one not
// taken before, and notes it.
func (g *replayGuard) admit(node string, sentAt time.Time, mac []byte) bool {
	if len(mac) != 32 {
		return false
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	s := g.bySender[node]
	if s == nil {
		s = &seenRelays{seen: map[[32]byte]bool{}}
		g.bySender[node] = s
	}
	key := [32]byte(mac)
	if !sentAt.After(s.floor) || s.seen[key] {
		return false
	}
	s.seen[key] = true
	s.order = append(s.order, seenRelay{key, sentAt})
	if floor := sentAt.Add(-replayWindow); floor.After(s.floor) {
		s.floor = floor
	}
	s.forget()
	return true
}

// forget lets go of the MACs at the front that the floor has passed, and
// while more than maxSeenPerSender are kept, of the oldest, raising the
// floor past them.
func (s *seenRelays) forget() {
	for s.head < len(s.order) && (!s.order[s.head].at.After(s.floor) || len(s.order)-s.head > maxSeenPerSender) {
		r := s.order[s.head]
		if r.at.After(s.floor) {
			s.floor = r.at
		}
		delete(s.seen, r.mac)
		s.head++
	}
	if s.head > len(s.order)/2 { // reuse the front: amortised, the slice stays within twice what is kept
		s.order = append(s.order[:0], s.order[s.head:]...)
		s.head = 0
	}
}
