package actors

import (
	"bytes"
	"maps"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rs/zerolog"

	"github.com/dupunkto/mesh/actors/domain"
	"github.com/dupunkto/mesh/actors/statefile"
)

// The owner pins the first key a peer's relays are signed with, keeps
// relays signed with it and, once it is pinned, ignores one signed with
// another key or none (which the /relay handler let through before the
// pin); the pins go to the state file, come back from it at the next
// start, and PEER_KEYS replaces a pin, saying so.
func TestTheOwnerPinsTheFirstKeyAndKeepsItAcrossARestart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var logs bytes.Buffer
		o := NewOwner(OwnerConfig{Node: "me", Subjects: peerSubjects("a", "b"), Threshold: 1, Boot: time.Now(),
			Cluster: domain.ClusterRule{Fresh: time.Minute}, Log: zerolog.New(&logs)})
		go o.Serve(t.Context())
		keyA, keyB, keyB2, forged := fakeKey(1), fakeKey(2), fakeKey(3), fakeKey(4)
		relay := func(from, key string) *domain.RelayCopy {
			time.Sleep(time.Second) // each newer than the last
			views := map[string]domain.PeerView{"me": {Status: domain.StatusUp, Since: time.Now(), LastSeen: time.Now()}}
			r := domain.NewRelayCopy(time.Now(), views).SignedWith(key)
			if err := o.StoreRelay(t.Context(), from, r); err != nil {
				t.Fatal(err)
			}
			settle()
			return r
		}
		held := func(from string, r *domain.RelayCopy) bool {
			got, ok := o.Snapshot().Relay(from)
			return ok && got.Newest().Equal(r.Newest())
		}
		if r := relay("a", ""); !held("a", r) || len(o.Snapshot().Keys()) != 0 {
			t.Fatalf("an unsigned relay, no key pinned: held %v, keys %v", held("a", r), o.Snapshot().Keys())
		}
		if r := relay("a", keyA); !held("a", r) {
			t.Fatal("a's first signed relay not held")
		}
		if r := relay("a", keyA); !held("a", r) {
			t.Fatal("a's relay signed with its pinned key not held")
		}
		for _, other := range []string{forged, ""} {
			if r := relay("a", other); held("a", r) {
				t.Fatalf("a relay in a's name signed with %q held, its key pinned", other)
			}
		}
		relay("b", keyB)
		want := map[string]string{"a": keyA, "b": keyB}
		if got := o.Snapshot().Keys(); !maps.Equal(got, want) {
			t.Fatalf("keys pinned %v, want %v", got, want)
		}
		if n := strings.Count(logs.String(), "pinned the peer's key"); n != 2 {
			t.Fatalf("%d lines saying a key was pinned, want one a peer: %s", n, logs.String())
		}

		// The next start, from the state file this one writes.
		data, err := statefile.Encode(statefile.Document{Node: "me", SavedAt: time.Now(), Keys: o.Snapshot().Keys()})
		if err != nil {
			t.Fatal(err)
		}
		d, err := statefile.Decode(data, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		logs.Reset()
		o2 := NewOwner(OwnerConfig{Node: "me", Subjects: peerSubjects("a", "b"), Threshold: 1, Boot: time.Now(),
			SavedKeys: d.Keys, PeerKeys: map[string]string{"b": keyB2}, Log: zerolog.New(&logs)})
		want = map[string]string{"a": keyA, "b": keyB2}
		if got := o2.Snapshot().Keys(); !maps.Equal(got, want) {
			t.Fatalf("keys after a restart with PEER_KEYS giving b another: %v, want %v", got, want)
		}
		if !strings.Contains(logs.String(), `"peer":"b"`) || !strings.Contains(logs.String(), `"was":"`+keyB+`"`) {
			t.Fatalf("PEER_KEYS replaced b's pin without a word: %s", logs.String())
		}
	})
}

// fakeKey is a public key as pins hold them, of bytes all b.
func fakeKey(b byte) string { return domain.EncodeKey(bytes.Repeat([]byte{b}, 32)) }
