package actors

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/dupunkto/mesh/actors/domain"
)

// silence gives every live node the silence, as the relays spread it, and
// wakes them.
func (c *simCluster) silence(s domain.Silence) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, n := range c.nodes {
		if n.alive {
			n.silences, _ = domain.MergeSilences(n.silences, []domain.Silence{s}, time.Now())
			c.publish(n)
		}
	}
}

// A silence of a peer for a while: the node that took it tells the chat
// who silenced what and why, once; nothing is said of the peer's outage
// while it lasts, though every node sees it down; when the silence ends
// with the peer still down, one down message says so, and the outage goes
// on as any other.
func TestASilencedPeersOutageIsToldOnlyWhenTheSilenceEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newSimCluster(t, "a", "b", "c", "d", "e")
		time.Sleep(simFresh)
		now := time.Now()
		c.silence(domain.Silence{ID: "s1", Matcher: "e", Start: now, End: now.Add(time.Hour), By: "alice", Comment: "kernel upgrade", Node: "c", Updated: now})
		time.Sleep(simRound)
		if got := c.messages(); len(got) != 1 || !strings.HasPrefix(got[0], "c: 🔧 `e` silenced until ") || !strings.HasSuffix(got[0], " by alice: kernel upgrade") {
			t.Fatalf("sent %q, want one message from c saying who silenced e and why", got)
		}
		c.kill("e")
		c.everyoneSees("e", domain.StatusDown, 0)
		time.Sleep(30 * time.Minute)
		if n := len(c.messages()); n != 1 {
			t.Fatalf("sent %q while e was silenced, want nothing more", c.messages())
		}
		for _, node := range []string{"a", "b", "c", "d"} {
			if n := testutil.ToFloat64(c.nodes[node].metrics.suppressed.WithLabelValues(domain.MessageDown.String(), SuppressedSilence)); n != 1 {
				t.Errorf("%s counted %v down messages kept back for a silence, want 1", node, n)
			}
		}
		time.Sleep(30*time.Minute + 5*simSlot)
		got := c.marks("e")
		if strings.Join(got, " ") != "c: 🔧 a: 🔴" || !strings.Contains(c.messages()[1], "`e` is still unreachable after the silence ended, from 4 of 5 nodes") {
			t.Fatalf("the chat read %q, want one down message when the silence ended", c.messages())
		}
		c.everyoneSees("e", domain.StatusUp, 0)
		time.Sleep(5 * simSlot)
		if got := c.marks("e"); strings.Join(got, " ") != "c: 🔧 a: 🔴 a: 🟢" {
			t.Fatalf("the chat read %q, want one recovery", got)
		}
	})
}

// An outage told of before a silence began goes on quietly while it lasts
// (no reminder), and if it ends meanwhile, ends without a recovery.
func TestAnOutageSilencedAfterItWasToldEndsQuietly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newSimCluster(t, "a", "b", "c", "d", "e")
		time.Sleep(simFresh)
		c.kill("e")
		c.everyoneSees("e", domain.StatusDown, 0)
		time.Sleep(5 * simSlot)
		now := time.Now()
		c.silence(domain.Silence{ID: "s1", Matcher: "?", Start: now, End: now.Add(time.Hour), Node: "b", Updated: now})
		time.Sleep(20 * time.Minute)
		c.everyoneSees("e", domain.StatusUp, 0)
		time.Sleep(5 * simSlot)
		if got := c.marks("e"); strings.Join(got, " ") != "a: 🔴" {
			t.Fatalf("the chat read %q, want only the down message from before the silence", got)
		}
	})
}

// The owner keeps at most domain.MaxSilences: one more is refused, and
// nothing changes.
func TestTheOwnerRefusesSilencesBeyondItsBound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) { // each answer waits for its snapshot, published at most every publishGap
		o := newTestOwner("a")
		go o.Serve(t.Context())
		now := time.Now()
		for i := range domain.MaxSilences + 1 {
			s := domain.Silence{ID: fmt.Sprintf("s%05d", i), Matcher: "a", Start: now, End: now.Add(time.Hour), Node: "me", Updated: now}
			_, err := o.AddSilence(t.Context(), s)
			switch {
			case i < domain.MaxSilences && err != nil:
				t.Fatalf("silence %d refused: %v", i, err)
			case i == domain.MaxSilences && !errors.Is(err, domain.ErrTooManySilences):
				t.Fatalf("silence %d: %v, want ErrTooManySilences", i, err)
			}
		}
		if n := len(o.Snapshot().Silences()); n != domain.MaxSilences {
			t.Fatalf("%d silences kept, want %d", n, domain.MaxSilences)
		}
	})
}
