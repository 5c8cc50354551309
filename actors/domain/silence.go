package domain

import (
	"cmp"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Silence is an operator's word that a peer or a target is being worked
// on: nothing is told of what it matches from Start until End (as
// Alertmanager's silences, `amtool silence add`). The node that took it
// spreads it to every node in its relays; each keeps it in its state file
// and honours it.
type Silence struct {
	// ID names it, on every node: made by the node that took it.
	ID string
	// Matcher is a subject's name, or a glob of them (path.Match's: *, ?
	// and [a-z], where * also spans the slashes of a target's URL).
	Matcher    string
	Start, End time.Time
	// By and Comment say who made it and why.
	By, Comment string
	// Node is the node that took it: the one that tells the chat it began.
	Node string
	// Updated is when it was made or last changed (expired early): of two
	// copies of one silence, the later one wins.
	Updated time.Time
}

// Why a node refused a silence operation: each is the request's fault,
// and the API answers it with a 4xx of its own.
var (
	ErrTooManySilences = errors.New("too many silences: expire some first")
	ErrSilenceExists   = errors.New("a silence of that id exists")
	ErrNoSuchSilence   = errors.New("no silence of that id")
	ErrSilenceEnded    = errors.New("the silence has ended already")
	ErrBadSilence      = errors.New("not a silence a node takes")
)

// Bounds on silences: how many a node keeps (active and ended), how long
// one may last, how long an ended one is kept and listed, and the length
// of what an operator writes in one.
const (
	MaxSilences       = 1000
	MaxSilenceLength  = 30 * 24 * time.Hour
	SilencesKept      = 5 * 24 * time.Hour // Alertmanager's default retention
	MaxSilenceMatcher = 256
	MaxSilenceBy      = 100
	MaxSilenceComment = 500
)

// Matches reports whether the silence is about the subject of that name.
// path.Match's * stops at a slash; a target's URL has them, and "*" or
// "https://shop.example/*" must match it whole, so both sides have their
// slashes swapped for a character no name holds.
func (s Silence) Matches(name string) bool {
	ok, err := path.Match(unslashed(s.Matcher), unslashed(name))
	return s.Matcher == name || ok && err == nil
}

// unslashed is s with its slashes as the unit separator, which no peer's
// or target's name holds (config refuses control characters).
func unslashed(s string) string { return strings.ReplaceAll(s, "/", "\x1f") }

// Active reports whether the silence holds at now.
func (s Silence) Active(now time.Time) bool { return !now.Before(s.Start) && now.Before(s.End) }

// Check says what is wrong with a silence, if anything: what no node
// makes, and what a relay or a state file must not bring in.
func (s Silence) Check() error {
	switch {
	case s.ID == "" || len(s.ID) > 64:
		return errors.New("id: must be 1 to 64 characters")
	case s.Matcher == "" || len(s.Matcher) > MaxSilenceMatcher || !utf8.ValidString(s.Matcher):
		return fmt.Errorf("matcher: must be a name or a glob of 1 to %d characters", MaxSilenceMatcher)
	case !validGlob(s.Matcher):
		return errors.New("matcher: not a valid glob")
	case s.Start.IsZero() || !s.End.After(s.Start):
		return errors.New("end: must be after start")
	case s.End.Sub(s.Start) > MaxSilenceLength:
		return fmt.Errorf("end: a silence lasts at most %s", MaxSilenceLength)
	case len(s.By) > MaxSilenceBy || !utf8.ValidString(s.By):
		return fmt.Errorf("by: at most %d characters", MaxSilenceBy)
	case len(s.Comment) > MaxSilenceComment || !utf8.ValidString(s.Comment):
		return fmt.Errorf("comment: at most %d characters", MaxSilenceComment)
	case s.Node == "" || len(s.Node) > 300:
		return errors.New("node: must name the node that took it")
	}
	return nil
}

// validGlob reports whether pattern is one path.Match takes.
func validGlob(pattern string) bool {
	_, err := path.Match(pattern, "")
	return err == nil
}

// MergeSilences returns held with incoming laid over it: a silence not
// held is taken, one held is replaced by a later copy (Updated), and those
// ended for longer than SilencesKept are let go, as are the oldest beyond
// MaxSilences. It reports whether anything changed. held is not changed;
// the result is sorted by ID.
func MergeSilences(held, incoming []Silence, now time.Time) ([]Silence, bool) {
	out := slices.Clone(held)
	changed := false
	for _, s := range incoming {
		if s.Check() != nil {
			continue
		}
		i, found := slices.BinarySearchFunc(out, s.ID, func(h Silence, id string) int { return cmp.Compare(h.ID, id) })
		switch {
		case !found:
			out = slices.Insert(out, i, s)
			changed = true
		case s.Updated.After(out[i].Updated):
			out[i] = s
			changed = true
		}
	}
	kept := slices.DeleteFunc(out, func(s Silence) bool { return now.Sub(s.End) > SilencesKept })
	if len(kept) != len(out) {
		changed = true
	}
	if len(kept) > MaxSilences {
		// The ones that ended first go first.
		byEnd := slices.SortedFunc(slices.Values(kept), func(a, b Silence) int { return a.End.Compare(b.End) })
		drop := map[string]bool{}
		for _, s := range byEnd[:len(kept)-MaxSilences] {
			drop[s.ID] = true
		}
		kept = slices.DeleteFunc(kept, func(s Silence) bool { return drop[s.ID] })
		changed = true
	}
	return kept, changed
}
