package domain

import "time"

// MaxWindows bounds the maintenance windows of one node or target.
const MaxWindows = 10

// Window is a recurring maintenance window (MAINTENANCE, or a target's
// maintenance= option): it begins at each instant its schedule names (a
// cron expression in a time zone) and lasts For. A subject down inside
// one is not told of; still down when it ends, it is told of then.
type Window struct {
	// Spec is the window as configured, "0 3 * * 0 2h Europe/Amsterdam":
	// what travels in the relays, and what an error names.
	Spec string
	For  time.Duration
	// next is the schedule: the first beginning strictly after a time.
	next func(time.Time) time.Time
}

// NewWindow is the window spec names: beginning at each instant next
// yields, lasting d.
func NewWindow(spec string, d time.Duration, next func(time.Time) time.Time) Window {
	return Window{Spec: spec, For: d, next: next}
}

// At returns the spell of the window that holds at now, if one does: the
// last beginning no more than For before now.
func (w Window) At(now time.Time) (from, until time.Time, ok bool) {
	if w.next == nil || w.For <= 0 {
		return time.Time{}, time.Time{}, false
	}
	start := w.next(now.Add(-w.For))
	if start.IsZero() || start.After(now) {
		return time.Time{}, time.Time{}, false
	}
	return start, start.Add(w.For), true
}
