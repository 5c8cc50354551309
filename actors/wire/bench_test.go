package wire

import (
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/dupunkto/mesh/actors/domain"
)

// Benchmarks; BENCHMARKS.md has the figures and the commands.

// clusterOf builds the view of a node with n peers, all up, and n relays
// that each hold a view of n peers: the largest /state a cluster of n+1
// nodes serves.
func clusterOf(n int) ([]*domain.Entry, map[string]*domain.RelayCopy, map[string]domain.PeerView) {
	now := time.Now()
	view := domain.PeerView{Status: domain.StatusUp, Since: now.Add(-time.Hour), LastSeen: now, RTT: 1234 * time.Microsecond, HasRTT: true}
	entries := make([]*domain.Entry, n)
	relays := make(map[string]*domain.RelayCopy, n)
	for i := range entries {
		entries[i] = domain.NewEntry(domain.Peer(fmt.Sprintf("node-%04d.mesh.example:4000", i)), view, domain.History{})
	}
	views := make(map[string]domain.PeerView, n) // every relay holds the same view
	for _, p := range entries {
		views[p.Name()] = view
	}
	for _, e := range entries {
		relays[e.Name()] = domain.NewRelayCopy(now, views)
	}
	return entries, relays, views
}

// BenchmarkStateJSON measures encoding /state for 10, 100 and 1000 peers
// with as many relays, each relay holding a view of as many peers.
// "one-change" is the steady state: one peer's entry changed since the last
// encoding, as after a probe. "cold" encodes every entry and relay afresh,
// as for a snapshot whose every part is new (not something a node does).
func BenchmarkStateJSON(b *testing.B) {
	for _, n := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("peers=%d/one-change", n), func(b *testing.B) {
			entries, relays, _ := clusterOf(n)
			var enc StateEncoder
			enc.Encode(domain.NewSnapshot("me", entries, relays)) // earlier snapshots' entries are encoded
			b.ReportAllocs()
			var size, i int
			for b.Loop() {
				// The next snapshot, as the owner publishes it after a probe.
				entries = slices.Clone(entries)
				old := entries[i%n]
				entries[i%n] = domain.NewEntry(domain.Peer(old.Name()), old.View(), old.History())
				i++
				size = len(enc.Encode(domain.NewSnapshot("me", entries, relays)))
			}
			b.ReportMetric(float64(size), "bytes")
		})
		b.Run(fmt.Sprintf("peers=%d/cold", n), func(b *testing.B) {
			entries, relays, views := clusterOf(n)
			b.ReportAllocs()
			for b.Loop() {
				fresh := make([]*domain.Entry, n)
				for i, e := range entries {
					fresh[i] = domain.NewEntry(domain.Peer(e.Name()), e.View(), e.History())
				}
				freshRelays := make(map[string]*domain.RelayCopy, n)
				for name, r := range relays {
					freshRelays[name] = domain.NewRelayCopy(r.ReceivedAt(), views)
				}
				_ = new(StateEncoder).Encode(domain.NewSnapshot("me", fresh, freshRelays))
			}
		})
	}
}

// BenchmarkRelayDecode measures reading a whole relay of 100 peers, as a
// node of a 100-node cluster reads twenty a second: in one pass (what
// DecodeRelay does with a well-formed relay), and field by field (what it
// falls back to, and what it did for every relay before).
func BenchmarkRelayDecode(b *testing.B) {
	entries, _, _ := clusterOf(100)
	body := EncodeRelay(domain.NewSnapshot("node-9999.mesh.example:4000", entries, nil), domain.Said{})
	for _, c := range []struct {
		name   string
		decode func([]byte) (Relay, error)
	}{
		{"one-pass", DecodeRelay},
		{"by-field", decodeRelayByField},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if _, err := c.decode(body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRelayMAC measures what the MAC adds to a relay at 50 nodes:
// making it (the sender, once a post) and checking it (the receiver, as it
// reads the body), beside decoding the same body, which every relay costs
// anyway; for a whole relay of 49 peers and for a quiet delta.
func BenchmarkRelayMAC(b *testing.B) {
	entries, _, _ := clusterOf(49)
	snap := domain.NewSnapshot("node-9999.mesh.example:4000", entries, nil)
	whole := Stamped(EncodeRelay(snap, domain.Said{}), time.Now())
	delta := Stamped(EncodeRelayDelta(snap, domain.Said{}, nil), time.Now())
	key := MACKey("benchmark-secret")
	for _, body := range []struct {
		name string
		b    []byte
	}{{"whole-49-peers", whole}, {"quiet-delta", delta}} {
		b.Run("mac/"+body.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body.b)))
			for b.Loop() {
				mac, _ := MACOf(RelayMAC(key, body.b))
				sum := NewMAC(key)
				sum.Write(body.b)
				if len(sum.Sum(nil)) != len(mac) {
					b.Fatal("no MAC")
				}
			}
		})
		b.Run("decode/"+body.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body.b)))
			for b.Loop() {
				if _, err := DecodeRelay(body.b); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRelaySignature measures what a node's key adds to a relay at 50
// nodes: signing it (the sender, once a body) and verifying it (the
// receiver, the SHA-512 written as the body is read, then the check),
// for a whole relay of 49 peers and for a quiet delta; beside it,
// BenchmarkRelayMAC's decode is what every relay costs anyway.
func BenchmarkRelaySignature(b *testing.B) {
	entries, _, _ := clusterOf(49)
	snap := domain.NewSnapshot("node-9999.mesh.example:4000", entries, nil)
	whole := Stamped(EncodeRelay(snap, domain.Said{}), time.Now())
	delta := Stamped(EncodeRelayDelta(snap, domain.Said{}, nil), time.Now())
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	for _, body := range []struct {
		name string
		b    []byte
	}{{"whole-49-peers", whole}, {"quiet-delta", delta}} {
		sig := SignRelay(key, body.b)
		b.Run("sign/"+body.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body.b)))
			for b.Loop() {
				SignRelay(key, body.b)
			}
		})
		b.Run("verify/"+body.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body.b)))
			for b.Loop() {
				digest := NewSignatureHash()
				digest.Write(body.b)
				if !VerifyRelay(pub, digest.Sum(nil), sig) {
					b.Fatal("the signature does not verify")
				}
			}
		})
	}
}
