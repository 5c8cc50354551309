package mailbox

import (
	"slices"
	"sync"
	"testing"
)

// dropRecorder records what a mailbox dropped, and how many were queued then.
type dropRecorder struct {
	mu      sync.Mutex
	dropped []string
	queued  []int
}

func (r *dropRecorder) drop(item string, queued int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.dropped = append(r.dropped, item)
	r.queued = append(r.queued, queued)
}

// keepUpper is a policy that drops the oldest queued lower-case item for an
// upper-case one, as the webhook's drops a reminder for a down message.
func keepUpper(queued []string, incoming string) int {
	if incoming == lower(incoming) {
		return -1
	}
	return slices.IndexFunc(queued, func(q string) bool { return q == lower(q) })
}

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

func TestMailbox(t *testing.T) {
	cases := []struct {
		name        string
		policy      Policy[string]
		puts        []string
		wantQueued  []string
		wantDropped []string
	}{
		{"below its size it keeps everything in order", nil, []string{"a", "b"}, []string{"a", "b"}, nil},
		{"full, it drops what comes by default", nil, []string{"a", "b", "c", "d"}, []string{"a", "b", "c"}, []string{"d"}},
		{"full, a policy may drop a queued item for the new one", keepUpper, []string{"A", "b", "c", "D"}, []string{"A", "c", "D"}, []string{"b"}},
		{"full, a policy may still drop the new one", keepUpper, []string{"A", "b", "c", "d"}, []string{"A", "b", "c"}, []string{"d"}},
		{"full of what the policy keeps, it drops the new one", keepUpper, []string{"A", "B", "C", "D"}, []string{"A", "B", "C"}, []string{"D"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := &dropRecorder{}
			m := New(Config[string]{Size: 3, Policy: tc.policy, Dropped: rec.drop})
			for _, p := range tc.puts {
				m.Put(p)
			}
			if got := m.TakeAll(); !slices.Equal(got, tc.wantQueued) {
				t.Fatalf("queued %v, want %v", got, tc.wantQueued)
			}
			if !slices.Equal(rec.dropped, tc.wantDropped) {
				t.Fatalf("dropped %v, want %v", rec.dropped, tc.wantDropped)
			}
			for _, q := range rec.queued {
				if q != 3 {
					t.Fatalf("a drop reported %d queued, want the mailbox full at 3", q)
				}
			}
		})
	}
}

func TestTakeReturnsOldestFirstAndEmptyAfterwards(t *testing.T) {
	m := New(Config[int]{Size: 4})
	for i := range 3 {
		m.Put(i)
	}
	for want := range 3 {
		if got, ok := m.Take(); !ok || got != want {
			t.Fatalf("Take = %d, %v; want %d", got, ok, want)
		}
	}
	if _, ok := m.Take(); ok {
		t.Fatal("Take from an empty mailbox returned an item")
	}
	if got := m.TakeAll(); len(got) != 0 {
		t.Fatalf("TakeAll from an empty mailbox = %v", got)
	}
}

// Puts never block, whatever the reader does: a thousand puts into a
// mailbox of one that nobody reads all return, and wake-ups coalesce into
// one.
func TestPutNeverBlocksAndWakeUpsCoalesce(t *testing.T) {
	m := New(Config[int]{Size: 1})
	var wg sync.WaitGroup
	for i := range 1000 {
		wg.Go(func() { m.Put(i) })
	}
	wg.Wait()
	if n := len(m.Ready()); n != 1 {
		t.Fatalf("%d wake-ups pending, want one for many puts", n)
	}
	<-m.Ready()
	if got := m.TakeAll(); len(got) != 1 {
		t.Fatalf("queued %v, want one item", got)
	}
}

// A nil mailbox is a feature that is off: what is put in is gone, nothing
// comes out, its reader is never woken, and nothing panics.
func TestANilMailboxTakesNothing(t *testing.T) {
	var m *Mailbox[int]
	m.Put(1)
	if _, ok := m.Take(); ok || m.TakeAll() != nil || m.Snapshot() != nil || m.Ready() != nil {
		t.Fatal("a nil mailbox gave something back, or a channel that could wake its reader")
	}
}

func TestASizeBelowOneIsRefused(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("New made a mailbox that could hold nothing")
		}
	}()
	New(Config[int]{Size: 0})
}
