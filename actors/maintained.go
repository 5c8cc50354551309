package actors

import (
	"maps"
	"time"

	"github.com/dupunkto/mesh/actors/domain"
)

// recordMaintenance keeps each subject's spells of maintenance as s holds
// them at now: a spell begins when a subject is first seen in maintenance
// (as the owner publishes, so to within a round) and ends when it is
// seen out of it, or in it for another reason. It reports whether a spell
// began or ended; the owner's map is then a new one.
func (o *Owner) recordMaintenance(s *domain.Snapshot, now time.Time) bool {
	var next map[string][]domain.MaintenanceSpell
	for e := range s.Subjects() {
		name := e.Name()
		spells := o.maintained[name]
		m, in := s.Maintenance(name, now)
		n := len(spells)
		open := n > 0 && spells[n-1].Ongoing()
		if (in && open && spells[n-1].Reason == m.Reason) || (!in && !open) {
			continue
		}
		spells = pruneSpells(spells, domain.MaxMaintenanceSpells, now)
		if n = len(spells); open {
			spells[n-1].To = later(now, spells[n-1].From)
		}
		if in {
			// From when the state says, as far back as the last spell's
			// end: a silence heard of late began before this node knew.
			from := m.From
			if n > 0 {
				from = later(from, spells[n-1].To)
			}
			if from.After(now) {
				from = now
			}
			spells = append(spells, domain.MaintenanceSpell{Span: domain.Span{From: from}, Reason: m.Reason})
		}
		if next == nil {
			next = maps.Clone(o.maintained)
			if next == nil {
				next = map[string][]domain.MaintenanceSpell{}
			}
		}
		next[name] = spells
	}
	if next == nil {
		return false
	}
	o.maintained = next
	return true
}

// restoredSpells are the spells of maintenance a state file kept of a
// subject, as of boot: one that lasted when the node stopped ended then;
// if the subject is in maintenance still, a new spell begins as the owner
// first publishes.
func restoredSpells(saved []domain.MaintenanceSpell, boot time.Time) []domain.MaintenanceSpell {
	spells := pruneSpells(saved, domain.MaxMaintenanceSpells, boot)
	if n := len(spells); n > 0 && spells[n-1].Ongoing() {
		spells[n-1].To = later(boot, spells[n-1].From)
	}
	return spells
}
