package httpapi

import (
	"slices"
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
	seen  map[[32]byte]time.Time
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
		s = &seenRelays{seen: map[[32]byte]time.Time{}}
		g.bySender[node] = s
	}
	key := [32]byte(mac)
	if !sentAt.After(s.floor) {
		return false
	}
	if _, taken := s.seen[key]; taken {
		return false
	}
	s.seen[key] = sentAt
	if floor := sentAt.Add(-replayWindow); floor.After(s.floor) {
		s.floor = floor
	}
	if len(s.seen) > maxSeenPerSender {
		s.prune()
	}
	return true
}

// prune lets go of the MACs at or below the floor, and if that is not
// enough, of the older half, raising the floor past them.
func (s *seenRelays) prune() {
	for k, at := range s.seen {
		if !at.After(s.floor) {
			delete(s.seen, k)
		}
	}
	if len(s.seen) <= maxSeenPerSender/2 {
		return
	}
	times := make([]time.Time, 0, len(s.seen))
	for _, at := range s.seen {
		times = append(times, at)
	}
	slices.SortFunc(times, time.Time.Compare)
	s.floor = times[len(times)/2]
	for k, at := range s.seen {
		if !at.After(s.floor) {
			delete(s.seen, k)
		}
	}
}
