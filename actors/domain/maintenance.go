package domain

import "time"

// MaintenanceReason is why a subject is in maintenance: why its trouble is
// not told of while it lasts.
type MaintenanceReason string

// The reasons a subject is in maintenance.
const (
	// MaintenanceLeave: a peer said, in its last relay, that it was
	// stopping on purpose (SIGTERM), and LEAVE_GRACE is not over.
	MaintenanceLeave MaintenanceReason = "leave"
)

// Maintenance is a spell in which a subject's trouble is not told of: no
// chat message, no Alertmanager alert. Still down when it ends, the
// subject is told of then.
type Maintenance struct {
	Reason MaintenanceReason
	// From and Until bound the spell, by this node's clock.
	From, Until time.Time
}

// Maintenance returns the spell of maintenance the subject is in at now,
// if any.
func (s *Snapshot) Maintenance(name string, now time.Time) (Maintenance, bool) {
	if left, ok := s.leaves[name]; ok && s.leaveGrace > 0 && now.Before(left.Add(s.leaveGrace)) {
		return Maintenance{Reason: MaintenanceLeave, From: left, Until: left.Add(s.leaveGrace)}, true
	}
	return Maintenance{}, false
}
