package domain

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"maps"
)

// A node that keeps a key of its own signs its relays with it (see wire's
// SignRelay). The keys here are Ed25519 public keys as the wire, /state,
// the state file and PEER_KEYS write them (EncodeKey), compared as
// strings.
//
// The owner pins the first key it takes a relay signed with for each peer
// (trust on first use) and keeps the pins in the state file; the /relay
// handler refuses a relay in a peer's name signed with another key, or not
// signed at all, once a key is pinned for it.

// SignedWith returns a copy of r signed with key ("" for a relay not
// signed, from a seed node or a node without a key of its own).
func (r *RelayCopy) SignedWith(key string) *RelayCopy {
	c := *r
	c.key = key
	return &c
}

// Key is the key that signed the relay; "" if it was not signed.
func (r *RelayCopy) Key() string { return r.key }

// WithKeys returns a copy of s that carries the peers' pinned keys, by
// name. It takes the map over.
func (s *Snapshot) WithKeys(keys map[string]string) *Snapshot {
	c := *s
	c.keys = keys
	return &c
}

// PinnedKey returns the key pinned for a peer, if any.
func (s *Snapshot) PinnedKey(peer string) (string, bool) {
	k, ok := s.keys[peer]
	return k, ok
}

// Keys returns the pinned keys, by peer: a copy.
func (s *Snapshot) Keys() map[string]string { return maps.Clone(s.keys) }

// EncodeKey writes a public key as the wire, /state, the state file and
// PEER_KEYS give it: base64url, 43 characters.
func EncodeKey(pub ed25519.PublicKey) string { return base64.RawURLEncoding.EncodeToString(pub) }

// DecodeKey reads a public key written by EncodeKey.
func DecodeKey(s string) (ed25519.PublicKey, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) != ed25519.PublicKeySize {
		return nil, errors.New("not an Ed25519 public key (43 characters of base64url)")
	}
	return ed25519.PublicKey(b), nil
}
