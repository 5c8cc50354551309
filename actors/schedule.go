package actors

import (
	"math"
	"time"
)

// Schedule is the gaps between the still-down reminders of one outage,
// counted from its start; the last gap repeats. It must not be empty, and
// no gap may be zero or less (config.Load sees to both).
type Schedule []time.Duration

// never stands for a reminder too far ahead to compute: a chain that has
// got there sends no more.
const never = time.Duration(math.MaxInt64)

// due returns when reminder i (0-based) of an outage that began at since
// is due: since + gap 0 + ... + gap i, the last gap repeating. It is
// arithmetic, not a walk, so that a state file claiming 9e18 reminders
// costs no more than one claiming two.
func (gaps Schedule) due(since time.Time, i int) time.Time {
	var offset time.Duration
	for j := 0; j <= i && j < len(gaps); j++ {
		if gaps[j] > never-offset {
			return since.Add(never)
		}
		offset += gaps[j]
	}
	if repeats := i - (len(gaps) - 1); repeats > 0 {
		last := gaps[len(gaps)-1]
		if time.Duration(repeats) > (never-offset)/last {
			return since.Add(never)
		}
		offset += time.Duration(repeats) * last
	}
	return since.Add(offset)
}

// dueBy returns how many reminders of an outage that began at since are
// due at or before now: the inverse of due.
func (gaps Schedule) dueBy(since, now time.Time) int {
	elapsed := now.Sub(since)
	var offset time.Duration
	for j, g := range gaps {
		if g > never-offset {
			return j // the rest is beyond any time there is
		}
		offset += g
		if offset > elapsed {
			return j
		}
	}
	// Every gap has passed once; the last one repeats from here.
	return len(gaps) + int((elapsed-offset)/gaps[len(gaps)-1])
}
