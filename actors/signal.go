package actors

// Signal is a wake-up from one actor to another that may pile up: "a round
// is complete" from the state owner to the relay sender, "a status
// changed" to the state file writer. Notify never blocks, and wake-ups that
// come while one is pending coalesce into it, so the woken actor does its
// work once, with the newest state.
type Signal struct{ c chan struct{} }

// NewSignal returns a signal with no wake-up pending.
func NewSignal() *Signal { return &Signal{c: make(chan struct{}, 1)} }

// Notify wakes the receiver. On a nil signal (nobody listens) it does nothing.
func (s *Signal) Notify() {
	if s == nil {
		return
	}
	select {
	case s.c <- struct{}{}:
	default:
	}
}

// C is the channel the receiver selects on; on a nil signal, a channel
// that never delivers.
func (s *Signal) C() <-chan struct{} {
	if s == nil {
		return nil
	}
	return s.c
}
