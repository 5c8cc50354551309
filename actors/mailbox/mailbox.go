// Package mailbox is the bounded inbox of an actor that takes items from
// another without ever blocking it: each chat channel's queue of the alert
// engine's messages.
package mailbox

import "sync"

// Policy chooses what gives way when a full mailbox is offered one more
// item: the index of a queued item to drop in favour of incoming, or -1 to
// drop incoming itself.
type Policy[T any] func(queued []T, incoming T) int

// DropIncoming is the policy that keeps what is queued.
func DropIncoming[T any](queued []T, incoming T) int { return -1 }

// Config is what a mailbox is built from.
type Config[T any] struct {
	// Size is how many items may wait; the owner of the mailbox says why
	// that many.
	Size int
	// Policy says what is dropped when the mailbox is full; nil is
	// DropIncoming.
	Policy Policy[T]
	// Dropped is told of every item dropped, with how many are queued, so
	// that the mailbox's owner can log and count it in its own words. It is
	// called from Put, with no lock held; it must not block.
	Dropped func(item T, queued int)
}

// Mailbox is a bounded FIFO queue. Put never blocks; Ready wakes the
// reader. It is safe for one or more writers and one reader.
type Mailbox[T any] struct {
	cfg   Config[T]
	mu    sync.Mutex
	items []T
	ready chan struct{}
}

// New returns an empty mailbox.
func New[T any](cfg Config[T]) *Mailbox[T] {
	if cfg.Size < 1 {
		panic("mailbox: size must be at least 1")
	}
	if cfg.Policy == nil {
		cfg.Policy = DropIncoming[T]
	}
	return &Mailbox[T]{cfg: cfg, ready: make(chan struct{}, 1)}
}

// Put queues item, or, when the mailbox is full, drops what the policy
// says. It never blocks. On a nil mailbox (a feature that is off) it does
// nothing.
func (m *Mailbox[T]) Put(item T) {
	if m == nil {
		return
	}
	m.mu.Lock()
	var (
		dropped T
		drop    bool
	)
	if len(m.items) >= m.cfg.Size {
		drop = true
		if victim := m.cfg.Policy(m.items, item); victim >= 0 {
			dropped = m.items[victim]
			m.items = append(m.items[:victim], m.items[victim+1:]...)
			m.items = append(m.items, item)
		} else {
			dropped = item
		}
	} else {
		m.items = append(m.items, item)
	}
	queued := len(m.items)
	m.mu.Unlock()
	if drop && m.cfg.Dropped != nil {
		m.cfg.Dropped(dropped, queued)
	}
	// Coalesced: one pending wake-up stands for any number of puts.
	select {
	case m.ready <- struct{}{}:
	default:
	}
}

// Ready has a value after a Put, for the reader to select on. One value
// may stand for many puts: the reader takes everything queued, then waits
// again. A nil mailbox's never has one.
func (m *Mailbox[T]) Ready() <-chan struct{} {
	if m == nil {
		return nil
	}
	return m.ready
}

// Take removes and returns the oldest item, if any.
func (m *Mailbox[T]) Take() (T, bool) {
	var zero T
	if m == nil {
		return zero, false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.items) == 0 {
		return zero, false
	}
	item := m.items[0]
	m.items[0] = zero // let it be collected
	m.items = m.items[1:]
	return item, true
}

// Snapshot returns a copy of what is queued, oldest first, leaving it in
// place.
func (m *Mailbox[T]) Snapshot() []T {
	if m == nil {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]T(nil), m.items...)
}

// TakeAll removes and returns everything queued, oldest first.
func (m *Mailbox[T]) TakeAll() []T {
	if m == nil {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	items := m.items
	m.items = nil
	return items
}
