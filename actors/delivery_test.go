package actors

import (
	"testing"
	"time"
)

// The pacer keeps posts a gap apart, and a 429's pause holds the queue as
// long as asked, up to MaxRetryAfter.
func TestThePacerKeepsPostsApartAndHoldsForAPause(t *testing.T) {
	p := pacer{gap: time.Second}
	if w := p.wait(t0); w > 0 {
		t.Fatalf("the first post waits %v", w)
	}
	p.posted(t0)
	if w := p.wait(t0.Add(300 * time.Millisecond)); w != 700*time.Millisecond {
		t.Fatalf("a post right after waits %v, want the rest of the gap", w)
	}
	if d := p.pause(30*time.Second, t0); d != 30*time.Second || p.wait(t0) != 30*time.Second {
		t.Fatalf("a 429 asking 30 s paused %v", d)
	}
	if d := p.pause(24*time.Hour, t0); d != MaxRetryAfter {
		t.Fatalf("a 429 asking a day paused %v, want %v", d, MaxRetryAfter)
	}
}

// The backoff doubles up to its cap and gives up once the time failing
// passes the limit: attempts and waits count, nothing else.
func TestTheBackoffDoublesAndGivesUp(t *testing.T) {
	b := backoff{next: time.Second, max: 4 * time.Second, giveUpAfter: 10 * time.Second}
	var waits []time.Duration
	for {
		w, giveUp := b.failed(100 * time.Millisecond)
		if giveUp {
			break
		}
		waits = append(waits, w)
	}
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second}
	if len(waits) != len(want) {
		t.Fatalf("waits %v, want %v then giving up", waits, want)
	}
	for i := range want {
		if waits[i] != want[i] {
			t.Fatalf("waits %v, want %v then giving up", waits, want)
		}
	}
}
