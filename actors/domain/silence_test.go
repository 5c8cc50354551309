package domain

import (
	"fmt"
	"testing"
	"time"
)

func TestASilenceMatchesANameOrAGlob(t *testing.T) {
	for _, c := range []struct {
		matcher, name string
		want          bool
	}{
		{"web-1.example", "web-1.example", true},
		{"web-*.example", "web-2.example", true},
		{"web-?.example", "web-12.example", false},
		{"https://shop.example/health", "https://shop.example/health", true},
		{"https://shop.example/*", "https://shop.example/health", true},
		{"db.example", "web-1.example", false},
		{"*", "https://shop.example/a/b", true},
		{"https://*.example/*", "https://shop.example/a/b", true},
		{"https://shop.example/?", "https://shop.example/ab", false},
	} {
		if got := (Silence{Matcher: c.matcher}).Matches(c.name); got != c.want {
			t.Errorf("%q matches %q: %v, want %v", c.matcher, c.name, got, c.want)
		}
	}
}

func TestOnlySilencesANodeMakesAreTaken(t *testing.T) {
	ok := Silence{ID: "a1", Matcher: "web-*", Start: t0, End: t0.Add(time.Hour), Node: "n", Updated: t0}
	if err := ok.Check(); err != nil {
		t.Fatal(err)
	}
	for what, s := range map[string]Silence{
		"no id":         {Matcher: "x", Start: t0, End: t0.Add(time.Hour), Node: "n"},
		"a bad glob":    {ID: "a", Matcher: "x[", Start: t0, End: t0.Add(time.Hour), Node: "n"},
		"ends first":    {ID: "a", Matcher: "x", Start: t0, End: t0, Node: "n"},
		"a year":        {ID: "a", Matcher: "x", Start: t0, End: t0.Add(365 * 24 * time.Hour), Node: "n"},
		"no node":       {ID: "a", Matcher: "x", Start: t0, End: t0.Add(time.Hour)},
		"a long matter": {ID: "a", Matcher: "x", Start: t0, End: t0.Add(time.Hour), Node: "n", Comment: string(make([]byte, 501))},
	} {
		if s.Check() == nil {
			t.Errorf("%s: taken", what)
		}
	}
}

// Copies of silences meet in the relays: a new one is taken, a later copy
// of one held (expired early) wins over an earlier, one ended for longer
// than SilencesKept is let go, and at most MaxSilences are kept, the first
// to end going first.
func TestSilencesMergeByTheirLatestCopy(t *testing.T) {
	s := Silence{ID: "a1", Matcher: "x", Start: t0, End: t0.Add(time.Hour), Node: "n", Updated: t0}
	held, changed := MergeSilences(nil, []Silence{s}, t0)
	if !changed || len(held) != 1 {
		t.Fatalf("merged %v %v, want the new silence", held, changed)
	}
	expired := s
	expired.End, expired.Updated = t0.Add(time.Minute), t0.Add(time.Minute)
	if got, changed := MergeSilences(held, []Silence{expired}, t0); !changed || !got[0].End.Equal(expired.End) {
		t.Fatalf("merged %v, want the later copy", got)
	}
	if got, changed := MergeSilences([]Silence{expired}, []Silence{s}, t0); changed || !got[0].End.Equal(expired.End) {
		t.Fatalf("merged %v, want the later copy kept", got)
	}
	if got, _ := MergeSilences([]Silence{expired}, nil, expired.End.Add(SilencesKept+time.Second)); len(got) != 0 {
		t.Fatalf("kept %v, ended longer ago than SilencesKept", got)
	}
	var many []Silence
	for i := range MaxSilences + 5 {
		many = append(many, Silence{ID: fmt.Sprintf("s%04d", i), Matcher: "x", Start: t0, End: t0.Add(time.Duration(i+1) * time.Minute), Node: "n", Updated: t0})
	}
	got, _ := MergeSilences(nil, many, t0)
	if len(got) != MaxSilences || got[0].ID != "s0005" {
		t.Fatalf("kept %d from %s, want %d from s0005", len(got), got[0].ID, MaxSilences)
	}
}
