package domain

import (
	"iter"
	"slices"
	"time"
)

// MaxIsolations bounds the spells of isolation a node keeps, as
// HistoryMaxEntries bounds a subject's transitions; they are kept as long
// (HistoryMaxAge).
const MaxIsolations = 1000

// Span is a stretch of time: from From until To, which is zero while the
// span lasts.
type Span struct{ From, To time.Time }

// Ongoing reports whether the span lasts still.
func (s Span) Ongoing() bool { return s.To.IsZero() }

// EndedBefore reports whether the span ended before t.
func (s Span) EndedBefore(t time.Time) bool { return !s.Ongoing() && s.To.Before(t) }

// end is when the span ends as of now.
func (s Span) end(now time.Time) time.Time {
	if s.Ongoing() {
		return now
	}
	return s.To
}

// Isolations are a node's spells of isolation, oldest first: while it had
// lost its own network (see LooksIsolated), what it saw of its peers and
// targets was no observation, and neither its history's figures nor the
// page count it. Read-only, as History.
type Isolations struct{ spans []Span }

// NewIsolations returns the read-only spells of spans, oldest first, none
// overlapping, only the last ongoing. The caller must never change
// spans[:len(spans)] afterwards.
func NewIsolations(spans []Span) Isolations {
	return Isolations{spans: spans[:len(spans):len(spans)]}
}

// Len is the number of spells.
func (is Isolations) Len() int { return len(is.spans) }

// All yields the spells, oldest first.
func (is Isolations) All() iter.Seq[Span] { return slices.Values(is.spans) }

// outside returns how much of [from, to) lies outside every spell, as of
// now (an ongoing spell lasts until now).
func (is Isolations) outside(from, to, now time.Time) time.Duration {
	d := to.Sub(from)
	// The first spell that may overlap: the spells are in order and apart,
	// so their ends are in order too.
	i, _ := slices.BinarySearchFunc(is.spans, from, func(s Span, t time.Time) int { return s.end(now).Compare(t) })
	for _, s := range is.spans[i:] {
		if !s.From.Before(to) {
			break
		}
		if overlap := earlier(s.end(now), to).Sub(later(s.From, from)); overlap > 0 {
			d -= overlap
		}
	}
	return d
}

// holds reports whether t falls in a spell, as of now.
func (is Isolations) holds(t, now time.Time) bool {
	i, _ := slices.BinarySearchFunc(is.spans, t, func(s Span, t time.Time) int { return s.end(now).Compare(t) })
	if i < len(is.spans) && is.spans[i].end(now).Equal(t) {
		i++ // a spell that ends at t holds it no longer
	}
	return i < len(is.spans) && !t.Before(is.spans[i].From)
}

// with returns the spells together with the spells of maintenance, as one
// read-only list in order, overlapping ones joined: the time either
// leaves out of the uptime figures.
func (is Isolations) with(maintained []MaintenanceSpell, now time.Time) Isolations {
	if len(maintained) == 0 {
		return is
	}
	all := slices.Clone(is.spans)
	for _, m := range maintained {
		all = append(all, m.Span)
	}
	slices.SortFunc(all, func(a, b Span) int { return a.From.Compare(b.From) })
	joined := all[:1]
	for _, s := range all[1:] {
		last := &joined[len(joined)-1]
		if last.Ongoing() || !s.From.After(last.To) {
			if !last.Ongoing() && (s.Ongoing() || s.To.After(last.To)) {
				last.To = s.To
			}
			continue
		}
		joined = append(joined, s)
	}
	return NewIsolations(joined)
}

func earlier(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
