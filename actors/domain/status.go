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
