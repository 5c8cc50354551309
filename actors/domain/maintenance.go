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
	// MaintenanceSilence: an operator silenced it (mesh silence add).
	MaintenanceSilence MaintenanceReason = "silence"
	// MaintenanceWindow: it is inside one of its maintenance windows
	// (a node's MAINTENANCE, a target's maintenance= option).
	MaintenanceWindow MaintenanceReason = "window"
)

// Maintenance is a spell in which a subject's trouble is not told of: no
// chat message, no Alertmanager alert. Still down when it ends, the
// subject is told of then.
type Maintenance struct {
	Reason MaintenanceReason
	// From and Until bound the spell, by this node's clock.
	From, Until time.Time
	// Of a silence: its ID, who made it and why.
	ID, By, Comment string
}

// Leave is a peer's word, in its last relay, that it was stopping on
// purpose: when it came (At), and when the peer relayed again (Back, zero
// while it has not). A peer back is held until this node's own probes see
// it up again, and the others' relays are fresh from after it came back
// (see Owner.forgetLeaves), or the grace is over.
type Leave struct {
	At, Back time.Time
}

// Maintenance returns the spell of maintenance the subject is in at now,
// if any.
func (s *Snapshot) Maintenance(name string, now time.Time) (Maintenance, bool) {
	if l, ok := s.leaves[name]; ok && s.leaveGrace > 0 && now.Before(l.At.Add(s.leaveGrace)) {
		return Maintenance{Reason: MaintenanceLeave, From: l.At, Until: l.At.Add(s.leaveGrace)}, true
	}
	// Of several silences and windows, the one that lasts longest says
	// until when.
	var m Maintenance
	for _, si := range s.silences {
		if si.Active(now) && si.Matches(name) && si.End.After(m.Until) {
			m = Maintenance{Reason: MaintenanceSilence, From: si.Start, Until: si.End, ID: si.ID, By: si.By, Comment: si.Comment}
		}
	}
	for _, w := range s.windowsOf(name) {
		if from, until, ok := w.At(now); ok && until.After(m.Until) {
			m = Maintenance{Reason: MaintenanceWindow, From: from, Until: until, Comment: w.Spec}
		}
	}
	return m, m.Reason != ""
}

// windowsOf are the maintenance windows of a subject: a target's as
// configured, a peer's as its latest relay said (fresh or not: a node
// down inside its window relays nothing).
func (s *Snapshot) windowsOf(name string) []Window {
	if w, ok := s.targetWindows[name]; ok {
		return w
	}
	if r, ok := s.relays[name]; ok {
		return r.Windows()
	}
	return nil
}

// MaxMaintenanceSpells bounds the spells of maintenance a node keeps of
// one subject, as HistoryMaxEntries bounds its transitions; they are kept
// as long (HistoryMaxAge).
const MaxMaintenanceSpells = 1000

// MaintenanceSpell is a stretch of time a subject spent in maintenance, as
// this node held it, and why. Its history keeps it: time in maintenance is
// left out of the uptime figures, as status pages leave planned work out,
// while what the subject did meanwhile (a transition) stays an
// observation.
type MaintenanceSpell struct {
	Span
	Reason MaintenanceReason
}

// WithMaintained returns a copy of s that carries each subject's spells of
// maintenance, oldest first, by name. It takes the map over.
func (s *Snapshot) WithMaintained(spells map[string][]MaintenanceSpell) *Snapshot {
	c := *s
	c.maintained = spells
	return &c
}

// Maintained returns the subject's spells of maintenance, oldest first,
// the last ongoing while it lasts. The caller must not change them.
func (s *Snapshot) Maintained(name string) []MaintenanceSpell {
	return s.maintained[name]
}
