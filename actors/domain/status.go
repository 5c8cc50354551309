package domain

// Status is what a node believes of a peer.
type Status string

// The three statuses of the wire contract.
const (
	StatusUnknown Status = "unknown"
	StatusUp      Status = "up"
	StatusDown    Status = "down"
)

// Valid reports whether s is one of the three statuses.
func (s Status) Valid() bool {
	return s == StatusUnknown || s == StatusUp || s == StatusDown
}

// MaxFailures bounds a count of failed probes in a row that a node takes
// from a relay or a state file: at the shortest interval (100 ms) it is
// years of failures, and it is exact in JavaScript, which the page reads
// it with. A count past it is no node's.
const MaxFailures = 1 << 31
